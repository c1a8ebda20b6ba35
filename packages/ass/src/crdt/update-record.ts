import { NovacronError } from '@novacron/core';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { AssErrorCode } from '../errors.js';

/** Version of the update-log record encoding (docs/protocol/ass.md). */
export const UPDATE_RECORD_VERSION = 1;

/** One record of the CRDT update log: a Yjs update (or a compacted snapshot) of one namespace. */
export interface UpdateRecord {
  /** `update`: one transaction's update; `snapshot`: the whole document, written by compaction. */
  readonly kind: 'update' | 'snapshot';
  readonly namespace: string;
  /** Yjs update, v1 encoding. */
  readonly update: Uint8Array;
}

/** Encodes a record: `varuint version, varuint kind (0 update, 1 snapshot), varstring namespace, varbytes update`. */
export function encodeUpdateRecord(r: UpdateRecord): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, UPDATE_RECORD_VERSION);
  encoding.writeVarUint(e, r.kind === 'update' ? 0 : 1);
  encoding.writeVarString(e, r.namespace);
  encoding.writeVarUint8Array(e, r.update);
  return encoding.toUint8Array(e);
}

/** Decodes a record; throws `ASS_RECORD_CORRUPT`. */
export function decodeUpdateRecord(bytes: Uint8Array): UpdateRecord {
  try {
    const d = decoding.createDecoder(bytes);
    const v = decoding.readVarUint(d);
    if (v !== UPDATE_RECORD_VERSION) throw new Error(`version ${v}`);
    const kind = decoding.readVarUint(d);
    if (kind !== 0 && kind !== 1) throw new Error(`kind ${kind}`);
    const namespace = decoding.readVarString(d);
    const update = decoding.readVarUint8Array(d);
    if (decoding.hasContent(d)) throw new Error('trailing bytes');
    return { kind: kind === 0 ? 'update' : 'snapshot', namespace, update };
  } catch (err) {
    throw new NovacronError(AssErrorCode.RECORD_CORRUPT, 'CRDT update record does not decode', { cause: err });
  }
}
