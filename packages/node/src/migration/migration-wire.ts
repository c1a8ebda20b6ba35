import { decodeMsgpack, encodeMsgpack, type VmSpec } from '@novacron/core';
import { NodeErrorCode, nodeError } from '../errors.js';

/** Version of the migration stream (docs/protocol/migration.md). */
export const MIGRATION_WIRE_VERSION = 1;

/** Record types of a migration stream. */
export const RecordType = {
  /** msgpack {@link StreamHeader}; always first, exactly once. */
  HEADER: 1,
  /** A batch of pages: count, checksum of the raw pages, page indexes, hde page-mode payload. */
  PAGES: 2,
  /** Page indexes the destination still lacks (post-copy switch only). */
  MISSING: 3,
  /** msgpack {@link StreamEnd}; always last, exactly once. */
  END: 4,
} as const;

/** Bytes of a record's type and length prefix. */
export const RECORD_PREFIX = 5;
/** Largest record body accepted (a batch of 256 pages of 64 KiB, with room to spare). */
export const MAX_RECORD_BYTES = 32 * 1024 * 1024;
/** Most pages in one PAGES record. */
export const MAX_BATCH_PAGES = 4096;

/** What a stream carries. */
export type StreamKind =
  /** A pre-copy round: pages for an `incoming` VM (created on the first round). */
  | 'precopy'
  /** The last round, sent with the source paused: the destination completes the VM (`paused`). */
  | 'final'
  /** The source is paused; what arrived plus the MISSING list make a post-copy VM. */
  | 'postcopy-switch'
  /** Pages pushed or asked for after the switch, while the destination runs. */
  | 'postcopy';

/** First record of every stream. */
export interface StreamHeader {
  readonly v: typeof MIGRATION_WIRE_VERSION;
  readonly migrationId: string;
  readonly vmId: string;
  readonly kind: StreamKind;
  readonly round: number;
  /** Node id of the source. */
  readonly source: string;
  /** The VM's spec and page geometry (the destination creates the `incoming` VM from them). */
  readonly spec: VmSpec;
  readonly pageSize: number;
  readonly pageCount: number;
  /** Provider config for the destination VM (the workload model of a simulated guest): at most 16 numbers. */
  readonly config?: Readonly<Record<string, number>>;
  /** `final` only: hash the arrived memory (reported back with `resumed`). */
  readonly digest?: boolean;
}

/** Last record of every stream. */
export interface StreamEnd {
  /** Pages in the stream's PAGES records. */
  readonly pages: number;
  /** Raw bytes of those pages. */
  readonly rawBytes: number;
}

/** One decoded PAGES record. */
export interface PagesRecord {
  readonly pages: Uint32Array;
  /** `checksum32` of the rebuilt raw pages, in order. */
  readonly checksum: number;
  /** hde page-mode payload (delta against what the destination holds). */
  readonly payload: Uint8Array;
}

/** A decoded record. */
export type StreamRecord =
  | { readonly type: typeof RecordType.HEADER; readonly header: StreamHeader }
  | { readonly type: typeof RecordType.PAGES; readonly batch: PagesRecord }
  | { readonly type: typeof RecordType.MISSING; readonly pages: Uint32Array }
  | { readonly type: typeof RecordType.END; readonly end: StreamEnd };

const corrupt = (reason: string, details: Record<string, unknown> = {}) =>
  nodeError(NodeErrorCode.MIGRATION_FRAME_CORRUPT, `migration stream: ${reason}`, { reason, ...details });

function record(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_PREFIX + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, RECORD_PREFIX);
  return out;
}

function indexList(prefix: number, pages: Uint32Array): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(prefix + pages.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < pages.length; i++) view.setUint32(prefix + i * 4, pages[i]!, true);
  return { out, view };
}

/** Encodes the HEADER record. */
export function encodeHeader(h: StreamHeader): Uint8Array {
  return record(RecordType.HEADER, encodeMsgpack(JSON.parse(JSON.stringify(h))));
}

/** Encodes an END record. */
export function encodeEnd(e: StreamEnd): Uint8Array {
  return record(RecordType.END, encodeMsgpack({ pages: e.pages, rawBytes: e.rawBytes }));
}

/** Encodes a PAGES record: `[count u32][checksum u32][count × u32 LE index][payload]` (prefix fields big-endian). */
export function encodePagesRecord(b: PagesRecord): Uint8Array {
  const { out, view } = indexList(8, b.pages);
  view.setUint32(0, b.pages.length);
  view.setUint32(4, b.checksum >>> 0);
  const body = new Uint8Array(out.length + b.payload.length);
  body.set(out);
  body.set(b.payload, out.length);
  return record(RecordType.PAGES, body);
}

/** Encodes a MISSING record: `[count u32][count × u32 LE index]`. */
export function encodeMissing(pages: Uint32Array): Uint8Array {
  const { out, view } = indexList(4, pages);
  view.setUint32(0, pages.length);
  return record(RecordType.MISSING, out);
}

function readIndexes(body: Uint8Array, at: number, count: number, pageCount: number): Uint32Array {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const pages = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const p = view.getUint32(at + i * 4, true);
    if (p >= pageCount) throw corrupt('page index out of range', { page: p, pageCount });
    pages[i] = p;
  }
  return pages;
}

