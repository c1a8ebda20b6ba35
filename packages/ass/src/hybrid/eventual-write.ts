import { decodeMsgpack, encodeMsgpack, MAX_STATE_VALUE_BYTES, NovacronError } from '@novacron/core';
import { AssErrorCode } from '../errors.js';
import { isStamp, type Stamp } from './hlc.js';

/**
 * A write accepted while the log was out of reach: what the hybrid
 * journal stores and, as the CRDT overlay's value, what peers see until
 * the log decides it.
 */
export interface EventualWrite {
  /** The node that made it (whose replay carries it into the log). */
  readonly origin: string;
  /** The origin's write sequence number. */
  readonly seq: number;
  /** Namespace. */
  readonly ns: string;
  /** Key. */
  readonly key: string;
  /** The value, or `null` for a delete. */
  readonly value: Uint8Array | null;
  /** Hybrid logical clock stamp. */
  readonly stamp: Stamp;
  /** The key's log version the writer had seen (0: none). */
  readonly base: number;
}

/** Encodes an eventual write (MessagePack map, `v` = 1; docs/protocol/ass.md). */
export function encodeEventualWrite(w: EventualWrite): Uint8Array {
  return encodeMsgpack({ v: 1, o: w.origin, s: w.seq, n: w.ns, k: w.key, x: w.value, h: w.stamp, b: w.base });
}

/** Decodes an eventual write; throws `ASS_RECORD_CORRUPT`. */
export function decodeEventualWrite(bytes: Uint8Array): EventualWrite {
  let m: Record<string, unknown>;
  try {
    m = decodeMsgpack(bytes) as Record<string, unknown>;
  } catch (err) {
    throw new NovacronError(AssErrorCode.RECORD_CORRUPT, 'eventual write does not decode', { cause: err });
  }
  const ok =
    typeof m === 'object' &&
    m !== null &&
    m.v === 1 &&
    typeof m.o === 'string' &&
    Number.isSafeInteger(m.s) &&
    (m.s as number) > 0 &&
    typeof m.n === 'string' &&
    typeof m.k === 'string' &&
    (m.x === null || (m.x instanceof Uint8Array && m.x.length <= MAX_STATE_VALUE_BYTES)) &&
    isStamp(m.h) &&
    Number.isSafeInteger(m.b) &&
    (m.b as number) >= 0;
  if (!ok) throw new NovacronError(AssErrorCode.RECORD_CORRUPT, 'eventual write malformed');
  return {
    origin: m.o as string,
    seq: m.s as number,
    ns: m.n as string,
    key: m.k as string,
    value: m.x as Uint8Array | null,
    stamp: m.h as Stamp,
    base: m.b as number,
  };
}
