import {
  decodeMsgpack,
  encodeMsgpack,
  MAX_NAMESPACE_LENGTH,
  MAX_STATE_KEY_LENGTH,
  MAX_STATE_VALUE_BYTES,
  NovacronError,
} from '@novacron/core';
import { AssErrorCode } from '../errors.js';
import { isStamp, type Stamp } from '../hybrid/hlc.js';

/** Version of the command encoding (docs/protocol/ass.md). */
export const COMMAND_VERSION = 1;
/** Most writes one replay command carries. */
export const MAX_REPLAY_BATCH = 256;

/**
 * A write proposed straight to the log. `origin`/`seq` (hybrid writes)
 * identify it so a proposal that commits after its writer gave up on it
 * is recognised; `stamp` orders it against eventual writes.
 */
export interface StrongWriteCommand {
  /** Command type: a write. */
  readonly t: 'w';
  /** Namespace. */
  readonly ns: string;
  /** Key. */
  readonly key: string;
  /** The new value, or `null` to delete. */
  readonly value: Uint8Array | null;
  /** Writing node (hybrid writes); goes with `seq`. */
  readonly origin?: string;
  /** The origin's write sequence number. */
  readonly seq?: number;
  /** Hybrid logical clock stamp. */
  readonly stamp?: Stamp;
}

/** One eventual write being replayed into the log. */
export interface ReplayedWrite {
  /** The origin's write sequence number (increasing per origin). */
  readonly seq: number;
  /** Namespace. */
  readonly ns: string;
  /** Key. */
  readonly key: string;
  /** The value, or `null` for a delete. */
  readonly value: Uint8Array | null;
  /** Hybrid logical clock stamp given when the write was made. */
  readonly stamp: Stamp;
  /** The key's log version (commit index, 0: never written) the writer had seen. */
  readonly base: number;
}

/** Eventual writes of one origin, replayed in the origin's order. */
export interface ReplayCommand {
  /** Command type: a replay. */
  readonly t: 'r';
  /** The node whose eventual writes these are. */
  readonly origin: string;
  /** 1..{@link MAX_REPLAY_BATCH} writes, sequence numbers increasing. */
  readonly writes: readonly ReplayedWrite[];
}

/** A command of the state-sync state machine. */
export type SyncCommand = StrongWriteCommand | ReplayCommand;

/** What became of a write in the log. */
export type WriteOutcome = 'applied' | 'superseded' | 'duplicate';

/** Encodes a command (MessagePack map, `v` = {@link COMMAND_VERSION}). */
export function encodeSyncCommand(c: SyncCommand): Uint8Array {
  if (c.t === 'w') {
    const m: Record<string, unknown> = { v: COMMAND_VERSION, t: 'w', n: c.ns, k: c.key, x: c.value };
    if (c.origin !== undefined) m.o = c.origin;
    if (c.seq !== undefined) m.s = c.seq;
    if (c.stamp !== undefined) m.h = c.stamp;
    return encodeMsgpack(m);
  }
  return encodeMsgpack({
    v: COMMAND_VERSION,
    t: 'r',
    o: c.origin,
    w: c.writes.map((w) => ({ s: w.seq, n: w.ns, k: w.key, x: w.value, h: w.stamp, b: w.base })),
  });
}

function bad(message: string): NovacronError {
  return new NovacronError(AssErrorCode.COMMAND_INVALID, `state-sync command: ${message}`);
}

function str(v: unknown, max: number, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw bad(`${what} must be a string of 1..${max}`);
  return v;
}

function val(v: unknown): Uint8Array | null {
  if (v === null) return null;
  if (!(v instanceof Uint8Array) || v.length > MAX_STATE_VALUE_BYTES) throw bad('value must be bytes or nil');
  return v;
}

function seqOf(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw bad('seq must be a positive integer');
  return v as number;
}

/** Decodes and checks a command; throws `ASS_COMMAND_INVALID`. */
export function decodeSyncCommand(bytes: Uint8Array): SyncCommand {
  let m: unknown;
  try {
    m = decodeMsgpack(bytes);
  } catch (err) {
    throw new NovacronError(AssErrorCode.COMMAND_INVALID, 'state-sync command: not MessagePack', { cause: err });
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad('not a map');
  const o = m as Record<string, unknown>;
  if (o.v !== COMMAND_VERSION) throw bad(`unsupported version ${String(o.v)}`);
  if (o.t === 'w') {
    const c: { -readonly [K in keyof StrongWriteCommand]: StrongWriteCommand[K] } = {
      t: 'w',
      ns: str(o.n, MAX_NAMESPACE_LENGTH, 'namespace'),
      key: str(o.k, MAX_STATE_KEY_LENGTH, 'key'),
      value: val(o.x),
    };
    if (o.o !== undefined) c.origin = str(o.o, 1024, 'origin');
    if (o.s !== undefined) c.seq = seqOf(o.s);
    if ((c.origin === undefined) !== (c.seq === undefined)) throw bad('origin and seq go together');
    if (o.h !== undefined) {
      if (!isStamp(o.h)) throw bad('stamp malformed');
      c.stamp = o.h;
    }
    return c;
  }
  if (o.t === 'r') {
    const origin = str(o.o, 1024, 'origin');
    if (!Array.isArray(o.w) || o.w.length === 0 || o.w.length > MAX_REPLAY_BATCH) throw bad('writes malformed');
    let prev = 0;
    const writes = o.w.map((w: unknown): ReplayedWrite => {
      if (typeof w !== 'object' || w === null) throw bad('write malformed');
      const r = w as Record<string, unknown>;
      const seq = seqOf(r.s);
      if (seq <= prev) throw bad('replayed writes out of order');
      prev = seq;
      if (!isStamp(r.h)) throw bad('stamp malformed');
      if (!Number.isSafeInteger(r.b) || (r.b as number) < 0) throw bad('base malformed');
      return {
        seq,
        ns: str(r.n, MAX_NAMESPACE_LENGTH, 'namespace'),
        key: str(r.k, MAX_STATE_KEY_LENGTH, 'key'),
        value: val(r.x),
        stamp: r.h,
        base: r.b as number,
      };
    });
    return { t: 'r', origin, writes };
  }
  throw bad(`unknown type ${String(o.t)}`);
}

/** Encodes a command's result: one outcome per write. */
export function encodeOutcomes(outcomes: readonly WriteOutcome[]): Uint8Array {
  return encodeMsgpack(outcomes);
}

/** Decodes {@link encodeOutcomes}; throws `ASS_COMMAND_INVALID`. */
export function decodeOutcomes(bytes: Uint8Array): WriteOutcome[] {
  const v = decodeMsgpack(bytes);
  if (!Array.isArray(v) || !v.every((x) => x === 'applied' || x === 'superseded' || x === 'duplicate')) {
    throw bad('outcomes malformed');
  }
  return v as WriteOutcome[];
}
