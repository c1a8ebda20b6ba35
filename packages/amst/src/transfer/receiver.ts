import {
  type ChunkCodec,
  type Clock,
  type Duplex,
  type Listener,
  type LinkMode,
  type Logger,
  type Metrics,
  type Startable,
  type StreamTransport,
  checksum32,
  isNovacronError,
  noopMetrics,
  systemClock,
  toHex,
} from '@novacron/core';
import { AmstErrorCode, amstError } from '../errors.js';
import {
  AMST_VERSION,
  LaneDecoder,
  MSG_ACK,
  MSG_DATA,
  MSG_ERROR,
  MSG_FIN,
  MSG_FIN_ACK,
  MSG_HELLO,
  MSG_HELLO_ACK,
  MSG_NACK,
  SIZE_UNKNOWN,
  type HeldRange,
  decodeLaneMessage,
  encodeLaneMessage,
} from './lane-wire.js';
import { RAW_CODEC, noneCodec } from './none-codec.js';

/** Where a receiver writes one transfer's bytes, in order. */
export interface TransferSink {
  /** Writes the next bytes; amst awaits it before writing more (backpressure). */
  write(data: Uint8Array): Promise<void>;
  /** All bytes arrived and were written. */
  close(): Promise<void>;
  /** The transfer failed or expired; discard or keep the partial data. */
  abort?(error: Error): void;
}

/** What the receiver knows about an incoming transfer when asking for its sink. */
export interface IncomingTransfer {
  /** The transfer id (its resume token), 32 hex digits. */
  readonly transferId: string;
  /** Total bytes, when the sender knows them. */
  readonly totalSize: number | undefined;
  /** The sender's chunk size. */
  readonly chunkSize: number;
}

/** Options for {@link AmstReceiver}. */
export interface AmstReceiverOptions {
  /** The stream transport carrying the lanes. */
  readonly transport: StreamTransport;
  /** Where to listen (`127.0.0.1:0`, `b:0` in the simulator). */
  readonly listenAddress: string;
  /** Called once per new transfer; returns where its bytes go. */
  readonly onTransfer: (transfer: IncomingTransfer) => TransferSink | Promise<TransferSink>;
  /**
   * Called when a sender resumes a transfer this receiver does not remember
   * (it restarted): return a sink that continues a partial copy and how many
   * bytes that copy already holds, or `undefined` to refuse. The sender
   * continues from `offset` (from the start if it cannot rewind).
   */
  readonly onResume?: (
    transfer: IncomingTransfer,
  ) => { sink: TransferSink; offset: number } | undefined | Promise<{ sink: TransferSink; offset: number } | undefined>;
  /** Decodes chunks; must understand what the sender's codec produces (default: {@link noneCodec}). */
  readonly codec?: ChunkCodec;
  /** Link mode passed to the codec (default `datacenter`). */
  readonly mode?: LinkMode;
  /** Bytes beyond the delivered offset a sender may have outstanding: the receiver's memory bound (default 64 MiB). */
  readonly windowBytes?: number;
  /** Largest chunk accepted (default 16 MiB). */
  readonly maxChunkSize?: number;
  /** How long a transfer whose lanes all died waits for the sender to resume (default 30 s). */
  readonly resumeWindowMs?: number;
  /** Corrupt chunks tolerated per transfer before it fails with `AMST_TOO_MANY_CORRUPT_CHUNKS` (default 32). */
  readonly maxCorruptChunks?: number;
  /** Time source (default: the system clock; the simulator passes a virtual one). */
  readonly clock?: Clock;
  /** Debug logging (default: none). */
  readonly logger?: Logger;
  /** Where counters go (default: nowhere). */
  readonly metrics?: Metrics;
}

/** Per-transfer receiver statistics. */
export interface ReceiverTransferStats {
  /** The transfer id (resume token). */
  readonly transferId: string;
  /** Bytes written to the sink, in order. */
  readonly delivered: number;
  /** Chunks refused as corrupt. */
  readonly corruptChunks: number;
  /** Chunks received again after a resend (acknowledged and dropped). */
  readonly duplicateChunks: number;
  /** The sink was closed after the last byte. */
  readonly finished: boolean;
}

interface Session {
  readonly id: string;
  readonly idBytes: Uint8Array;
  readonly info: IncomingTransfer;
  sink: Promise<TransferSink>;
  delivered: number;
  /** Offset → raw bytes, past `delivered`. */
  readonly buffer: Map<number, Uint8Array>;
  bufferedBytes: number;
  writing: boolean;
  readonly lanes: Set<Duplex>;
  corrupt: number;
  duplicates: number;
  finished: boolean;
  failed: boolean;
  finRequested: { total: number; lane: Duplex } | undefined;
  expiry: { cancel(): void } | undefined;
}

