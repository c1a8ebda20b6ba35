import { assertBoolean, assertBytes, assertInteger, assertObject, assertString, MAX_LOG_INDEX } from '@novacron/core';

/**
 * PBFT message payloads (docs/protocol/pbft.md). Each is a map with
 * one-letter keys, encoded canonically so that the bytes a MAC or
 * signature covers are unique; `k` names the kind and `i` the sender
 * (which the MAC key or signature must match).
 */

/** Most replicas a group may have. */
export const PBFT_MAX_REPLICAS = 64;
/** Most requests in one batch. */
export const PBFT_MAX_BATCH = 4096;
/** Longest node or client id. */
export const PBFT_MAX_ID = 128;
/** Most entries a view change may list (prepared, pre-prepared, batches). */
export const PBFT_MAX_VC_ENTRIES = 65_536;

/** An authenticator: one `[recipient id, MAC]` per recipient. */
export type Authenticator = readonly (readonly [string, Uint8Array])[];
/** A signed statement: canonical payload bytes and the signer's Ed25519 signature. */
export type Signed = readonly [payload: Uint8Array, signature: Uint8Array];
/** One request of a batch: its canonical bytes and the client's authenticator. */
export type BatchItem = readonly [request: Uint8Array, auth: Authenticator];
/** `[sequence number, digest, view]`. */
export type SeqEntry = readonly [n: number, d: Uint8Array, v: number];

/** A client request (authenticated by the client's MAC authenticator). */
export interface RequestPayload {
  readonly k: 'req';
  /** Client id (derived from `x`). */
  readonly c: string;
  /** Client's Ed25519 public key (MAC keys are derived from it). */
  readonly x: Uint8Array;
  /** Client timestamp: unique per request of this client, increasing. */
  readonly t: number;
  /** Operation. */
  readonly o: Uint8Array;
}

/** Pre-prepare: the primary of view `v` assigns batch `b` (digest `d`) to sequence number `n`. */
export interface PrePreparePayload {
  readonly k: 'pp';
  readonly v: number;
  readonly n: number;
  readonly d: Uint8Array;
  readonly i: string;
  readonly b: readonly BatchItem[];
}

/** Prepare or commit of `(v, n, d)` by replica `i`. */
export interface VotePayload {
  readonly k: 'p' | 'c';
  readonly v: number;
  readonly n: number;
  readonly d: Uint8Array;
  readonly i: string;
}

/** Checkpoint (signed): replica `i`'s state after executing `n` has digest `d`. */
export interface CheckpointPayload {
  readonly k: 'ck';
  readonly n: number;
  readonly d: Uint8Array;
  readonly i: string;
}

/** View change (signed) to view `v`. */
export interface ViewChangePayload {
  readonly k: 'vc';
  readonly v: number;
  /** Sender's stable checkpoint. */
  readonly h: number;
  /** 2f+1 signed checkpoints proving `h` (empty when `h` is 0). */
  readonly C: readonly Signed[];
  /** Prepared: for each `n > h`, the latest view and digest prepared. */
  readonly P: readonly SeqEntry[];
  /** Pre-prepared: for each `n > h`, the latest view and digest pre-prepared. */
  readonly Q: readonly SeqEntry[];
  /** The batches of `Q`'s digests. */
  readonly B: readonly (readonly [d: Uint8Array, batch: readonly BatchItem[]])[];
  readonly i: string;
}

/** New view (signed) by the primary of `v`: the view changes it decided from. */
export interface NewViewPayload {
  readonly k: 'nv';
  readonly v: number;
  readonly V: readonly Signed[];
  readonly i: string;
}

/** Status (periodic): lets peers retransmit what the sender lacks. */
export interface StatusPayload {
  readonly k: 'st';
  readonly v: number;
  /** Stable checkpoint. */
  readonly h: number;
  /** Last executed sequence number. */
  readonly e: number;
  /** In a view change. */
  readonly c: boolean;
  readonly i: string;
}

/** State-transfer request for the state at checkpoint `n`. */
export interface FetchPayload {
  readonly k: 'fs';
  readonly n: number;
  readonly i: string;
}

/** State-transfer answer: the state at checkpoint `n`. */
export interface StatePayload {
  readonly k: 'ss';
  readonly n: number;
  readonly s: Uint8Array;
  readonly i: string;
}

/** Reply to client `c` for its request `t`. */
export interface ReplyPayload {
  readonly k: 'r';
  readonly v: number;
  readonly c: string;
  readonly t: number;
  readonly r: Uint8Array;
  readonly i: string;
}

/** Payloads carried with a MAC authenticator. */
export type MacPayload =
  | RequestPayload
  | PrePreparePayload
  | VotePayload
  | StatusPayload
  | FetchPayload
  | StatePayload
  | ReplyPayload;
/** Payloads carried with a signature. */
export type SignedPayload = CheckpointPayload | ViewChangePayload | NewViewPayload;
/** Any payload. */
export type PbftPayload = MacPayload | SignedPayload;

const seq = (name: string, v: unknown) => assertInteger(name, v, { min: 0, max: MAX_LOG_INDEX });
const id = (name: string, v: unknown) => assertString(name, v, { nonEmpty: true, maxLength: PBFT_MAX_ID });
const digest = (name: string, v: unknown) => assertBytes(name, v, 32);

function arr(name: string, v: unknown, max: number): asserts v is unknown[] {
  if (!Array.isArray(v) || v.length > max) throw new Error(`${name}: expected an array of at most ${max}`);
}

