import { AmstErrorCode, amstError } from '../errors.js';

/**
 * Messages on one lane of a transfer (docs/protocol/amst.md): each is
 * `[u32 BE length][body]`, the body's first byte its type. Chunk bodies carry
 * their own CRC-32 of the raw bytes so a corrupt chunk is refused and resent
 * without tearing the lane down.
 */

/** Protocol version written in every HELLO. */
export const AMST_VERSION = 1;
/** Bytes of a transfer id / resume token. */
export const TRANSFER_ID_BYTES = 16;

/** Lane message type: sender opens or joins a session. */
export const MSG_HELLO = 1;
/** Lane message type: receiver accepts a lane (delivered offset, window). */
export const MSG_HELLO_ACK = 2;
/** Lane message type: one chunk. */
export const MSG_DATA = 3;
/** Lane message type: chunk received (and the delivered offset). */
export const MSG_ACK = 4;
/** Lane message type: chunk refused as corrupt; resend it. */
export const MSG_NACK = 5;
/** Lane message type: sender has sent everything. */
export const MSG_FIN = 6;
/** Lane message type: receiver wrote everything and closed the sink. */
export const MSG_FIN_ACK = 7;
/** Lane message type: receiver failed the transfer with an error code. */
export const MSG_ERROR = 8;

/** Most held ranges a HELLO_ACK lists (a receiver holding more lists the first ones; the sender resends the rest). */
export const MAX_HELD_RANGES = 4096;

/** A byte range past the delivered offset that a receiver already holds: `[offset, offset + length)`. */
export interface HeldRange {
  readonly offset: number;
  readonly length: number;
}

/** Unknown total size in a HELLO. */
export const SIZE_UNKNOWN = 2 ** 53 - 1;

/** A decoded lane message (docs/protocol/amst.md). */
export type LaneMessage =
  | {
      type: typeof MSG_HELLO;
      version: number;
      transferId: Uint8Array;
      resume: boolean;
      totalSize: number;
      chunkSize: number;
      lane: number;
    }
  | {
      type: typeof MSG_HELLO_ACK;
      transferId: Uint8Array;
      deliveredOffset: number;
      windowBytes: number;
      /** Chunks the receiver holds past `deliveredOffset`: a resuming sender resends only the rest. */
      held: readonly HeldRange[];
    }
  | {
      type: typeof MSG_DATA;
      seq: number;
      offset: number;
      rawLength: number;
      codec: string;
      checksum: number;
      data: Uint8Array;
    }
  | { type: typeof MSG_ACK; seq: number; deliveredOffset: number }
  | { type: typeof MSG_NACK; seq: number; reason: number }
  | { type: typeof MSG_FIN; totalSize: number }
  | { type: typeof MSG_FIN_ACK; totalSize: number }
  | { type: typeof MSG_ERROR; code: string };

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function putU64(v: DataView, at: number, n: number): void {
  v.setUint32(at, Math.floor(n / 2 ** 32));
  v.setUint32(at + 4, n >>> 0);
}

function getU64(v: DataView, at: number): number {
  const hi = v.getUint32(at);
  if (hi >= 2 ** 21) throw invalid('64-bit field beyond 2^53');
  return hi * 2 ** 32 + v.getUint32(at + 4);
}

function invalid(message: string) {
  return amstError(AmstErrorCode.FRAME_INVALID, message);
}

function withLength(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Encodes every message except DATA (see {@link encodeDataHeader}) with its length prefix. */
export function encodeLaneMessage(m: Exclude<LaneMessage, { type: typeof MSG_DATA }>): Uint8Array {
  let body: Uint8Array;
  switch (m.type) {
    case MSG_HELLO: {
      body = new Uint8Array(1 + 1 + TRANSFER_ID_BYTES + 1 + 8 + 4 + 2);
      const v = new DataView(body.buffer);
      body[0] = m.type;
      body[1] = m.version;
      body.set(m.transferId, 2);
      body[18] = m.resume ? 1 : 0;
      putU64(v, 19, m.totalSize);
      v.setUint32(27, m.chunkSize);
      v.setUint16(31, m.lane);
      break;
    }
    case MSG_HELLO_ACK: {
      const held = m.held.slice(0, MAX_HELD_RANGES);
      body = new Uint8Array(1 + TRANSFER_ID_BYTES + 8 + 4 + 2 + 12 * held.length);
      const v = new DataView(body.buffer);
      body[0] = m.type;
      body.set(m.transferId, 1);
      putU64(v, 17, m.deliveredOffset);
      v.setUint32(25, m.windowBytes);
      v.setUint16(29, held.length);
      held.forEach((r, i) => {
        putU64(v, 31 + 12 * i, r.offset);
        v.setUint32(39 + 12 * i, r.length);
      });
      break;
    }
    case MSG_ACK: {
      body = new Uint8Array(1 + 4 + 8);
      const v = new DataView(body.buffer);
      body[0] = m.type;
      v.setUint32(1, m.seq);
      putU64(v, 5, m.deliveredOffset);
      break;
    }
    case MSG_NACK: {
      body = new Uint8Array(1 + 4 + 1);
      body[0] = m.type;
      new DataView(body.buffer).setUint32(1, m.seq);
      body[5] = m.reason;
      break;
    }
    case MSG_FIN:
    case MSG_FIN_ACK: {
      body = new Uint8Array(1 + 8);
      body[0] = m.type;
      putU64(new DataView(body.buffer), 1, m.totalSize);
      break;
    }
    case MSG_ERROR: {
      const code = utf8.encode(m.code).subarray(0, 255);
      body = new Uint8Array(2 + code.length);
      body[0] = m.type;
      body[1] = code.length;
      body.set(code, 2);
      break;
    }
  }
  return withLength(body);
}

/** Bytes of a DATA header with a codec id of `codecLength` bytes (length prefix included). */
export function dataHeaderSize(codecLength: number): number {
  return 4 + 1 + 4 + 8 + 4 + 1 + codecLength + 4;
}

/**
 * The length prefix and DATA header for a chunk whose encoded bytes follow
 * (sent as a second write, so the payload is never copied).
 */
export function encodeDataHeader(
  seq: number,
  offset: number,
  rawLength: number,
  codec: Uint8Array,
  checksum: number,
  payloadLength: number,
): Uint8Array {
  const size = dataHeaderSize(codec.length);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, size - 4 + payloadLength);
  out[4] = MSG_DATA;
  v.setUint32(5, seq);
  putU64(v, 9, offset);
  v.setUint32(17, rawLength);
  out[21] = codec.length;
  out.set(codec, 22);
  v.setUint32(22 + codec.length, checksum);
  return out;
}

