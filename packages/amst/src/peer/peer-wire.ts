import { CoreErrorCode, NovacronError, invalidArgument } from '@novacron/core';
import { AmstErrorCode, amstError } from '../errors.js';

/**
 * Byte layouts of the PeerNetwork bindings (docs/protocol/amst.md,
 * "Peer messages"). Ids and channel names are UTF-8 with a one-byte length.
 */

/** Stream binding: first frame on a connection, naming the dialer. */
export const PEER_HELLO = 0x01;
/** Stream binding: one message. */
export const PEER_MESSAGE = 0x02;
/** Datagram binding: first byte of every datagram. */
export const DATAGRAM_MAGIC = 0x4e;
/** Datagram binding: layout version. */
export const DATAGRAM_VERSION = 1;
/** Longest node id or channel name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;
/** Worst-case bytes a datagram adds around its payload. */
export const DATAGRAM_OVERHEAD = 2 + 1 + MAX_NAME_BYTES + 1 + MAX_NAME_BYTES;
/** Worst-case bytes a stream message adds around its payload (frame header excluded). */
export const MESSAGE_OVERHEAD = 1 + 1 + MAX_NAME_BYTES;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a node id or channel, checked against {@link MAX_NAME_BYTES}. */
export function nameBytes(what: string, name: string): Uint8Array {
  if (typeof name !== 'string') throw invalidArgument(what, 'a string', name);
  const bytes = utf8.encode(name);
  if (bytes.length > MAX_NAME_BYTES) throw invalidArgument(what, `at most ${MAX_NAME_BYTES} UTF-8 bytes`, name);
  return bytes;
}

/** `[0x01][u8 idLen][id]`. */
export function encodeHello(id: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + id.length);
  out[0] = PEER_HELLO;
  out[1] = id.length;
  out.set(id, 2);
  return out;
}

/** `[0x02][u8 chanLen][channel][payload]`. */
export function encodeMessage(channel: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + channel.length + data.length);
  out[0] = PEER_MESSAGE;
  out[1] = channel.length;
  out.set(channel, 2);
  out.set(data, 2 + channel.length);
  return out;
}

/** `['N'][1][u8 idLen][id][u8 chanLen][channel][payload]`. */
export function encodeDatagram(id: Uint8Array, channel: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + id.length + channel.length + data.length);
  out[0] = DATAGRAM_MAGIC;
  out[1] = DATAGRAM_VERSION;
  out[2] = id.length;
  out.set(id, 3);
  let off = 3 + id.length;
  out[off++] = channel.length;
  out.set(channel, off);
  out.set(data, off + channel.length);
  return out;
}

/** A parsed stream-binding frame. */
export type PeerFrame =
  | { readonly kind: 'hello'; readonly id: string }
  | { readonly kind: 'message'; readonly channel: string; readonly data: Uint8Array };

/** Parses one stream-binding frame payload; `AMST_FRAME_INVALID` for anything else. */
export function decodePeerFrame(frame: Uint8Array): PeerFrame {
  if (frame.length < 2) throw invalidFrame('short peer frame', frame.length);
  const kind = frame[0]!;
  const n = frame[1]!;
  if (2 + n > frame.length) throw invalidFrame('name runs past the frame', frame.length);
  const name = decodeName(frame.subarray(2, 2 + n));
  if (kind === PEER_HELLO) {
    if (frame.length !== 2 + n) throw invalidFrame('trailing bytes after hello', frame.length);
    return { kind: 'hello', id: name };
  }
  if (kind === PEER_MESSAGE) return { kind: 'message', channel: name, data: frame.subarray(2 + n) };
  throw invalidFrame(`unknown peer frame type ${kind}`, frame.length);
}

/** A parsed datagram. */
export interface Datagram {
  readonly from: string;
  readonly channel: string;
  readonly data: Uint8Array;
}

/** Parses one datagram; `AMST_FRAME_INVALID` for anything else. */
export function decodeDatagram(d: Uint8Array): Datagram {
  if (d.length < 4) throw invalidFrame('short datagram', d.length);
  if (d[0] !== DATAGRAM_MAGIC) throw invalidFrame('bad datagram magic', d.length);
  if (d[1] !== DATAGRAM_VERSION) throw invalidFrame(`unsupported datagram version ${d[1]}`, d.length);
  const idLen = d[2]!;
  if (3 + idLen + 1 > d.length) throw invalidFrame('id runs past the datagram', d.length);
  const from = decodeName(d.subarray(3, 3 + idLen));
  const chanLen = d[3 + idLen]!;
  const chanStart = 4 + idLen;
  if (chanStart + chanLen > d.length) throw invalidFrame('channel runs past the datagram', d.length);
  const channel = decodeName(d.subarray(chanStart, chanStart + chanLen));
  return { from, channel, data: d.subarray(chanStart + chanLen) };
}

function decodeName(bytes: Uint8Array): string {
  try {
    return fromUtf8.decode(bytes);
  } catch (err) {
    throw amstError(AmstErrorCode.FRAME_INVALID, 'name is not valid UTF-8', { length: bytes.length }, err);
  }
}

function invalidFrame(message: string, length: number): NovacronError {
  return amstError(AmstErrorCode.FRAME_INVALID, message, { length });
}

/** `CORE_INVALID_ARGUMENT` for a payload over the limit. */
export function oversized(length: number, max: number): NovacronError {
  return new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `message of ${length} bytes exceeds maxMessageSize ${max}`, {
    details: { argument: 'data', length, maxMessageSize: max },
  });
}