function keys(o: Record<string, unknown>, expected: readonly string[]): void {
  const got = Object.keys(o);
  if (got.length !== expected.length || !expected.every((k) => k in o)) {
    throw new Error(`expected exactly the keys ${expected.join(',')}`);
  }
}

/** Validates an authenticator. */
export function validateAuth(name: string, v: unknown): Authenticator {
  arr(name, v, PBFT_MAX_REPLICAS);
  for (const e of v) {
    arr(`${name}[]`, e, 2);
    if (e.length !== 2) throw new Error(`${name}: expected [id, mac]`);
    id(`${name}.id`, e[0]);
    assertBytes(`${name}.mac`, e[1]);
  }
  return v as unknown as Authenticator;
}

function validateSigned(name: string, v: unknown, max: number): readonly Signed[] {
  arr(name, v, max);
  for (const e of v) {
    arr(`${name}[]`, e, 2);
    if (e.length !== 2) throw new Error(`${name}: expected [payload, signature]`);
    assertBytes(`${name}.payload`, e[0]);
    assertBytes(`${name}.signature`, e[1], 64);
  }
  return v as unknown as readonly Signed[];
}

/** Validates a batch. */
export function validateBatch(name: string, v: unknown): readonly BatchItem[] {
  arr(name, v, PBFT_MAX_BATCH);
  for (const e of v) {
    arr(`${name}[]`, e, 2);
    if (e.length !== 2) throw new Error(`${name}: expected [request, auth]`);
    assertBytes(`${name}.request`, e[0]);
    validateAuth(`${name}.auth`, e[1]);
  }
  return v as unknown as readonly BatchItem[];
}

function validateEntries(name: string, v: unknown): readonly SeqEntry[] {
  arr(name, v, PBFT_MAX_VC_ENTRIES);
  let prev = 0;
  for (const e of v) {
    arr(`${name}[]`, e, 3);
    if (e.length !== 3) throw new Error(`${name}: expected [n, d, v]`);
    seq(`${name}.n`, e[0]);
    digest(`${name}.d`, e[1]);
    seq(`${name}.v`, e[2]);
    if ((e[0] as number) <= prev) throw new Error(`${name}: sequence numbers must increase`);
    prev = e[0] as number;
  }
  return v as unknown as readonly SeqEntry[];
}

/**
 * Checks a decoded payload's shape and returns it typed.
 *
 * @throws an `Error` naming the problem (the wire codec wraps it as
 *   `CORE_MESSAGE_INVALID`).
 */
export function validatePayload(p: unknown): PbftPayload {
  assertObject('payload', p);
  switch (p.k) {
    case 'req':
      keys(p, ['k', 'c', 'x', 't', 'o']);
      id('c', p.c);
      assertBytes('x', p.x, 32);
      seq('t', p.t);
      assertBytes('o', p.o);
      break;
    case 'pp':
      keys(p, ['k', 'v', 'n', 'd', 'i', 'b']);
      seq('v', p.v);
      seq('n', p.n);
      digest('d', p.d);
      id('i', p.i);
      validateBatch('b', p.b);
      break;
    case 'p':
    case 'c':
      keys(p, ['k', 'v', 'n', 'd', 'i']);
      seq('v', p.v);
      seq('n', p.n);
      digest('d', p.d);
      id('i', p.i);
      break;
    case 'ck':
      keys(p, ['k', 'n', 'd', 'i']);
      seq('n', p.n);
      digest('d', p.d);
      id('i', p.i);
      break;
    case 'vc': {
      keys(p, ['k', 'v', 'h', 'C', 'P', 'Q', 'B', 'i']);
      seq('v', p.v);
      seq('h', p.h);
      validateSigned('C', p.C, PBFT_MAX_REPLICAS);
      validateEntries('P', p.P);
      validateEntries('Q', p.Q);
      arr('B', p.B, PBFT_MAX_VC_ENTRIES);
      for (const e of p.B) {
        arr('B[]', e, 2);
        if (e.length !== 2) throw new Error('B: expected [d, batch]');
        digest('B.d', e[0]);
        validateBatch('B.batch', e[1]);
      }
      id('i', p.i);
      break;
    }
    case 'nv':
      keys(p, ['k', 'v', 'V', 'i']);
      seq('v', p.v);
      validateSigned('V', p.V, PBFT_MAX_REPLICAS);
      id('i', p.i);
      break;
    case 'st':
      keys(p, ['k', 'v', 'h', 'e', 'c', 'i']);
      seq('v', p.v);
      seq('h', p.h);
      seq('e', p.e);
      assertBoolean('c', p.c);
      id('i', p.i);
      break;
    case 'fs':
      keys(p, ['k', 'n', 'i']);
      seq('n', p.n);
      id('i', p.i);
      break;
    case 'ss':
      keys(p, ['k', 'n', 's', 'i']);
      seq('n', p.n);
      assertBytes('s', p.s);
      id('i', p.i);
      break;
    case 'r':
      keys(p, ['k', 'v', 'c', 't', 'r', 'i']);
      seq('v', p.v);
      id('c', p.c);
      seq('t', p.t);
      assertBytes('r', p.r);
      id('i', p.i);
      break;
    default:
      throw new Error(`unknown payload kind ${JSON.stringify(String(p.k).slice(0, 16))}`);
  }
  return p as unknown as PbftPayload;
}

/** Whether a payload kind is carried signed (rather than with a MAC authenticator). */
export function isSignedKind(k: string): boolean {
  return k === 'ck' || k === 'vc' || k === 'nv';
}
