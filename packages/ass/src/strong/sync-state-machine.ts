import { decodeMsgpack, encodeMsgpack, NovacronError, type ReplicatedStateMachine } from '@novacron/core';
import { AssErrorCode } from '../errors.js';
import { compareStamps, isStamp, type Stamp } from '../hybrid/hlc.js';
import {
  decodeSyncCommand,
  encodeOutcomes,
  type ReplayedWrite,
  type SyncCommand,
  type WriteOutcome,
} from './commands.js';

/** A key's record in the log's state: its value (or a tombstone) and where it came from. */
export interface KeyVersion {
  /** The value, or `null` for a deleted key (tombstones keep the version for the conflict rules). */
  readonly value: Uint8Array | null;
  /** Commit index of the write that set it: the key's version. */
  readonly index: number;
  /** Stamp of that write (`null` for plain strong writes without one). */
  readonly stamp: Stamp | null;
  /** True when the write was a replayed eventual write. */
  readonly replayed: boolean;
}

/** Applied change of one key, as the state machine reports it to listeners. */
export interface AppliedChange {
  /** Namespace. */
  readonly ns: string;
  /** Key. */
  readonly key: string;
  /** The new version, or `null` when the key no longer exists at all (only after `restore`). */
  readonly version: KeyVersion | null;
}

/** What became of one identified write (hybrid writes carry an origin and sequence number). */
export interface OutcomeEvent {
  /** The writing node. */
  readonly origin: string;
  /** The origin's write sequence number. */
  readonly seq: number;
  /** What the log decided. */
  readonly outcome: WriteOutcome;
  /** Log index of the command that carried the write. */
  readonly index: number;
}

/**
 * The deterministic state machine behind {@link StrongSync} and
 * {@link HybridSync}: namespaced maps of versioned values, plus, per write
 * origin, the highest write sequence number the log has decided.
 *
 * A plain write (`t: 'w'`) always applies (a hybrid one carrying an
 * origin and sequence number at or below the origin's decided mark is a
 * late duplicate and is ignored). A replayed eventual write applies when
 * the key's version is still the one its writer had seen (`base`), or the
 * key was last set by another replayed eventual write with an older stamp;
 * otherwise it is superseded. The rules are written down in
 * docs/protocol/ass.md.
 */
export class SyncStateMachine implements ReplicatedStateMachine {
  readonly #spaces = new Map<string, Map<string, KeyVersion>>();
  readonly #decided = new Map<string, number>();
  readonly #listeners = new Set<(change: AppliedChange) => void>();
  readonly #outcomeListeners = new Set<(event: OutcomeEvent) => void>();
  #applied = 0;

  /** Log index of the last command applied (0 before any). */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** The current version of `key` (tombstones included), or `undefined` when never written. */
  version(ns: string, key: string): KeyVersion | undefined {
    return this.#spaces.get(ns)?.get(key);
  }

