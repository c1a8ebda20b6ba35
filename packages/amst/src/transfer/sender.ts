import { randomBytes } from 'node:crypto';
import {
  type ChunkCodecContext,
  type Clock,
  CoreErrorCode,
  type Duplex,
  NovacronError,
  checksum32,
  fromHex,
  isNovacronError,
  noopMetrics,
  systemClock,
  toHex,
} from '@novacron/core';
import { AmstErrorCode, amstError } from '../errors.js';
import { LANE_PRESETS, LaneController, type LanePreset } from './lane-controller.js';
import {
  AMST_VERSION,
  LaneDecoder,
  MSG_ACK,
  MSG_ERROR,
  MSG_FIN,
  MSG_FIN_ACK,
  MSG_HELLO,
  MSG_HELLO_ACK,
  MSG_NACK,
  SIZE_UNKNOWN,
  TRANSFER_ID_BYTES,
  decodeLaneMessage,
  encodeDataHeader,
  encodeLaneMessage,
} from './lane-wire.js';
import { noneCodec } from './none-codec.js';
import { TokenBucket } from './token-bucket.js';
import type { SendTransferOptions, TransferProgress, TransferResult } from './transfer-types.js';

interface Chunk {
  readonly seq: number;
  readonly offset: number;
  readonly raw: Uint8Array;
  readonly checksum: number;
  sends: number;
  sentAt: number;
  acked: boolean;
  lane: Lane | undefined;
}

interface Lane {
  readonly index: number;
  readonly stream: Duplex;
  readonly inflight: Set<Chunk>;
  alive: boolean;
  retiring: boolean;
}

/**
 * Sends one object to an {@link AmstReceiver} over several lanes and resolves
 * when the receiver has written every byte to its sink.
 *
 * The object is cut into chunks (sequence, offset, length, codec id, CRC-32
 * of the raw bytes) that lanes take from one queue, so a faster lane carries
 * more. Unacknowledged chunks of a lane that dies go back to the front of the
 * queue for the others; if every lane dies the sender redials for
 * `resumeWindowMs` and resumes from the receiver's delivered offset. Chunks
 * the receiver refuses as corrupt are re-encoded and resent, up to
 * `maxCorruptChunks`. Memory is bounded by the window: a chunk is read from
 * the source only when it lies within `window` bytes of the receiver's
 * delivered offset.
 *
 * @throws `AMST_ABORTED` (signal), `AMST_RESUME_FAILED` (no lane could be
 *   re-established in the window; details carry `resumeToken` and
 *   `deliveredOffset`), `AMST_TOO_MANY_CORRUPT_CHUNKS`, `AMST_HANDSHAKE_FAILED`,
 *   or a receiver-reported code.
 */
export async function sendTransfer(options: SendTransferOptions): Promise<TransferResult> {
  const session = new SendSession(options);
  return session.run();
}

class SendSession {
  private readonly o: SendTransferOptions;
  private readonly clock: Clock;
  private readonly codec;
  private readonly chunkSize: number;
  private readonly preset: LanePreset;
  private readonly controller: LaneController | undefined;
  private fixedLanes: number;
  private readonly transferId: Uint8Array;
  private readonly bucket: TokenBucket;
  private readonly modelPacing: boolean;
  private readonly maxCorrupt: number;
  private readonly resumeWindowMs: number;
  private readonly codecIdCache = new Map<string, Uint8Array>();

  private readonly lanes = new Set<Lane>();
  private nextLaneIndex = 0;
  private readonly retx: Chunk[] = [];
  private readonly chunks = new Map<number, Chunk>();
  private nextSeq = 0;
  private readOffset = 0;
  private sourceDone = false;
  private source: AsyncIterator<Uint8Array> | undefined;
  private pendingRead: Uint8Array | undefined;
  private reading: Promise<Chunk | undefined> | undefined;
  private window: number;
  private delivered = 0;
  private startOffset = 0;
  private totalSize: number | undefined;

  private failure: Error | undefined;
  private finished = false;
  private finAcked = false;
  private wake: (() => void)[] = [];
  private dialing = 0;
  private deadSince: number | undefined;

