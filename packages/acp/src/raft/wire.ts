import {
  assertBoolean,
  assertBytes,
  assertInteger,
  assertObject,
  defineMessage,
  type LogEntry,
  MAX_LOG_INDEX,
  MessageCodec,
} from '@novacron/core';
import type { RaftMessage, RaftMessageKind } from './messages.js';
import { message } from './messages.js';

/** Channel Raft messages travel on over a `PeerNetwork`. */
export const RAFT_CHANNEL = 'acp/raft';

/** Most entries one append may carry on the wire. */
export const MAX_WIRE_ENTRIES = 100_000;

/** The body of every Raft wire message (short keys: appends are frequent). */
export interface RaftWireBody {
  /** Term. */
  readonly t: number;
  /** Index (see {@link RaftMessage.index}). */
  readonly i: number;
  /** Log term. */
  readonly l: number;
  /** Entries as `[index, term, data]`. */
  readonly e: readonly (readonly [number, number, Uint8Array])[];
  /** Commit index. */
  readonly c: number;
  /** Reject flag. */
  readonly r: boolean;
  /** Back-tracking hint. */
  readonly h: number;
  /** Read context. */
  readonly x: number;
  /** Transfer flag. */
  readonly v: boolean;
  /** Snapshot chunk offset. */
  readonly o: number;
  /** Snapshot chunk. */
  readonly d: Uint8Array;
  /** Last snapshot chunk. */
  readonly f: boolean;
}

const KINDS: readonly RaftMessageKind[] = [
  'prevote',
  'prevote-resp',
  'vote',
  'vote-resp',
  'append',
  'append-resp',
  'heartbeat',
  'heartbeat-resp',
  'timeout-now',
  'read-index',
  'read-index-resp',
  'snapshot',
  'snapshot-resp',
];

const idx = (name: string, v: unknown) => assertInteger(name, v, { min: 0, max: MAX_LOG_INDEX });

function validateBody(body: unknown): RaftWireBody {
  assertObject('body', body);
  idx('t', body.t);
  idx('i', body.i);
  idx('l', body.l);
  idx('c', body.c);
  idx('h', body.h);
  idx('x', body.x);
  assertBoolean('r', body.r);
  assertBoolean('v', body.v);
  assertBoolean('f', body.f);
  idx('o', body.o);
  assertBytes('d', body.d);
  if (!Array.isArray(body.e) || body.e.length > MAX_WIRE_ENTRIES) throw new Error('e: expected an array of entries');
  let prev = -1;
  for (const e of body.e as unknown[]) {
    if (!Array.isArray(e) || e.length !== 3) throw new Error('e: expected [index, term, data]');
    idx('e.index', e[0]);
    idx('e.term', e[1]);
    assertBytes('e.data', e[2]);
    if (e[0] < 1 || (prev >= 0 && e[0] !== prev + 1)) throw new Error('e: indexes must be consecutive from >= 1');
    prev = e[0];
  }
  return body as unknown as RaftWireBody;
}

/** One message definition per kind: `acp.raft.<kind>`, version 1. */
export const RAFT_MESSAGES = KINDS.map((kind) =>
  defineMessage({ type: `acp.raft.${kind}`, version: 1, validate: (b) => validateBody(b) }),
);

const byKind = new Map(KINDS.map((k, i) => [k, RAFT_MESSAGES[i]!]));

/**
 * Encodes and decodes Raft messages as versioned MessagePack envelopes
 * (docs/protocol/raft.md). The sender and recipient are not on the wire:
 * the network supplies the sender, the receiving node is the recipient.
 */
export class RaftWireCodec {
  readonly #codec = new MessageCodec(RAFT_MESSAGES);

  /** Encodes `m`. */
  encode(m: RaftMessage): Uint8Array {
    const def = byKind.get(m.kind)!;
    const body: RaftWireBody = {
      t: m.term,
      i: m.index,
      l: m.logTerm,
      e: m.entries.map((e) => [e.index, e.term, e.data] as const),
      c: m.commit,
      r: m.reject,
      h: m.hint,
      x: m.ctx,
      v: m.transfer,
      o: m.offset,
      d: m.data,
      f: m.done,
    };
    return this.#codec.encode(def, body);
  }

  /**
   * Decodes bytes received from `from` addressed to `to`.
   *
   * @throws `CORE_MESSAGE_MALFORMED`, `CORE_MESSAGE_UNKNOWN_TYPE`,
   *   `CORE_MESSAGE_UNSUPPORTED_VERSION` or `CORE_MESSAGE_INVALID`.
   */
  decode(bytes: Uint8Array, from: string, to: string): RaftMessage {
    const decoded = this.#codec.decode(bytes);
    const kind = decoded.type.slice('acp.raft.'.length) as RaftMessageKind;
    const b = decoded.body as RaftWireBody;
    const entries: LogEntry[] = b.e.map(([index, term, data]) => ({ index, term, data }));
    return message({
      kind,
      from,
      to,
      term: b.t,
      index: b.i,
      logTerm: b.l,
      entries,
      commit: b.c,
      reject: b.r,
      hint: b.h,
      ctx: b.x,
      transfer: b.v,
      offset: b.o,
      data: b.d,
      done: b.f,
    });
  }
}