  /** Live (non-deleted) keys of `ns` with their versions, in key order. */
  entries(ns: string): [string, KeyVersion][] {
    const space = this.#spaces.get(ns);
    if (!space) return [];
    return [...space].filter(([, v]) => v.value !== null).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  /** Namespaces holding at least one record. */
  namespaces(): string[] {
    return [...this.#spaces.keys()];
  }

  /** Highest write sequence number of `origin` the log has decided (0: none). */
  decided(origin: string): number {
    return this.#decided.get(origin) ?? 0;
  }

  /** Subscribes to applied changes (in log order); returns the unsubscribe function. */
  onChange(listener: (change: AppliedChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Subscribes to the outcomes of identified writes; returns the unsubscribe function. */
  onOutcome(listener: (event: OutcomeEvent) => void): () => void {
    this.#outcomeListeners.add(listener);
    return () => this.#outcomeListeners.delete(listener);
  }

  /** Applies a committed command (see the class comment); returns the encoded outcomes. */
  apply(command: Uint8Array, index: number): Uint8Array {
    this.#applied = index;
    let c: SyncCommand;
    try {
      c = decodeSyncCommand(command);
    } catch {
      // A committed command that does not decode changes nothing on any member.
      return encodeOutcomes([]);
    }
    if (c.t === 'w') {
      if (c.origin !== undefined && c.seq !== undefined) {
        if (c.seq <= this.decided(c.origin)) {
          this.#outcome(c.origin, c.seq, 'duplicate', index);
          return encodeOutcomes(['duplicate']);
        }
        this.#decided.set(c.origin, c.seq);
      }
      this.#set(c.ns, c.key, { value: c.value, index, stamp: c.stamp ?? null, replayed: false });
      if (c.origin !== undefined && c.seq !== undefined) this.#outcome(c.origin, c.seq, 'applied', index);
      return encodeOutcomes(['applied']);
    }
    const outcomes = c.writes.map((w) => this.#replay(c.origin, w, index));
    return encodeOutcomes(outcomes);
  }

  #replay(origin: string, w: ReplayedWrite, index: number): WriteOutcome {
    let outcome: WriteOutcome;
    if (w.seq <= this.decided(origin)) {
      outcome = 'duplicate';
    } else {
      this.#decided.set(origin, w.seq);
      const cur = this.version(w.ns, w.key);
      const curIndex = cur?.index ?? 0;
      const wins =
        curIndex === w.base || (cur?.replayed === true && cur.stamp !== null && compareStamps(cur.stamp, w.stamp) < 0);
      if (wins) {
        this.#set(w.ns, w.key, { value: w.value, index, stamp: w.stamp, replayed: true });
        outcome = 'applied';
      } else {
        outcome = 'superseded';
      }
    }
    this.#outcome(origin, w.seq, outcome, index);
    return outcome;
  }

  #set(ns: string, key: string, version: KeyVersion): void {
    let space = this.#spaces.get(ns);
    if (!space) {
      space = new Map();
      this.#spaces.set(ns, space);
    }
    space.set(key, version);
    for (const l of this.#listeners) l({ ns, key, version });
  }

  #outcome(origin: string, seq: number, outcome: WriteOutcome, index: number): void {
    for (const l of this.#outcomeListeners) l({ origin, seq, outcome, index });
  }

  /** The whole state, MessagePack-encoded. */
  snapshot(): Uint8Array {
    const spaces = [...this.#spaces].map(([ns, m]) => [
      ns,
      [...m].map(([k, v]) => [k, v.value, v.index, v.stamp, v.replayed]),
    ]);
    return encodeMsgpack({ v: 1, a: this.#applied, s: spaces, d: [...this.#decided] });
  }

  /** Replaces the state with a snapshot's (`ASS_RECORD_CORRUPT` when it does not decode) and reports changed keys. */
  restore(snapshot: Uint8Array): void {
    const next = new Map<string, Map<string, KeyVersion>>();
    const decided = new Map<string, number>();
    let applied = 0;
    try {
      const m = decodeMsgpack(snapshot) as {
        v: number;
        a: number;
        s: [string, [string, Uint8Array | null, number, Stamp | null, boolean][]][];
        d: [string, number][];
      };
      if (m.v !== 1 || !Array.isArray(m.s) || !Array.isArray(m.d) || !Number.isSafeInteger(m.a))
        throw new Error('shape');
      applied = m.a;
      for (const [ns, keys] of m.s) {
        const space = new Map<string, KeyVersion>();
        for (const [k, value, index, stamp, replayed] of keys) {
          if (typeof k !== 'string' || !Number.isSafeInteger(index) || (stamp !== null && !isStamp(stamp)))
            throw new Error('key');
          if (value !== null && !(value instanceof Uint8Array)) throw new Error('value');
          space.set(k, { value, index, stamp, replayed: replayed === true });
        }
        next.set(String(ns), space);
      }
      for (const [o, s] of m.d) decided.set(String(o), Number(s));
    } catch (err) {
      throw new NovacronError(AssErrorCode.RECORD_CORRUPT, 'state-sync snapshot does not decode', { cause: err });
    }
    const before = new Map(this.#spaces);
    this.#spaces.clear();
    for (const [ns, m] of next) this.#spaces.set(ns, m);
    this.#decided.clear();
    for (const [o, s] of decided) this.#decided.set(o, s);
    this.#applied = applied;
    // Tell listeners about every key whose version changed.
    for (const [ns, m] of next) {
      for (const [key, v] of m) {
        const b = before.get(ns)?.get(key);
        if (b === undefined || b.index !== v.index) for (const l of this.#listeners) l({ ns, key, version: v });
      }
    }
    for (const [ns, m] of before) {
      for (const key of m.keys()) {
        if (!next.get(ns)?.has(key)) for (const l of this.#listeners) l({ ns, key, version: null });
      }
    }
  }
}