function decodeHeaderBody(body: Uint8Array): StreamHeader {
  let h: unknown;
  try {
    h = decodeMsgpack(body);
  } catch (err) {
    throw corrupt('header is not msgpack', { cause: (err as Error).message });
  }
  const o = h as Partial<StreamHeader> | null;
  const kinds: readonly string[] = ['precopy', 'final', 'postcopy-switch', 'postcopy'];
  if (typeof o !== 'object' || o === null || o.v !== MIGRATION_WIRE_VERSION)
    throw corrupt('unsupported header version', { version: (o as { v?: unknown } | null)?.v });
  const pageSizeOk = Number.isInteger(o.pageSize) && o.pageSize! >= 512 && o.pageSize! <= 65536;
  if (
    typeof o.migrationId !== 'string' ||
    o.migrationId.length === 0 ||
    o.migrationId.length > 128 ||
    typeof o.vmId !== 'string' ||
    o.vmId.length === 0 ||
    o.vmId.length > 128 ||
    typeof o.source !== 'string' ||
    !kinds.includes(o.kind as string) ||
    !Number.isInteger(o.round) ||
    o.round! < 0 ||
    !pageSizeOk ||
    (o.pageSize! & (o.pageSize! - 1)) !== 0 ||
    !Number.isInteger(o.pageCount) ||
    o.pageCount! <= 0 ||
    o.pageCount! > 2 ** 26 ||
    typeof o.spec !== 'object' ||
    o.spec === null ||
    o.spec.id !== o.vmId ||
    o.spec.resources?.memoryBytes !== o.pageSize! * o.pageCount! ||
    (o.config !== undefined &&
      (typeof o.config !== 'object' ||
        o.config === null ||
        Object.keys(o.config).length > 16 ||
        Object.values(o.config).some((v) => typeof v !== 'number' || !Number.isFinite(v))))
  )
    throw corrupt('malformed header');
  return o as StreamHeader;
}

/**
 * Incremental decoder of a migration stream: feed it the bytes as the amst
 * transfer delivers them and take whole records. Enforces the record order
 * (HEADER first, END last, nothing after END), the record size bound, and
 * every index against the header's page count, so a hostile or corrupt
 * stream costs at most one bounded record of memory before it is refused
 * with `NODE_MIGRATION_FRAME_CORRUPT`.
 */
export class MigrationStreamDecoder {
  #buf = new Uint8Array(0);
  #header: StreamHeader | undefined;
  #ended = false;

  /** The header, once decoded. */
  get header(): StreamHeader | undefined {
    return this.#header;
  }
  /** True after the END record. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Appends bytes and returns the records they complete. */
  push(data: Uint8Array): StreamRecord[] {
    if (this.#ended && data.length > 0) throw corrupt('bytes after the END record');
    const buf = new Uint8Array(this.#buf.length + data.length);
    buf.set(this.#buf);
    buf.set(data, this.#buf.length);
    const out: StreamRecord[] = [];
    let at = 0;
    while (buf.length - at >= RECORD_PREFIX) {
      const type = buf[at]!;
      const len = new DataView(buf.buffer, buf.byteOffset + at + 1, 4).getUint32(0);
      if (type < RecordType.HEADER || type > RecordType.END) throw corrupt('unknown record type', { type });
      if (len > MAX_RECORD_BYTES) throw corrupt('record too large', { length: len, max: MAX_RECORD_BYTES });
      if (buf.length - at - RECORD_PREFIX < len) break;
      const body = buf.subarray(at + RECORD_PREFIX, at + RECORD_PREFIX + len);
      at += RECORD_PREFIX + len;
      out.push(this.#decode(type, body));
      if (this.#ended && at < buf.length) throw corrupt('bytes after the END record');
    }
    this.#buf = buf.slice(at);
    return out;
  }

  /** Checks the stream ended cleanly (call when the transfer closes). */
  finish(): void {
    if (!this.#ended || this.#buf.length > 0) throw corrupt('stream ended before its END record');
  }

  #decode(type: number, body: Uint8Array): StreamRecord {
    if (type === RecordType.HEADER) {
      if (this.#header) throw corrupt('second HEADER record');
      this.#header = decodeHeaderBody(body);
      return { type, header: this.#header };
    }
    const h = this.#header;
    if (!h) throw corrupt('record before the HEADER');
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    if (type === RecordType.PAGES) {
      if (body.length < 8) throw corrupt('short PAGES record');
      const count = view.getUint32(0);
      if (count === 0 || count > MAX_BATCH_PAGES || 8 + count * 4 > body.length)
        throw corrupt('bad page count', { count });
      const pages = readIndexes(body, 8, count, h.pageCount);
      return {
        type,
        batch: { pages, checksum: view.getUint32(4), payload: body.slice(8 + count * 4) },
      };
    }
    if (type === RecordType.MISSING) {
      if (h.kind !== 'postcopy-switch') throw corrupt('MISSING record outside a post-copy switch');
      if (body.length < 4) throw corrupt('short MISSING record');
      const count = view.getUint32(0);
      if (count > h.pageCount || 4 + count * 4 !== body.length) throw corrupt('bad missing count', { count });
      return { type, pages: readIndexes(body, 4, count, h.pageCount) };
    }
    let e: unknown;
    try {
      e = decodeMsgpack(body);
    } catch (err) {
      throw corrupt('END is not msgpack', { cause: (err as Error).message });
    }
    const o = e as Partial<StreamEnd> | null;
    if (typeof o !== 'object' || o === null || !Number.isSafeInteger(o.pages) || !Number.isSafeInteger(o.rawBytes))
      throw corrupt('malformed END record');
    this.#ended = true;
    return { type: RecordType.END, end: { pages: o.pages!, rawBytes: o.rawBytes! } };
  }
}
