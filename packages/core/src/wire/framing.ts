import { checksum32 } from '../checksum.js';
import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { assertBytes, assertInteger, invalidArgument } from '../validate.js';

/**
 * Length-prefixed, checksummed frames for byte streams (TCP, memory pipes).
 * Layout and error rules are specified in docs/protocol/framing.md.
 *
 * ```
 * offset 0  u8      magic   0x4e ('N')
 * offset 1  u8      version 1
 * offset 2  u32 BE  payload length
 * offset 6  u32 BE  CRC-32 (IEEE, as zlib) of the payload
 * offset 10 ...     payload
 * ```
 */

/** First byte of every frame (`'N'`). */
export const FRAME_MAGIC = 0x4e;
/** Frame layout version written by {@link encodeFrame} and the only one accepted. */
export const FRAME_VERSION = 1;
/** Bytes in a frame header. */
export const FRAME_HEADER_SIZE = 10;
/** Default largest payload accepted or produced: 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Largest payload the header can describe (u32 length). */
export const MAX_FRAME_SIZE_LIMIT = 0xffff_ffff;

/** Options shared by the frame encoder and decoders. */
export interface FrameOptions {
  /**
   * Largest payload, in bytes, accepted (decoder) or produced (encoder).
   * Defaults to {@link DEFAULT_MAX_FRAME_SIZE}; at most {@link MAX_FRAME_SIZE_LIMIT}.
   */
  maxFrameSize?: number;
}

/** Details of a `CORE_FRAME_OVERSIZED` error. */
export interface FrameOversizedDetails {
  readonly [key: string]: unknown;
  /** Payload length announced by the header (or offered to the encoder). */
  readonly length: number;
  /** The limit in force. */
  readonly maxFrameSize: number;
  /** Stream offset of the frame's header (decoder only). */
  readonly offset?: number;
}

/** Details of a `CORE_FRAME_CORRUPT` error. */
export interface FrameCorruptDetails {
  readonly [key: string]: unknown;
  /** Which header field or check failed. */
  readonly reason: 'magic' | 'version' | 'checksum';
  /** Value the receiver expected. */
  readonly expected: number;
  /** Value found on the wire. */
  readonly actual: number;
  /** Stream offset of the frame's header. */
  readonly offset: number;
}

/** Details of a `CORE_FRAME_TRUNCATED` error. */
export interface FrameTruncatedDetails {
  readonly [key: string]: unknown;
  /** Bytes of the unfinished frame (header included) that did arrive. */
  readonly bufferedBytes: number;
  /** Bytes the unfinished frame needs in total, when its header was complete. */
  readonly expectedBytes?: number;
  /** Stream offset of the unfinished frame's header. */
  readonly offset: number;
}

/** Chunks shorter than this are copied into a shared tail buffer instead of being kept by reference. */
const COALESCE_BELOW = 4096;
const TAIL_CAPACITY = 64 * 1024;

function resolveMaxFrameSize(options: FrameOptions | undefined): number {
  const max = options?.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  assertInteger('options.maxFrameSize', max, { min: 0, max: MAX_FRAME_SIZE_LIMIT });
  return max;
}

/**
 * The 10-byte header for `payload`. Send it followed by `payload` itself
 * (e.g. with a vectored write) to frame a large payload without copying it;
 * {@link encodeFrame} does the concatenation for you.
 *
 * @throws `CORE_FRAME_OVERSIZED` when the payload exceeds `maxFrameSize`.
 */
export function encodeFrameHeader(payload: Uint8Array, options?: FrameOptions): Uint8Array {
  assertBytes('payload', payload);
  const maxFrameSize = resolveMaxFrameSize(options);
  if (payload.length > maxFrameSize) {
    throw new NovacronError<typeof CoreErrorCode.FRAME_OVERSIZED, FrameOversizedDetails>(
      CoreErrorCode.FRAME_OVERSIZED,
      `frame payload of ${payload.length} bytes exceeds maxFrameSize ${maxFrameSize}`,
      { details: { length: payload.length, maxFrameSize } },
    );
  }
  const header = new Uint8Array(FRAME_HEADER_SIZE);
  const view = new DataView(header.buffer);
  header[0] = FRAME_MAGIC;
  header[1] = FRAME_VERSION;
  view.setUint32(2, payload.length);
  view.setUint32(6, checksum32(payload));
  return header;
}