/** Parses one message body; `AMST_FRAME_INVALID` for anything malformed. */
export function decodeLaneMessage(body: Uint8Array): LaneMessage {
  if (body.length < 1) throw invalid('empty lane message');
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const need = (n: number) => {
    if (body.length < n) throw invalid(`lane message type ${body[0]} too short (${body.length} < ${n})`);
  };
  const exact = (n: number) => {
    if (body.length !== n) throw invalid(`lane message type ${body[0]} has length ${body.length}, expected ${n}`);
  };
  switch (body[0]) {
    case MSG_HELLO:
      exact(33);
      return {
        type: MSG_HELLO,
        version: body[1]!,
        transferId: body.slice(2, 18),
        resume: body[18] === 1,
        totalSize: getU64(v, 19),
        chunkSize: v.getUint32(27),
        lane: v.getUint16(31),
      };
    case MSG_HELLO_ACK: {
      need(31);
      const n = v.getUint16(29);
      if (n > MAX_HELD_RANGES) throw invalid(`HELLO_ACK lists ${n} held ranges (max ${MAX_HELD_RANGES})`);
      exact(31 + 12 * n);
      const deliveredOffset = getU64(v, 17);
      const held: HeldRange[] = [];
      let end = deliveredOffset;
      for (let i = 0; i < n; i++) {
        const offset = getU64(v, 31 + 12 * i);
        const length = v.getUint32(39 + 12 * i);
        // Ranges are sorted, disjoint, non-empty and past the delivered offset: anything else is malformed.
        if (length === 0 || offset < end || offset + length > 2 ** 53 - 1)
          throw invalid('HELLO_ACK held ranges out of order');
        held.push({ offset, length });
        end = offset + length;
      }
      return {
        type: MSG_HELLO_ACK,
        transferId: body.slice(1, 17),
        deliveredOffset,
        windowBytes: v.getUint32(25),
        held,
      };
    }
    case MSG_DATA: {
      need(18);
      const codecLength = body[17]!;
      const start = 18 + codecLength + 4;
      need(start);
      return {
        type: MSG_DATA,
        seq: v.getUint32(1),
        offset: getU64(v, 5),
        rawLength: v.getUint32(13),
        codec: fromUtf8.decode(body.subarray(18, 18 + codecLength)),
        checksum: v.getUint32(18 + codecLength),
        data: body.subarray(start),
      };
    }
    case MSG_ACK:
      exact(13);
      return { type: MSG_ACK, seq: v.getUint32(1), deliveredOffset: getU64(v, 5) };
    case MSG_NACK:
      exact(6);
      return { type: MSG_NACK, seq: v.getUint32(1), reason: body[5]! };
    case MSG_FIN:
      exact(9);
      return { type: MSG_FIN, totalSize: getU64(v, 1) };
    case MSG_FIN_ACK:
      exact(9);
      return { type: MSG_FIN_ACK, totalSize: getU64(v, 1) };
    case MSG_ERROR: {
      need(2);
      exact(2 + body[1]!);
      return { type: MSG_ERROR, code: fromUtf8.decode(body.subarray(2)) };
    }
    default:
      throw invalid(`unknown lane message type ${body[0]}`);
  }
}

/**
 * Splits a lane's byte stream into message bodies. A length over
 * `maxBodyBytes` fails with `AMST_FRAME_INVALID` before anything is buffered.
 */
export class LaneDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private need = -1;

  constructor(private readonly maxBodyBytes: number) {}

  /** Adds bytes; returns the bodies of all messages now complete. The caller must not reuse `chunk`. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const head = this.take(4);
        const n = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
        if (n > this.maxBodyBytes) throw invalid(`lane message of ${n} bytes exceeds ${this.maxBodyBytes}`);
        this.need = n;
      }
      if (this.buffered < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** True when the stream ended between messages. */
  get clean(): boolean {
    return this.buffered === 0 && this.need < 0;
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      // Fast path: the whole message sits in one chunk (zero copy).
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - got);
      out.set(c.subarray(0, k), got);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
