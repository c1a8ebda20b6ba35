import { decodeMsgpack, encodeMsgpack, isNovacronError } from '@novacron/core';
import { StreamRelayErrorCode, streamRelayError } from './stream-errors.js';

/** `NCSR`: the first four bytes of every relayed migration stream. */
export const STREAM_RELAY_MAGIC = Uint8Array.of(0x4e, 0x43, 0x53, 0x52);
/** Version of the relay header (docs/protocol/stream-relay.md). */
export const STREAM_RELAY_VERSION = 1;
/** Largest header body accepted, in bytes: the receiver buffers no more than this before it knows who is talking. */
export const STREAM_RELAY_MAX_BODY = 1024;
/** Longest id accepted in the header, in UTF-8 bytes. */
const MAX_ID = 256;
const PREFIX = 4 + 1 + 2;

/** Who a relayed stream belongs to: written once, before the backend's bytes. */
export interface StreamRelayHeader {
  /** The migration this stream carries; the receiver refuses any other. */
  readonly migrationId: string;
  /** The VM being migrated (for logs and checks at the destination). */
  readonly vmId: string;
}

function checkId(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > MAX_ID)
    throw streamRelayError(
      StreamRelayErrorCode.HEADER_CORRUPT,
      `relay header ${name} must be a 1..${MAX_ID} byte string`,
      {
        reason: 'field',
        field: name,
      },
    );
  return value;
}

/** Encodes the header: magic, version, body length (u16 big-endian), MessagePack body. */
export function encodeStreamRelayHeader(header: StreamRelayHeader): Uint8Array {
  const body = encodeMsgpack({
    migrationId: checkId('migrationId', header.migrationId),
    vmId: checkId('vmId', header.vmId),
  });
  const out = new Uint8Array(PREFIX + body.length);
  out.set(STREAM_RELAY_MAGIC, 0);
  out[4] = STREAM_RELAY_VERSION;
  out[5] = body.length >> 8;
  out[6] = body.length & 0xff;
  out.set(body, PREFIX);
  return out;
}

/**
 * Reads the header off the front of a stream fed in arbitrary pieces. Holds
 * at most {@link STREAM_RELAY_MAX_BODY} + 7 bytes; anything malformed throws
 * `NODE_STREAM_RELAY_HEADER_CORRUPT` as soon as it is visible.
 */
export class StreamRelayHeaderReader {
  private buf = new Uint8Array(0);
  private done = false;

  /**
   * Feeds the next piece. Returns `undefined` while the header is
   * incomplete; then the header and the bytes after it (possibly empty).
   */
  push(piece: Uint8Array): { header: StreamRelayHeader; rest: Uint8Array } | undefined {
    if (this.done) throw streamRelayError(StreamRelayErrorCode.INVALID_OPTIONS, 'header already read', {});
    const merged = new Uint8Array(this.buf.length + piece.length);
    merged.set(this.buf, 0);
    merged.set(piece, this.buf.length);
    this.buf = merged;
    for (let i = 0; i < Math.min(4, merged.length); i++)
      if (merged[i] !== STREAM_RELAY_MAGIC[i])
        throw streamRelayError(StreamRelayErrorCode.HEADER_CORRUPT, 'not a relayed migration stream (bad magic)', {
          reason: 'magic',
        });
    if (merged.length > 4 && merged[4] !== STREAM_RELAY_VERSION)
      throw streamRelayError(StreamRelayErrorCode.HEADER_CORRUPT, `unsupported relay header version ${merged[4]}`, {
        reason: 'version',
        version: merged[4],
      });
    if (merged.length < PREFIX) return undefined;
    const length = (merged[5]! << 8) | merged[6]!;
    if (length === 0 || length > STREAM_RELAY_MAX_BODY)
      throw streamRelayError(StreamRelayErrorCode.HEADER_CORRUPT, `relay header body of ${length} bytes`, {
        reason: 'length',
        length,
      });
    if (merged.length < PREFIX + length) return undefined;
    let body: unknown;
    try {
      body = decodeMsgpack(merged.subarray(PREFIX, PREFIX + length), { maxDepth: 2 });
    } catch (err) {
      throw streamRelayError(
        StreamRelayErrorCode.HEADER_CORRUPT,
        'relay header body is not MessagePack',
        { reason: 'body', ...(isNovacronError(err) ? { decoder: err.code } : {}) },
        err,
      );
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw streamRelayError(StreamRelayErrorCode.HEADER_CORRUPT, 'relay header body is not a map', { reason: 'body' });
    const fields = body as Record<string, unknown>;
    const header = { migrationId: checkId('migrationId', fields.migrationId), vmId: checkId('vmId', fields.vmId) };
    this.done = true;
    const rest = merged.slice(PREFIX + length);
    this.buf = new Uint8Array(0);
    return { header, rest };
  }
}
