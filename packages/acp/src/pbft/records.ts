import { CoreErrorCode, decodeMsgpack, encodeMsgpack, NovacronError } from '@novacron/core';
import type { BatchItem, SeqEntry, Signed } from './messages.js';

/** A slot as persisted: pre-prepare and how far it got. */
export interface PersistedSlot {
  readonly v: number;
  readonly n: number;
  readonly d: Uint8Array;
  readonly b: readonly BatchItem[];
  /** The primary's pre-prepare wire bytes (for retransmission), or empty when it came from a new view. */
  readonly raw: Uint8Array;
  readonly prepared: boolean;
  /** What committed here (digest and batch), when it did. */
  readonly c: { readonly d: Uint8Array; readonly b: readonly BatchItem[] } | null;
}

/** A stable checkpoint as persisted: its proof and the state there. */
export interface PersistedStable {
  readonly n: number;
  readonly d: Uint8Array;
  readonly proof: readonly Signed[];
  readonly s: Uint8Array;
}

/**
 * What a PBFT replica writes to its `DurableLog` (core) (one record per
 * entry, the entry's term being the view). A replica acts on a record
 * (sends the prepare, commit, view change or checkpoint that depends on
 * it) only once it is durable; on restart it replays them in order.
 * `base` holds everything still live when a checkpoint becomes stable, so
 * the log before it can be compacted away.
 */
export type PbftRecord =
  | { readonly t: 'view'; readonly v: number; readonly c: boolean }
  | { readonly t: 'pp'; readonly slot: PersistedSlot }
  | { readonly t: 'prep'; readonly v: number; readonly n: number; readonly d: Uint8Array }
  | {
      readonly t: 'cmt';
      readonly v: number;
      readonly n: number;
      readonly d: Uint8Array;
      readonly b: readonly BatchItem[];
    }
  | { readonly t: 'ckpt'; readonly n: number; readonly d: Uint8Array; readonly s: Uint8Array }
  | { readonly t: 'stable'; readonly stable: PersistedStable }
  | { readonly t: 'nv'; readonly v: number; readonly nv: Signed }
  | { readonly t: 'ts'; readonly upTo: number }
  | {
      readonly t: 'base';
      readonly v: number;
      readonly c: boolean;
      readonly stable: PersistedStable;
      readonly slots: readonly PersistedSlot[];
      readonly P: readonly SeqEntry[];
      readonly Q: readonly SeqEntry[];
      readonly ckpts: readonly (readonly [n: number, d: Uint8Array, s: Uint8Array])[];
      readonly nv: Signed | null;
      readonly upTo: number;
    };

const KINDS = new Set(['view', 'pp', 'prep', 'cmt', 'ckpt', 'stable', 'nv', 'ts', 'base']);

/** Encodes a record for the log. */
export function encodeRecord(r: PbftRecord): Uint8Array {
  return encodeMsgpack(r);
}

/**
 * Decodes a record read back from the log (the log's checksums already
 * vouch for the bytes; this guards against a log written by something else).
 *
 * @throws `CORE_LOG_CORRUPT` when the entry is not a PBFT record.
 */
export function decodeRecord(data: Uint8Array, index: number): PbftRecord {
  let r: unknown;
  try {
    r = decodeMsgpack(data);
  } catch (err) {
    throw new NovacronError(CoreErrorCode.LOG_CORRUPT, `pbft: log entry ${index} is not a record`, {
      details: { index },
      cause: err,
    });
  }
  if (typeof r !== 'object' || r === null || !KINDS.has((r as { t?: unknown }).t as string)) {
    throw new NovacronError(CoreErrorCode.LOG_CORRUPT, `pbft: log entry ${index} is not a record`, {
      details: { index },
    });
  }
  return r as PbftRecord;
}
