import type { Startable } from '../lifecycle.js';
import { assertBytes, invalidArgument } from '../validate.js';

/**
 * How far a value has been committed: `strong` once it is in the
 * cluster's consensus log (linearizable), `eventual` while it is only
 * durable locally and spreading through a CRDT (it may still be superseded
 * when replayed into the log).
 */
export type CommitLevel = 'strong' | 'eventual';

/** Which replication strategy a {@link StateSync} implements. */
export type StateSyncStrategy = 'strong' | 'crdt' | 'hybrid';

/** A value as a replica holds it. */
export interface StateEntry {
  /** The value's bytes (encoding is the caller's: MessagePack, JSON, ...). */
  readonly value: Uint8Array;
  /** Whether it is committed in the consensus log or only eventually. */
  readonly level: CommitLevel;
}

/** What a write returns once it is acknowledged (durable where its level says). */
export interface WriteResult {
  /** `strong`: committed in the log on a quorum; `eventual`: fsync'd locally and handed to the CRDT layer. */
  readonly level: CommitLevel;
}

/** Options of {@link StateSync.put} and {@link StateSync.delete}. */
export interface WriteOptions {
  /** Rejects with `CORE_ABORTED` (the write may still take effect). */
  readonly signal?: AbortSignal;
}

/** Options of {@link StateSync.get}. */
export interface ReadOptions {
  /**
   * `linearizable` (default for strategies that have a log) waits for the
   * log's read barrier; `local` returns the replica's current view at once.
   */
  readonly consistency?: 'linearizable' | 'local';
  /** Rejects with `CORE_ABORTED`. */
  readonly signal?: AbortSignal;
}

/**
 * One change of a key's visible value on a replica. Per namespace, `seq`
 * counts 1, 2, 3, ... without gaps in the order the replica applied the
 * changes, and listeners see events in that order.
 */
export interface StateChange {
  /** The namespace. */
  readonly namespace: string;
  /** The key. */
  readonly key: string;
  /** The new entry, or `null` when the key was deleted. */
  readonly entry: StateEntry | null;
  /** Position of this change among the namespace's changes on this replica (from 1). */
  readonly seq: number;
}

/** A divergence between this replica and a peer, as found by comparing digests. */
export interface DivergenceReport {
  /** The peer whose digests differ. */
  readonly peer: string;
  /** The namespace that differs. */
  readonly namespace: string;
  /** When (the replica's clock, ms) the difference was first seen. */
  readonly since: number;
}

/** A replica's view of its own health. */
export interface StateSyncStatus {
  /** The strategy this replica implements. */
  readonly strategy: StateSyncStrategy;
  /** The level new writes get right now (a hybrid replica cut off from the log says `eventual`). */
  readonly writeLevel: CommitLevel;
  /** Writes accepted but not yet committed strongly (hybrid: eventual writes awaiting replay). */
  readonly pendingWrites: number;
  /** Open divergences with peers (empty when every compared digest matched). */
  readonly divergence: readonly DivergenceReport[];
  /**
   * Milliseconds since the oldest change this replica knows of that some
   * peer had not yet confirmed (0 when all are confirmed; `null` when the
   * strategy cannot tell).
   */
  readonly convergenceLagMs: number | null;
}

/**
 * Replicated namespaced key-value maps: the contract ass's strategies
 * (strong over a consensus log, CRDT over a peer network, hybrid) implement
 * and the node's control plane consumes.
 *
 * - `put` / `delete` resolve once the write is acknowledged at the level
 *   they report; an acknowledged write survives a crash of this replica.
 * - `get` returns the value with its level, or `null` when absent.
 * - `watch` delivers this replica's visible changes of a namespace in
 *   order (see {@link StateChange}); local and remote changes alike.
 * - Bad arguments throw `CORE_INVALID_ARGUMENT` (see
 *   {@link assertStateKey}); calls before `start` or after `stop` reject
 *   with `CORE_INVALID_STATE`.
 *
 * The compliance suite is `@novacron/testkit/compliance/state-sync`.
 */
export interface StateSync extends Startable {
  /** Reads `key` of `namespace`. */
  get(namespace: string, key: string, options?: ReadOptions): Promise<StateEntry | null>;
  /** Writes `value` under `key` of `namespace`. */
  put(namespace: string, key: string, value: Uint8Array, options?: WriteOptions): Promise<WriteResult>;
  /** Deletes `key` of `namespace` (a no-op write when absent). */
  delete(namespace: string, key: string, options?: WriteOptions): Promise<WriteResult>;
  /** Every key of `namespace` with its entry, in key order, as this replica sees it now. */
  entries(namespace: string): ReadonlyMap<string, StateEntry>;
  /** Subscribes to `namespace`'s changes; returns the unsubscribe function. */
  watch(namespace: string, listener: (change: StateChange) => void): () => void;
  /** This replica's status. */
  status(): StateSyncStatus;
}

/** Longest namespace name, in UTF-16 code units. */
export const MAX_NAMESPACE_LENGTH = 256;
/** Longest key, in UTF-16 code units. */
export const MAX_STATE_KEY_LENGTH = 1024;
/** Largest value, in bytes. */
export const MAX_STATE_VALUE_BYTES = 1024 * 1024;

/** Checks a namespace name: 1..{@link MAX_NAMESPACE_LENGTH} characters; throws `CORE_INVALID_ARGUMENT`. */
export function assertNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > MAX_NAMESPACE_LENGTH) {
    throw invalidArgument('namespace', `a string of 1..${MAX_NAMESPACE_LENGTH} characters`, namespace);
  }
}

/** Checks a key: 1..{@link MAX_STATE_KEY_LENGTH} characters; throws `CORE_INVALID_ARGUMENT`. */
export function assertStateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_STATE_KEY_LENGTH) {
    throw invalidArgument('key', `a string of 1..${MAX_STATE_KEY_LENGTH} characters`, key);
  }
}

/** Checks a value: bytes of at most {@link MAX_STATE_VALUE_BYTES}; throws `CORE_INVALID_ARGUMENT`. */
export function assertStateValue(value: unknown): asserts value is Uint8Array {
  assertBytes('value', value);
  if (value.length > MAX_STATE_VALUE_BYTES) {
    throw invalidArgument('value', `at most ${MAX_STATE_VALUE_BYTES} bytes`, value.length);
  }
}