/**
 * Accepts amst transfers (docs/protocol/amst.md): lanes of one transfer
 * share a session; chunks are verified (CRC-32 of the raw bytes after
 * decoding), acknowledged, reassembled in offset order in a buffer bounded
 * by the window it announces, and written to the transfer's sink one at a
 * time. A session whose lanes all die waits `resumeWindowMs` for the sender
 * to resume it with its transfer id.
 */
export class AmstReceiver implements Startable {
  private readonly opts: AmstReceiverOptions;
  private readonly codec: ChunkCodec;
  private readonly clock: Clock;
  private readonly windowBytes: number;
  private readonly maxChunkSize: number;
  private readonly resumeWindowMs: number;
  private readonly maxCorrupt: number;
  private readonly sessions = new Map<string, Session>();
  private readonly lanes = new Set<Duplex>();
  private listener: Listener | undefined;
  private readonly corruptCounter;
  private readonly bytesCounter;
  private readonly duplicateCounter;

  constructor(options: AmstReceiverOptions) {
    this.opts = options;
    this.codec = options.codec ?? noneCodec();
    this.clock = options.clock ?? systemClock();
    this.windowBytes = options.windowBytes ?? 64 * 1024 * 1024;
    this.maxChunkSize = options.maxChunkSize ?? 16 * 1024 * 1024;
    this.resumeWindowMs = options.resumeWindowMs ?? 30_000;
    this.maxCorrupt = options.maxCorruptChunks ?? 32;
    const metrics = options.metrics ?? noopMetrics();
    this.corruptCounter = metrics.counter({
      name: 'novacron_amst_corrupt_chunks_total',
      help: 'Chunks received with a bad checksum or length.',
    });
    this.duplicateCounter = metrics.counter({
      name: 'novacron_amst_duplicate_chunks_total',
      help: 'Chunks received again although already held or delivered (wire bytes wasted by resends).',
    });
    this.bytesCounter = metrics.counter({
      name: 'novacron_amst_received_bytes_total',
      help: 'Bytes delivered in order to transfer sinks.',
    });
  }

  /** The bound address, once started. */
  get address(): string | undefined {
    return this.listener?.address;
  }

  /** Statistics of a transfer the receiver still remembers. */
  transferStats(transferId: string): ReceiverTransferStats | undefined {
    const s = this.sessions.get(transferId);
    if (!s) return undefined;
    return {
      transferId,
      delivered: s.delivered,
      corruptChunks: s.corrupt,
      duplicateChunks: s.duplicates,
      finished: s.finished,
    };
  }

  /** Starts listening for lanes. */
  async start(): Promise<void> {
    if (this.listener) return;
    this.listener = await this.opts.transport.listen(this.opts.listenAddress, (lane) => {
      this.lanes.add(lane);
      void this.serve(lane).finally(() => this.lanes.delete(lane));
    });
  }

  /** Stops listening and aborts every lane; unfinished transfers' sinks are aborted. */
  async stop(): Promise<void> {
    await this.listener?.close();
    this.listener = undefined;
    for (const lane of this.lanes) lane.abort();
    for (const s of this.sessions.values()) this.fail(s, amstError(AmstErrorCode.ABORTED, 'receiver stopped'));
    this.sessions.clear();
  }

  private async serve(lane: Duplex): Promise<void> {
    const decoder = new LaneDecoder(this.maxChunkSize + 512);
    let session: Session | undefined;
    try {
      for await (const chunk of lane) {
        for (const body of decoder.push(chunk)) {
          const m = decodeLaneMessage(body);
          if (!session) {
            if (m.type !== MSG_HELLO)
              throw amstError(AmstErrorCode.HANDSHAKE_FAILED, 'first lane message is not HELLO');
            session = await this.hello(lane, m);
            continue;
          }
          if (m.type === MSG_DATA) await this.data(session, lane, m);
          else if (m.type === MSG_FIN) this.fin(session, lane, m.totalSize);
          else throw amstError(AmstErrorCode.FRAME_INVALID, `unexpected message type ${m.type} from a sender`);
        }
      }
    } catch (err) {
      this.opts.logger?.debug('lane failed', { error: String(err) });
      if (isNovacronError(err) && err.code.startsWith('AMST_') && err.code !== AmstErrorCode.LANE_CLOSED) {
        void lane.write(encodeLaneMessage({ type: MSG_ERROR, code: err.code })).catch(() => {});
      }
      lane.abort();
    }
    if (session) this.detach(session, lane);
  }