  // Measurements.
  private readonly startedAt: number;
  private bytesSent = 0;
  private bytesAcked = 0;
  private wireBytes = 0;
  private retransmittedChunks = 0;
  private retransmittedBytes = 0;
  private corruptChunks = 0;
  private laneFailures = 0;
  private resumes = 0;
  private maxLanes = 0;
  private srtt = 0;
  private minRtt = Number.POSITIVE_INFINITY;
  private pathRtt = 0;
  private minPathRtt = Number.POSITIVE_INFINITY;
  private minChunkRtt = Number.POSITIVE_INFINITY;
  private readonly bwSamples: number[] = [];
  /** Lower bound of the total in-flight cap, doubled while the cap limits a growing goodput. */
  private capFloor = 0;
  private capLimited = false;
  /** Not datacenter mode: the path's own RTT dominates, and the cap follows the smoothed RTT and may slow-start. */
  private readonly longPath: boolean;
  private lastControl = { at: 0, acked: 0, sent: 0, retx: 0 };
  private lastProgress = { at: 0, acked: 0 };
  private intervalRtt = { sum: 0, n: 0 };

  private readonly metrics;

  constructor(options: SendTransferOptions) {
    this.o = options;
    this.clock = options.clock ?? systemClock();
    this.codec = options.codec ?? noneCodec();
    const mode = options.mode ?? 'datacenter';
    // Long lossy paths give each lane a small window: smaller chunks keep a lost packet from holding up much.
    this.chunkSize = options.chunkSize ?? (mode === 'internet' ? 64 * 1024 : 256 * 1024);
    this.preset = { ...LANE_PRESETS[mode], ...options.preset };
    const lanes = options.lanes ?? 'adaptive';
    if (lanes === 'adaptive') {
      this.controller = new LaneController({ preset: this.preset, polite: options.polite ?? false });
      this.fixedLanes = this.controller.target;
    } else {
      if (!Number.isInteger(lanes) || lanes < 1 || lanes > 1024) {
        throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `lanes must be an integer in [1, 1024] or 'adaptive'`);
      }
      this.fixedLanes = lanes;
    }
    this.transferId = options.resumeToken
      ? fromHex(options.resumeToken)
      : options.rng
        ? options.rng.bytes(TRANSFER_ID_BYTES)
        : new Uint8Array(randomBytes(TRANSFER_ID_BYTES));
    if (this.transferId.length !== TRANSFER_ID_BYTES) {
      throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, 'resumeToken must be 32 hex digits');
    }
    this.window = options.windowBytes ?? 64 * 1024 * 1024;
    this.capFloor = 8 * this.chunkSize;
    this.longPath = mode !== 'datacenter';
    this.bucket = new TokenBucket(this.clock, Number.POSITIVE_INFINITY, 4 * this.chunkSize);
    this.modelPacing = options.modelPacing ?? mode === 'internet';
    this.maxCorrupt = options.maxCorruptChunks ?? 32;
    this.resumeWindowMs = options.resumeWindowMs ?? 30_000;
    this.startedAt = this.clock.now();
    this.lastControl.at = this.startedAt;
    this.lastProgress.at = this.startedAt;
    if (options.source instanceof Uint8Array) this.totalSize = options.source.length;
    else this.totalSize = options.totalSize;
    const m = options.metrics ?? noopMetrics();
    this.metrics = {
      sent: m.counter({ name: 'novacron_amst_sent_bytes_total', help: 'Raw bytes sent by amst transfers.' }),
      acked: m.counter({ name: 'novacron_amst_acked_bytes_total', help: 'Raw bytes acknowledged by receivers.' }),
      retx: m.counter({ name: 'novacron_amst_retransmitted_chunks_total', help: 'Chunks sent again.' }),
      lanes: m.gauge({ name: 'novacron_amst_lanes', help: 'Lanes open in amst transfers.' }),
      rtt: m.histogram({
        name: 'novacron_amst_chunk_rtt_seconds',
        help: 'Chunk send-to-ack time in seconds.',
        buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      }),
    };
  }

  async run(): Promise<TransferResult> {
    const signal = this.o.signal;
    const onAbort = () => this.fail(amstError(AmstErrorCode.ABORTED, 'transfer aborted', {}, signal?.reason));
    if (signal?.aborted) throw amstError(AmstErrorCode.ABORTED, 'transfer aborted', {}, signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const progressTimer = this.clock.setInterval(() => this.progress(), this.o.progressIntervalMs ?? 250);
    let controlTimer = this.clock.setInterval(() => this.control(), this.o.controlIntervalMs ?? 250);
    // An allocator's rate holds from the first byte, not only from the first control interval.
    const initialRate = this.o.rate?.();
    if (initialRate !== undefined && initialRate > 0) this.bucket.rate = initialRate;
    try {
      await this.openLane(this.o.resumeToken !== undefined);
      if (this.o.controlIntervalMs === undefined && this.minPathRtt * 4 > 250) {
        controlTimer.cancel();
        controlTimer = this.clock.setInterval(() => this.control(), Math.min(2_000, this.minPathRtt * 4));
      }
      this.adjustLanes();
      while (!this.finAcked) {
        if (this.failure) throw this.failure;
        if (this.allAcked() && !this.finished) {
          this.finished = true;
          void this.sendFin();
        }
        if (this.liveLanes() === 0 && this.dialing === 0 && !this.finAcked) await this.resume();
        await this.waitForEvent();
      }
      if (this.failure) throw this.failure;
      const durationMs = this.clock.now() - this.startedAt;
      const finalLanes = this.activeLanes();
      this.progress();
      await Promise.all([...this.lanes].map((l) => l.stream.close().catch(() => l.stream.abort())));
      const bytes = this.delivered - this.startOffset;
      return {
        transferId: toHex(this.transferId),
        bytes: this.delivered,
        wireBytes: this.wireBytes,
        durationMs,
        maxLanes: this.maxLanes,
        finalLanes,
        retransmittedChunks: this.retransmittedChunks,
        retransmittedBytes: this.retransmittedBytes,
        corruptChunks: this.corruptChunks,
        laneFailures: this.laneFailures,
        resumes: this.resumes,
        goodputBps: durationMs > 0 ? (bytes * 8 * 1000) / durationMs : 0,
      };
    } catch (err) {
      for (const l of this.lanes) l.stream.abort();
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      progressTimer.cancel();
      controlTimer.cancel();
      this.metrics.lanes.dec(this.liveLanes());
    }
  }

  // ---- events -------------------------------------------------------------------------------

  private waitForEvent(): Promise<void> {
    return new Promise((resolve) => this.wake.push(resolve));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  private liveLanes(): number {
    let n = 0;
    for (const l of this.lanes) if (l.alive) n++;
    return n;
  }

  /** Lanes that take new chunks (alive and not retiring): what results and progress report. */
  private activeLanes(): number {
    let n = 0;
    for (const l of this.lanes) if (l.alive && !l.retiring) n++;
    return n;
  }

  private allAcked(): boolean {
    if (!this.sourceDone || this.retx.length > 0 || this.pendingRead) return false;
    for (const c of this.chunks.values()) if (!c.acked) return false;
    return this.delivered === this.readOffset;
  }

  // ---- lanes --------------------------------------------------------------------------------

  private targetLanes(): number {
    return this.controller ? this.controller.target : this.fixedLanes;
  }

  private adjustLanes(): void {
    const target = this.targetLanes();
    let live = 0;
    for (const l of this.lanes) if (l.alive && !l.retiring) live++;
    for (let i = live + this.dialing; i < target; i++) void this.openLane(true).catch(() => {});
    if (live > target) {
      // Retire the newest lanes: they stop taking chunks and close once their in-flight chunks are acked.
      const candidates = [...this.lanes].filter((l) => l.alive && !l.retiring).reverse();
      for (const l of candidates.slice(0, live - target)) {
        l.retiring = true;
        this.maybeCloseRetired(l);
      }
    }
  }

  private maybeCloseRetired(l: Lane): void {
    if (l.retiring && l.alive && l.inflight.size === 0) {
      l.alive = false;
      this.lanes.delete(l);
      this.metrics.lanes.dec();
      void l.stream.close().catch(() => l.stream.abort());
    }
  }

  private async openLane(resume: boolean): Promise<void> {
    this.dialing++;
    let stream: Duplex | undefined;
    try {
      const dialOptions = this.o.signal ? { signal: this.o.signal } : {};
      stream = await this.o.transport.dial(this.o.address, dialOptions);
      const index = this.nextLaneIndex++;
      await stream.write(
        encodeLaneMessage({
          type: MSG_HELLO,
          version: AMST_VERSION,
          transferId: this.transferId,
          resume,
          totalSize: this.totalSize ?? SIZE_UNKNOWN,
          chunkSize: this.chunkSize,
          lane: index % 0x10000,
        }),
      );
      const sentAt = this.clock.now();
      const iterator = stream[Symbol.asyncIterator]();
      const decoder = new LaneDecoder(64 * 1024); // a HELLO_ACK lists up to 4096 held ranges
      let first: ReturnType<typeof decodeLaneMessage> | undefined;
      const pendingBodies: Uint8Array[] = [];
      while (!first) {
        const next = await iterator.next();
        if (next.done) throw amstError(AmstErrorCode.HANDSHAKE_FAILED, 'receiver closed the lane during handshake');
        const bodies = decoder.push(next.value);
        if (bodies.length > 0) {
          first = decodeLaneMessage(bodies[0]!);
          pendingBodies.push(...bodies.slice(1));
        }
      }
      if (first.type === MSG_ERROR) {
        throw amstError(
          first.code === AmstErrorCode.HANDSHAKE_FAILED ? AmstErrorCode.RESUME_FAILED : AmstErrorCode.HANDSHAKE_FAILED,
          `receiver refused the lane: ${first.code}`,
          { resumeToken: toHex(this.transferId), deliveredOffset: this.delivered, receiverCode: first.code },
        );
      }
      if (first.type !== MSG_HELLO_ACK) throw amstError(AmstErrorCode.HANDSHAKE_FAILED, 'expected HELLO_ACK');
      // A fresh connection's handshake crosses the path's queue but no socket buffer: the control loop's RTT signal.
      this.pathRtt = this.clock.now() - sentAt;
      this.minPathRtt = Math.min(this.minPathRtt, this.pathRtt);
      this.sampleRtt(this.pathRtt);
      this.window = Math.min(this.window, first.windowBytes);
      if (first.deliveredOffset > this.delivered) this.advanceDelivered(first.deliveredOffset);
      // With other lanes alive a smaller offset is only a HELLO_ACK overtaken by newer ACKs; with none, the
      // receiver's session is the one answering, and a smaller offset means it restarted with less.
      else if (first.deliveredOffset < this.delivered && this.liveLanes() === 0) this.rewind(first.deliveredOffset);
      this.markHeld(first.held);
      const lane: Lane = { index, stream, inflight: new Set(), alive: true, retiring: false };
      this.lanes.add(lane);
      this.metrics.lanes.inc();
      this.maxLanes = Math.max(this.maxLanes, this.activeLanes());
      if (this.deadSince !== undefined) {
        // The first lane after all had died: the transfer resumed.
        this.resumes++;
        this.deadSince = undefined;
      }
      void this.readLane(lane, iterator, decoder, pendingBodies);
      void this.writeLane(lane);
      // A FIN lost with the lanes that carried it goes again.
      if (this.finished && !this.finAcked && this.liveLanes() === 1) void this.sendFin();
    } catch (err) {
      stream?.abort();
      if (isNovacronError(err) && err.code.startsWith('AMST_')) this.fail(err);
      throw err;
    } finally {
      this.dialing--;
      this.notify();
    }
  }

  /** Every lane is gone: redial until the resume window closes. */
  private async resume(): Promise<void> {
    this.deadSince ??= this.clock.now();
    let delay = 50;
    while (this.clock.now() - this.deadSince < this.resumeWindowMs) {
      if (this.failure) throw this.failure;
      try {
        await this.openLane(true);
        // Everything unacknowledged goes again, in offset order.
        this.requeueAll();
        this.adjustLanes();
        return;
      } catch (err) {
        if (this.failure) throw this.failure;
        this.o.logger?.debug('resume dial failed', { error: String(err) });
      }
      await this.clock.sleep(delay, this.o.signal).catch(() => {});
      delay = Math.min(delay * 2, 2_000);
    }
    this.fail(
      amstError(AmstErrorCode.RESUME_FAILED, `no lane re-established within ${this.resumeWindowMs} ms`, {
        resumeToken: toHex(this.transferId),
        deliveredOffset: this.delivered,
      }),
    );
    throw this.failure;
  }

  /**
   * Chunks the receiver already holds (its HELLO_ACK says so) count as
   * acknowledged: their own ACKs died with the lanes that carried them, and
   * resending them would only be dropped as duplicates.
   */
  private markHeld(held: readonly { offset: number; length: number }[]): void {
    if (held.length === 0) return;
    for (const c of this.chunks.values()) {
      if (c.acked) continue;
      const end = c.offset + c.raw.length;
      if (held.some((r) => r.offset <= c.offset && end <= r.offset + r.length)) {
        c.acked = true;
        c.lane?.inflight.delete(c);
        c.lane = undefined;
        this.bytesAcked += c.raw.length;
        this.metrics.acked.inc(c.raw.length);
      }
    }
  }

  private requeueAll(): void {
    const pending = [...this.chunks.values()].filter((c) => !c.acked && c.sends > 0 && !this.retx.includes(c));
    pending.sort((a, b) => a.seq - b.seq);
    for (const c of pending) {
      c.lane = undefined;
      this.retx.push(c);
    }
    this.retx.sort((a, b) => a.seq - b.seq);
  }

  private laneDied(lane: Lane, err: unknown): void {
    if (!lane.alive && !this.lanes.has(lane)) return;
    const wasAlive = lane.alive;
    lane.alive = false;
    this.lanes.delete(lane);
    if (wasAlive) this.metrics.lanes.dec();
    if (!this.finAcked && wasAlive) {
      this.laneFailures++;
      this.o.logger?.debug('lane died', { lane: lane.index, error: String(err) });
    }
    const orphans = [...lane.inflight].filter((c) => !c.acked).sort((a, b) => a.seq - b.seq);
    lane.inflight.clear();
    for (const c of orphans) c.lane = undefined;
    this.retx.unshift(...orphans);
    lane.stream.abort();
    if (this.liveLanes() === 0 && !this.finAcked) this.deadSince ??= this.clock.now();
    if (this.finished && !this.finAcked && this.liveLanes() > 0) void this.sendFin();
    this.notify();
    if (!this.finAcked && this.liveLanes() > 0) this.adjustLanes();
  }

  // ---- sending ------------------------------------------------------------------------------

  private async writeLane(lane: Lane): Promise<void> {
    try {
      while (lane.alive && !lane.retiring && !this.failure) {
        const chunk = await this.nextChunk(lane);
        if (!chunk) continue;
        await this.bucket.take(chunk.raw.length, this.o.signal);
        if (!lane.alive) {
          this.retx.unshift(chunk);
          this.notify();
          break;
        }
        const context: ChunkCodecContext = {
          mode: this.o.mode ?? 'datacenter',
          chunkIndex: chunk.seq,
          ...(this.o.link?.() ? { link: this.o.link() } : {}),
          ...(this.o.baselineId ? { baselineId: this.o.baselineId } : {}),
        };
        const encoded = await this.codec.encode(chunk.raw, context);
        const codecId = this.codecBytes(encoded.codec);
        const header = encodeDataHeader(
          chunk.seq,
          chunk.offset,
          chunk.raw.length,
          codecId,
          chunk.checksum,
          encoded.data.length,
        );
        if (chunk.sends > 0) {
          this.retransmittedChunks++;
          this.retransmittedBytes += chunk.raw.length;
          this.metrics.retx.inc();
        }
        chunk.sends++;
        chunk.lane = lane;
        chunk.sentAt = this.clock.now();
        lane.inflight.add(chunk);
        this.bytesSent += chunk.raw.length;
        this.wireBytes += header.length + encoded.data.length;
        this.metrics.sent.inc(chunk.raw.length);
        await lane.stream.write(header);
        await lane.stream.write(encoded.data);
      }
    } catch (err) {
      if (isNovacronError(err, AmstErrorCode.ABORTED) || isNovacronError(err, CoreErrorCode.ABORTED)) return;
      this.laneDied(lane, err);
    }
  }

  private codecBytes(id: string): Uint8Array {
    let b = this.codecIdCache.get(id);
    if (!b) {
      b = new TextEncoder().encode(id).subarray(0, 255);
      this.codecIdCache.set(id, b);
    }
    return b;
  }

  /** The next chunk for `lane`: a retransmission first, else a fresh one within the window; waits otherwise. */
  private async nextChunk(lane: Lane): Promise<Chunk | undefined> {
    for (;;) {
      if (!lane.alive || lane.retiring || this.failure) return undefined;
      if (this.laneBytes(lane) >= this.laneCap()) {
        this.capLimited = true;
        await this.waitForEvent();
        continue;
      }
      const again = this.retx.shift();
      if (again) {
        if (again.acked) continue;
        return again;
      }
      if (!this.sourceDone && this.inflightLimitOk()) {
        const fresh = await this.readChunk();
        if (fresh) return fresh;
        continue;
      }
      await this.waitForEvent();
    }
  }

  private laneBytes(lane: Lane): number {
    let n = 0;
    for (const c of lane.inflight) n += c.raw.length;
    return n;
  }

  /**
   * Unacknowledged bytes one lane may hold: its share of twice the
   * bandwidth-delay product (bottleneck rate × smoothed chunk RTT), at least
   * four chunks. Without the cap a lane's socket buffer would swallow chunks
   * a faster lane could have carried, and the transfer would finish at the
   * pace of its slowest lane. The smoothed RTT, not the minimum: measured
   * goodput is itself limited by the cap, and with the minimum RTT a long
   * path's cap settled where it held TCP below its window (one lane on a
   * 40 ms path reached 20 Mbit/s where iperf3 reached 74; with srtt, 70).
   */
  private laneCap(): number {
    const btlBw = this.bwSamples.length > 0 ? Math.max(...this.bwSamples) : 0;
    const lanes = Math.max(1, this.liveLanes());
    if (btlBw <= 0 || !Number.isFinite(this.minChunkRtt)) return Math.max(8 * this.chunkSize, this.capFloor / lanes);
    // Chunk RTT, not handshake RTT: a chunk's round trip includes its serialisation and the receiver's work.
    // Floor of 20 ms: on a LAN or loopback the measured RTT is tiny, and a sender or receiver descheduled
    // for a few milliseconds (a busy host) would otherwise leave the lanes idle.
    // Datacenter mode keeps the minimum chunk RTT: there the RTT is queueing in the hosts, and a cap that
    // follows it fills the sockets' kernel buffers, all of which a reset discards (95 resent chunks
    // instead of 3-19 when every lane was reset on loopback).
    const rtt = this.longPath ? this.srtt : this.minChunkRtt;
    const bdp = (btlBw * Math.max(rtt, 20)) / 1000;
    return Math.max(4 * this.chunkSize, Math.ceil(Math.max(2 * bdp, this.capFloor) / lanes));
  }

  /** Bytes in flight stay within the receiver's window past its delivered offset. */
  private inflightLimitOk(): boolean {
    return this.readOffset + this.chunkSize <= this.delivered + this.window;
  }

  /** Reads the next chunk from the source; concurrent callers share one read. */
  private readChunk(): Promise<Chunk | undefined> {
    this.reading ??= this.doRead().finally(() => {
      this.reading = undefined;
    });
    return this.reading.then((c) => {
      // Only one caller gets a given chunk; the others come back for another.
      if (c && c.sends === 0 && c.lane === undefined && !c.acked && !(c as { taken?: boolean }).taken) {
        (c as { taken?: boolean }).taken = true;
        return c;
      }
      return undefined;
    });
  }

  private async doRead(): Promise<Chunk | undefined> {
    const raw = await this.readRaw(this.chunkSize);
    if (!raw) {
      this.sourceDone = true;
      this.notify();
      return undefined;
    }
    const chunk: Chunk = {
      seq: this.nextSeq++,
      offset: this.readOffset,
      raw,
      checksum: checksum32(raw),
      sends: 0,
      sentAt: 0,
      acked: false,
      lane: undefined,
    };
    this.readOffset += raw.length;
    this.chunks.set(chunk.seq, chunk);
    return chunk;
  }

  /** Up to `n` bytes from the source (fewer only at its end); skips what the receiver already holds. */
  private async readRaw(n: number): Promise<Uint8Array | undefined> {
    const src = this.o.source;
    if (src instanceof Uint8Array) {
      if (this.readOffset < this.delivered) this.readOffset = this.delivered;
      if (this.readOffset >= src.length) return undefined;
      return src.subarray(this.readOffset, Math.min(src.length, this.readOffset + n));
    }
    this.source ??= src[Symbol.asyncIterator]();
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      let piece = this.pendingRead;
      this.pendingRead = undefined;
      if (!piece) {
        const next = await this.source.next();
        if (next.done) break;
        piece = next.value;
      }
      // A resumed transfer skips the prefix the receiver already delivered.
      if (this.readOffset + have < this.delivered && parts.length === 0) {
        const skip = Math.min(piece.length, this.delivered - this.readOffset);
        this.readOffset += skip;
        piece = piece.subarray(skip);
        if (piece.length === 0) continue;
      }
      const take = Math.min(piece.length, n - have);
      parts.push(piece.subarray(0, take));
      have += take;
      if (take < piece.length) this.pendingRead = piece.subarray(take);
    }
    if (have === 0) return undefined;
    // The source's buffers are kept, not copied: like a Node Readable, it must not reuse a yielded buffer.
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(have);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  private async sendFin(): Promise<void> {
    const lane = [...this.lanes].find((l) => l.alive);
    if (!lane) return;
    try {
      await lane.stream.write(encodeLaneMessage({ type: MSG_FIN, totalSize: this.readOffset }));
    } catch (err) {
      this.laneDied(lane, err);
    }
  }

  // ---- receiving ----------------------------------------------------------------------------

  private async readLane(
    lane: Lane,
    iterator: AsyncIterator<Uint8Array>,
    decoder: LaneDecoder,
    pending: Uint8Array[],
  ): Promise<void> {
    try {
      for (const body of pending) this.onMessage(lane, body);
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        for (const body of decoder.push(next.value)) this.onMessage(lane, body);
      }
      if (!this.finAcked && lane.alive && !lane.retiring) this.laneDied(lane, new Error('receiver closed the lane'));
    } catch (err) {
      this.laneDied(lane, err);
    }
  }

  private onMessage(_lane: Lane, body: Uint8Array): void {
    const m = decodeLaneMessage(body);
    switch (m.type) {
      case MSG_ACK: {
        const chunk = this.chunks.get(m.seq);
        if (chunk && !chunk.acked) {
          chunk.acked = true;
          chunk.lane?.inflight.delete(chunk);
          this.bytesAcked += chunk.raw.length;
          this.metrics.acked.inc(chunk.raw.length);
          const rtt = this.clock.now() - chunk.sentAt;
          this.sampleRtt(rtt);
          this.minChunkRtt = Math.min(this.minChunkRtt, rtt);
          this.metrics.rtt.observe(rtt / 1000);
          if (chunk.lane) this.maybeCloseRetired(chunk.lane);
        }
        if (m.deliveredOffset > this.delivered) this.advanceDelivered(m.deliveredOffset);
        this.notify();
        return;
      }
      case MSG_NACK: {
        const chunk = this.chunks.get(m.seq);
        this.corruptChunks++;
        if (this.corruptChunks > this.maxCorrupt) {
          this.fail(
            amstError(AmstErrorCode.TOO_MANY_CORRUPT_CHUNKS, `${this.corruptChunks} chunks refused as corrupt`, {
              corruptChunks: this.corruptChunks,
              resumeToken: toHex(this.transferId),
            }),
          );
          return;
        }
        if (chunk && !chunk.acked) {
          chunk.lane?.inflight.delete(chunk);
          chunk.lane = undefined;
          this.retx.unshift(chunk);
          this.notify();
        }
        return;
      }
      case MSG_FIN_ACK:
        if (m.totalSize === this.readOffset) {
          this.finAcked = true;
          this.notify();
        }
        return;
      case MSG_ERROR:
        this.fail(
          new NovacronError(m.code, `receiver failed the transfer: ${m.code}`, {
            details: { resumeToken: toHex(this.transferId), deliveredOffset: this.delivered },
          }),
        );
        return;
      default:
        throw amstError(AmstErrorCode.FRAME_INVALID, `unexpected message type ${m.type} from the receiver`);
    }
  }

  private advanceDelivered(offset: number): void {
    this.delivered = offset;
    // Chunks wholly below the delivered offset are done: free their memory.
    for (const [seq, c] of this.chunks) {
      if (c.offset + c.raw.length <= offset) {
        if (!c.acked) {
          c.acked = true;
          c.lane?.inflight.delete(c);
          this.bytesAcked += c.raw.length;
        }
        this.chunks.delete(seq);
      } else break;
    }
    if (this.startOffset === 0 && this.bytesSent === 0) this.startOffset = offset;
    if (this.readOffset < offset && this.o.source instanceof Uint8Array) this.readOffset = offset;
  }

  /**
   * A restarted receiver holds less than it had acknowledged (its partial copy
   * lost unsynced writes): start again from its offset. Only a byte-array
   * source can go back; an iterable has already been consumed.
   */
  private rewind(offset: number): void {
    if (!(this.o.source instanceof Uint8Array)) {
      throw amstError(
        AmstErrorCode.RESUME_FAILED,
        `receiver resumed at ${offset}, before the ${this.delivered} bytes it acknowledged, and the source cannot rewind`,
        { resumeToken: toHex(this.transferId), deliveredOffset: offset },
      );
    }
    this.delivered = offset;
    this.readOffset = offset;
    this.sourceDone = false;
    this.retx.length = 0;
    for (const lane of this.lanes) lane.inflight.clear();
    this.chunks.clear();
  }

  private sampleRtt(rtt: number): void {
    this.srtt = this.srtt === 0 ? rtt : 0.875 * this.srtt + 0.125 * rtt;
    this.minRtt = Math.min(this.minRtt, rtt);
    this.intervalRtt.sum += rtt;
    this.intervalRtt.n++;
  }

  // ---- control and progress -----------------------------------------------------------------

  private control(): void {
    const now = this.clock.now();
    const dt = (now - this.lastControl.at) / 1000;
    if (dt <= 0) return;
    const goodput = (this.bytesAcked - this.lastControl.acked) / dt;
    const sent = this.bytesSent - this.lastControl.sent;
    const retx = this.retransmittedBytes - this.lastControl.retx;
    const lossRate = sent > 0 ? retx / sent : 0;
    const rtt = this.intervalRtt.n > 0 ? this.intervalRtt.sum / this.intervalRtt.n : this.srtt;
    this.lastControl = { at: now, acked: this.bytesAcked, sent: this.bytesSent, retx: this.retransmittedBytes };
    this.intervalRtt = { sum: 0, n: 0 };
    // Slow start for the cap: measured goodput is itself held by the cap, so while lanes wait on it
    // and goodput still grows, let the cap double each interval instead of waiting for the estimate.
    const lastBw = this.bwSamples[this.bwSamples.length - 1] ?? 0;
    if (this.longPath && this.capLimited && goodput > lastBw * 1.1)
      this.capFloor = Math.min(this.capFloor * 2, this.window);
    this.capLimited = false;
    this.bwSamples.push(goodput);
    if (this.bwSamples.length > 10) this.bwSamples.shift();
    const btlBw = Math.max(...this.bwSamples);
    this.o.onLinkSample?.({
      at: now,
      rttMs: Number.isFinite(this.minRtt) ? rtt : 0,
      bandwidthBps: goodput * 8,
      lossRate: Math.min(1, lossRate),
      source: 'amst',
    });
    const external = this.o.rate?.();
    if (external !== undefined) this.bucket.rate = external > 0 ? external : Number.POSITIVE_INFINITY;
    else if (this.modelPacing && now - this.startedAt > 1_000 && btlBw > 0) {
      // Like BBR's startup gain: while goodput still grows, pace well above it, or pacing at 1.25x the
      // estimate would itself hold the estimate down (one lane on a 150 ms path stuck near 30 Mbit/s).
      this.bucket.rate = btlBw * (goodput > lastBw * 1.1 ? 2.5 : 1.25);
    }
    if (this.controller && !this.finished && this.liveLanes() > 0 && goodput > 0) {
      // Chunk RTTs include serialisation at a lane's share of the rate, so they grow with the lane count
      // by themselves; the handshake RTT of the newest lane measures the path's queue instead.
      // A sample counts once: a stale one must not keep pushing the count down after the queue has drained.
      const pathRtt = this.pathRtt > 0 ? this.pathRtt : this.minPathRtt;
      this.pathRtt = 0;
      this.controller.update({ goodputBps: goodput * 8, rttMs: pathRtt, minRttMs: this.minPathRtt, lossRate });
      this.adjustLanes();
    }
  }

  private progress(): void {
    const now = this.clock.now();
    const dt = (now - this.lastProgress.at) / 1000;
    const goodput = dt > 0 ? ((this.bytesAcked - this.lastProgress.acked) * 8) / dt : 0;
    this.lastProgress = { at: now, acked: this.bytesAcked };
    const total = this.totalSize;
    const p: TransferProgress = {
      elapsedMs: now - this.startedAt,
      bytesSent: this.bytesSent,
      bytesAcked: this.delivered,
      totalBytes: total,
      goodputBps: goodput,
      rttMs: this.srtt,
      lanes: this.activeLanes(),
      etaMs: total !== undefined && goodput > 0 ? (((total - this.delivered) * 8) / goodput) * 1000 : undefined,
    };
    this.o.onProgress?.(p);
  }
}