/**
 * Frames `payload`: header followed by a copy of the payload in one array.
 *
 * @throws `CORE_FRAME_OVERSIZED` when the payload exceeds `maxFrameSize`
 *   (so a sender learns of the limit before its peer rejects the stream).
 */
export function encodeFrame(payload: Uint8Array, options?: FrameOptions): Uint8Array {
  const header = encodeFrameHeader(payload, options);
  const frame = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  frame.set(header, 0);
  frame.set(payload, FRAME_HEADER_SIZE);
  return frame;
}

/**
 * Incremental frame decoder for one byte stream.
 *
 * Feed it chunks as they arrive with {@link FrameDecoder.push}; it returns
 * every frame completed by that chunk, whatever the chunk boundaries. Bytes
 * are kept as a list of chunks and each payload is copied exactly once, so
 * decoding is linear in the stream length however it is chunked. A header
 * announcing more than `maxFrameSize` is rejected as soon as the header is
 * complete, before any payload is buffered.
 *
 * After any error the decoder is poisoned: every later call rethrows the
 * same error. A corrupt stream has lost its frame boundaries and cannot be
 * resynchronised safely; close the connection instead.
 */
export class FrameDecoder {
  private readonly maxFrameSize: number;
  /** Unconsumed chunks are `chunks[first..]`; consumed slots are dropped in batches to keep `take` O(1) amortised. */
  private chunks: Uint8Array[] = [];
  private first = 0;
  /** Read position inside `chunks[first]`. */
  private headOffset = 0;
  /**
   * Owned buffer that small chunks are copied into, so a peer trickling
   * 1-byte chunks costs bytes, not one retained array object per byte.
   * Valid only while its view is the last entry of `chunks`.
   */
  private tail: Uint8Array | undefined;
  private tailUsed = 0;
  /** Unconsumed bytes across `chunks`. */
  private buffered = 0;
  /** Stream offset of the next unconsumed byte. */
  private consumed = 0;
  private readonly header = new Uint8Array(FRAME_HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  /** Payload length of the frame whose header was parsed, or -1 while waiting for a header. */
  private pendingLength = -1;
  private pendingChecksum = 0;
  private pendingOffset = 0;
  private failure: NovacronError | undefined;
  private ended = false;

  /** @throws `CORE_INVALID_ARGUMENT` when `maxFrameSize` is not an integer in [0, 2^32 - 1]. */
  constructor(options?: FrameOptions) {
    this.maxFrameSize = resolveMaxFrameSize(options);
  }

  /** Bytes received but not yet returned as frames (a partial frame). */
  get bufferedBytes(): number {
    return this.buffered + (this.pendingLength >= 0 ? FRAME_HEADER_SIZE : 0);
  }

  /**
   * Adds `chunk` and returns the payloads of all frames now complete, in
   * stream order. The decoder may keep a reference to `chunk` until its bytes
   * are consumed, so the caller must not overwrite it afterwards. Returned
   * payloads are fresh arrays the caller owns.
   *
   * @throws `CORE_FRAME_OVERSIZED`, `CORE_FRAME_CORRUPT` (then poisoned),
   *   `CORE_INVALID_STATE` after {@link FrameDecoder.end}.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    if (this.ended) {
      throw new NovacronError(CoreErrorCode.INVALID_STATE, 'FrameDecoder.push called after end()');
    }
    assertBytes('chunk', chunk);
    this.append(chunk);
    const frames: Uint8Array[] = [];
    try {
      for (;;) {
        if (this.pendingLength < 0) {
          if (this.buffered < FRAME_HEADER_SIZE) break;
          this.readHeader();
        }
        if (this.buffered < this.pendingLength) break;
        frames.push(this.readPayload());
      }
    } catch (err) {
      this.failure = err as NovacronError;
      this.release();
      throw err;
    }
    return frames;
  }

  /**
   * Declares the end of the stream.
   *
   * @throws `CORE_FRAME_TRUNCATED` when a partial frame is buffered, or the
   *   poisoning error if an earlier call failed.
   */
  end(): void {
    if (this.failure) throw this.failure;
    this.ended = true;
    const partial = this.bufferedBytes;
    if (partial === 0) return;
    const headerDone = this.pendingLength >= 0;
    const details: FrameTruncatedDetails = headerDone
      ? { bufferedBytes: partial, expectedBytes: FRAME_HEADER_SIZE + this.pendingLength, offset: this.pendingOffset }
      : { bufferedBytes: partial, offset: this.consumed };
    this.failure = new NovacronError<typeof CoreErrorCode.FRAME_TRUNCATED, FrameTruncatedDetails>(
      CoreErrorCode.FRAME_TRUNCATED,
      `stream ended inside a frame: ${partial} of ${details.expectedBytes ?? 'at least ' + FRAME_HEADER_SIZE} bytes received`,
      { details },
    );
    this.release();
    throw this.failure;
  }

  private append(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    this.buffered += n;
    if (n >= COALESCE_BELOW) {
      this.chunks.push(chunk);
      this.tail = undefined;
      return;
    }
    if (this.tail === undefined || this.tailUsed + n > this.tail.length) {
      this.tail = new Uint8Array(TAIL_CAPACITY);
      this.tailUsed = 0;
      this.chunks.push(this.tail.subarray(0, 0));
    }
    this.tail.set(chunk, this.tailUsed);
    this.tailUsed += n;
    // The view starts at 0 like the one it replaces, so `headOffset` stays valid if it is the head.
    this.chunks[this.chunks.length - 1] = this.tail.subarray(0, this.tailUsed);
  }

  /** Copies exactly `target.length` buffered bytes into `target` and consumes them. */
  private take(target: Uint8Array): void {
    let written = 0;
    while (written < target.length) {
      const head = this.chunks[this.first]!;
      const available = head.length - this.headOffset;
      const n = Math.min(available, target.length - written);
      target.set(head.subarray(this.headOffset, this.headOffset + n), written);
      written += n;
      if (n === available) {
        this.first++;
        this.headOffset = 0;
      } else {
        this.headOffset += n;
      }
    }
    if (this.first === this.chunks.length) {
      this.chunks.length = 0;
      this.first = 0;
      this.tail = undefined;
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
    this.buffered -= target.length;
    this.consumed += target.length;
  }

  private release(): void {
    this.pendingLength = -1;
    this.chunks = [];
    this.first = 0;
    this.tail = undefined;
    this.buffered = 0;
  }

  private readHeader(): void {
    const offset = this.consumed;
    this.take(this.header);
    const magic = this.header[0]!;
    if (magic !== FRAME_MAGIC) throw corrupt('magic', FRAME_MAGIC, magic, offset);
    const version = this.header[1]!;
    if (version !== FRAME_VERSION) throw corrupt('version', FRAME_VERSION, version, offset);
    const length = this.headerView.getUint32(2);
    if (length > this.maxFrameSize) {
      throw new NovacronError<typeof CoreErrorCode.FRAME_OVERSIZED, FrameOversizedDetails>(
        CoreErrorCode.FRAME_OVERSIZED,
        `frame at stream offset ${offset} announces ${length} bytes, over maxFrameSize ${this.maxFrameSize}`,
        { details: { length, maxFrameSize: this.maxFrameSize, offset } },
      );
    }
    this.pendingLength = length;
    this.pendingChecksum = this.headerView.getUint32(6);
    this.pendingOffset = offset;
  }

  private readPayload(): Uint8Array {
    const payload = new Uint8Array(this.pendingLength);
    this.take(payload);
    const actual = checksum32(payload);
    if (actual !== this.pendingChecksum) throw corrupt('checksum', this.pendingChecksum, actual, this.pendingOffset);
    this.pendingLength = -1;
    return payload;
  }
}

function corrupt(
  reason: FrameCorruptDetails['reason'],
  expected: number,
  actual: number,
  offset: number,
): NovacronError<typeof CoreErrorCode.FRAME_CORRUPT, FrameCorruptDetails> {
  return new NovacronError(
    CoreErrorCode.FRAME_CORRUPT,
    `corrupt frame at stream offset ${offset}: bad ${reason} (expected ${expected}, found ${actual})`,
    { details: { reason, expected, actual, offset } },
  );
}

/**
 * Yields the payload of every frame in `source`, a stream of byte chunks
 * (a Node `Readable` qualifies).
 *
 * @throws `CORE_FRAME_TRUNCATED` when the source ends inside a frame,
 *   `CORE_FRAME_OVERSIZED` / `CORE_FRAME_CORRUPT` as {@link FrameDecoder},
 *   `CORE_INVALID_ARGUMENT` when the source yields something other than bytes.
 */
export async function* decodeFrames(
  source: AsyncIterable<Uint8Array>,
  options?: FrameOptions,
): AsyncGenerator<Uint8Array, void, undefined> {
  const decoder = new FrameDecoder(options);
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) throw invalidArgument('source chunk', 'a Uint8Array', chunk);
    yield* decoder.push(chunk);
  }
  decoder.end();
}