  private async hello(lane: Duplex, m: Extract<ReturnType<typeof decodeLaneMessage>, { type: 1 }>): Promise<Session> {
    if (m.version !== AMST_VERSION) {
      throw amstError(AmstErrorCode.HANDSHAKE_FAILED, `unsupported amst version ${m.version}`);
    }
    if (m.chunkSize < 1 || m.chunkSize > this.maxChunkSize) {
      throw amstError(AmstErrorCode.HANDSHAKE_FAILED, `chunk size ${m.chunkSize} out of range`);
    }
    const id = toHex(m.transferId);
    let s = this.sessions.get(id);
    if (!s) {
      const info: IncomingTransfer = {
        transferId: id,
        totalSize: m.totalSize === SIZE_UNKNOWN ? undefined : m.totalSize,
        chunkSize: m.chunkSize,
      };
      let partial: { sink: TransferSink; offset: number } | undefined;
      if (m.resume) {
        partial = await this.opts.onResume?.(info);
        if (!partial || !Number.isSafeInteger(partial.offset) || partial.offset < 0) {
          throw amstError(AmstErrorCode.HANDSHAKE_FAILED, `unknown or expired transfer ${id}`);
        }
      }
      s = {
        id,
        idBytes: m.transferId,
        info,
        sink: partial ? Promise.resolve(partial.sink) : Promise.resolve(this.opts.onTransfer(info)),
        delivered: partial?.offset ?? 0,
        buffer: new Map(),
        bufferedBytes: 0,
        writing: false,
        lanes: new Set(),
        corrupt: 0,
        duplicates: 0,
        finished: false,
        failed: false,
        finRequested: undefined,
        expiry: undefined,
      };
      this.sessions.set(id, s);
      await s.sink;
    }
    if (s.failed) throw amstError(AmstErrorCode.HANDSHAKE_FAILED, `transfer ${id} already failed`);
    s.expiry?.cancel();
    s.expiry = undefined;
    s.lanes.add(lane);
    await lane.write(
      encodeLaneMessage({
        type: MSG_HELLO_ACK,
        transferId: s.idBytes,
        deliveredOffset: s.delivered,
        windowBytes: this.windowBytes,
        held: heldRanges(s.buffer, s.delivered),
      }),
    );
    return s;
  }

  private async data(s: Session, lane: Duplex, m: Extract<ReturnType<typeof decodeLaneMessage>, { type: 3 }>) {
    if (m.rawLength > this.maxChunkSize) throw amstError(AmstErrorCode.FRAME_INVALID, 'chunk over maxChunkSize');
    if (m.offset + m.rawLength > s.delivered + this.windowBytes) {
      throw amstError(AmstErrorCode.FRAME_INVALID, `chunk at ${m.offset} beyond the announced window`);
    }
    const ack = () =>
      lane.write(encodeLaneMessage({ type: MSG_ACK, seq: m.seq, deliveredOffset: s.delivered })).catch(() => {});
    if (m.offset + m.rawLength <= s.delivered || s.buffer.has(m.offset)) {
      s.duplicates++;
      this.duplicateCounter.inc();
      void ack();
      return;
    }
    let raw: Uint8Array | undefined;
    try {
      raw =
        m.codec === RAW_CODEC
          ? m.data
          : await this.codec.decode(
              { codec: m.codec, data: m.data, rawLength: m.rawLength },
              { mode: this.opts.mode ?? 'datacenter', chunkIndex: m.seq },
            );
    } catch {
      raw = undefined;
    }
    if (!raw || raw.length !== m.rawLength || checksum32(raw) !== m.checksum) {
      s.corrupt++;
      this.corruptCounter.inc();
      if (s.corrupt > this.maxCorrupt) {
        const err = amstError(AmstErrorCode.TOO_MANY_CORRUPT_CHUNKS, `${s.corrupt} corrupt chunks`, {
          corruptChunks: s.corrupt,
        });
        this.fail(s, err);
        throw err;
      }
      void lane.write(encodeLaneMessage({ type: MSG_NACK, seq: m.seq, reason: 1 })).catch(() => {});
      return;
    }
    // A chunk straddling the delivered offset (a resumed receiver's partial copy ended inside it): keep the tail.
    let offset = m.offset;
    if (offset < s.delivered) {
      raw = raw.subarray(s.delivered - offset);
      offset = s.delivered;
      if (s.buffer.has(offset)) {
        s.duplicates++;
        this.duplicateCounter.inc();
        void ack();
        return;
      }
    }
    // Kept without a copy: transports hand over each chunk they yield (TCP, memory and simulated ones do).
    s.buffer.set(offset, raw);
    s.bufferedBytes += raw.length;
    void ack();
    void this.drain(s);
  }

  /** Writes buffered chunks to the sink in offset order, one at a time. */
  private async drain(s: Session): Promise<void> {
    if (s.writing) return;
    s.writing = true;
    try {
      const sink = await s.sink;
      for (let next = s.buffer.get(s.delivered); next; next = s.buffer.get(s.delivered)) {
        s.buffer.delete(s.delivered);
        await sink.write(next);
        s.bufferedBytes -= next.length;
        s.delivered += next.length;
        this.bytesCounter.inc(next.length);
      }
    } catch (err) {
      this.fail(s, amstError(AmstErrorCode.SINK_FAILED, `sink failed: ${String(err)}`, {}, err));
      return;
    } finally {
      s.writing = false;
    }
    // Tell the sender how far the sink got, so its window can move even when no chunk is due an ack.
    const lane = s.lanes.values().next().value;
    if (lane && !s.failed) {
      void lane
        .write(encodeLaneMessage({ type: MSG_ACK, seq: 0xffff_ffff, deliveredOffset: s.delivered }))
        .catch(() => {});
    }
    if (s.finRequested) void this.finish(s);
  }

  private fin(s: Session, lane: Duplex, total: number): void {
    s.finRequested = { total, lane };
    void this.finish(s);
  }

  private async finish(s: Session): Promise<void> {
    const req = s.finRequested;
    if (!req || s.writing || s.finished || s.failed) return;
    if (s.delivered !== req.total) {
      if (s.buffer.size === 0 && s.delivered < req.total) return; // chunks still in flight on other lanes
      if (s.delivered > req.total) {
        this.fail(s, amstError(AmstErrorCode.FRAME_INVALID, `FIN for ${req.total} bytes after ${s.delivered}`));
      }
      return;
    }
    s.finished = true;
    try {
      await (await s.sink).close();
    } catch (err) {
      this.fail(s, amstError(AmstErrorCode.SINK_FAILED, `sink close failed: ${String(err)}`, {}, err));
      return;
    }
    await req.lane.write(encodeLaneMessage({ type: MSG_FIN_ACK, totalSize: req.total })).catch(() => {});
  }

  private fail(s: Session, err: Error): void {
    if (s.failed || s.finished) return;
    s.failed = true;
    const code = isNovacronError(err) ? err.code : AmstErrorCode.LANE_CLOSED;
    for (const lane of s.lanes) {
      void lane
        .write(encodeLaneMessage({ type: MSG_ERROR, code }))
        .catch(() => {})
        .finally(() => lane.abort());
    }
    void s.sink.then((sink) => sink.abort?.(err)).catch(() => {});
    s.buffer.clear();
  }

  private detach(s: Session, lane: Duplex): void {
    s.lanes.delete(lane);
    if (s.lanes.size > 0) return;
    if (s.finished || s.failed) {
      this.sessions.delete(s.id);
      return;
    }
    s.expiry = this.clock.setTimeout(() => {
      if (s.lanes.size > 0) return;
      this.fail(s, amstError(AmstErrorCode.RESUME_FAILED, `transfer ${s.id} not resumed in time`));
      this.sessions.delete(s.id);
    }, this.resumeWindowMs);
  }
}

/** The buffered chunks past `delivered` as sorted, merged ranges (what HELLO_ACK tells a resuming sender). */
function heldRanges(buffer: Map<number, Uint8Array>, delivered: number): HeldRange[] {
  const offsets = [...buffer.keys()].filter((o) => o >= delivered).sort((a, b) => a - b);
  const out: { offset: number; length: number }[] = [];
  for (const o of offsets) {
    const len = buffer.get(o)!.length;
    const last = out[out.length - 1];
    if (last && last.offset + last.length === o) last.length += len;
    else if (!last || o >= last.offset + last.length) out.push({ offset: o, length: len });
  }
  return out;
}

/** A sink that keeps everything in memory; `bytes()` returns the concatenation. For tests and small objects. */
export function memorySink(): TransferSink & { bytes(): Uint8Array; closed: boolean } {
  const parts: Uint8Array[] = [];
  let size = 0;
  const sink = {
    closed: false,
    async write(data: Uint8Array) {
      parts.push(data);
      size += data.length;
    },
    async close() {
      sink.closed = true;
    },
    bytes() {
      const out = new Uint8Array(size);
      let off = 0;
      for (const p of parts) {
        out.set(p, off);
        off += p.length;
      }
      return out;
    },
  };
  return sink;
}
