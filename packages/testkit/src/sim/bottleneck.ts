import { type Rng, assertNumber, invalidArgument } from '@novacron/core';

/** The behaviour of one direction of a simulated stream path. */
export interface StreamPathConfig {
  /** Base one-way propagation delay in milliseconds (the RTT floor is twice this on a symmetric path). */
  readonly latencyMs: number;
  /** Bottleneck rate in bytes per second; `Infinity` serialises instantly and never queues. */
  readonly bytesPerSecond: number;
  /**
   * Bottleneck buffer in bytes, drop-tail: a segment that would push the
   * backlog past this is dropped whole. A shallow buffer punishes bursts; a
   * deep one (several bandwidth-delay products) adds queueing delay instead.
   */
  readonly queueBytes: number;
  /**
   * Random loss probability per packet (`packetBytes` of the TCP config) in
   * [0, 1); a segment is lost when any of its packets is.
   */
  readonly loss: number;
}

/** Every direction's path unless configured otherwise: 1 ms one way, 10 Gbit/s, 4 MiB buffer, no loss. */
export const DEFAULT_STREAM_PATH: StreamPathConfig = Object.freeze({
  latencyMs: 1,
  bytesPerSecond: 1.25e9,
  queueBytes: 4 * 1024 * 1024,
  loss: 0,
});

/**
 * Applies `override` on top of `base`, validating each field given; throws
 * `CORE_INVALID_ARGUMENT` naming the bad field (prefixed with `argument`).
 */
export function mergeStreamPathConfig(
  base: StreamPathConfig,
  override: Partial<StreamPathConfig>,
  argument = 'config',
): StreamPathConfig {
  if (typeof override !== 'object' || override === null) {
    throw invalidArgument(argument, 'a partial stream path config object', override);
  }
  const o = override;
  if (o.latencyMs !== undefined) assertNumber(`${argument}.latencyMs`, o.latencyMs, { min: 0 });
  if (o.bytesPerSecond !== undefined) {
    // Infinity is allowed ("no bottleneck"), so assertNumber's finiteness check does not fit.
    if (typeof o.bytesPerSecond !== 'number' || !(o.bytesPerSecond > 0)) {
      throw invalidArgument(`${argument}.bytesPerSecond`, 'a number > 0 (Infinity allowed)', o.bytesPerSecond);
    }
  }
  if (o.queueBytes !== undefined) assertNumber(`${argument}.queueBytes`, o.queueBytes, { min: 0 });
  if (o.loss !== undefined) assertNumber(`${argument}.loss`, o.loss, { min: 0, max: 0.999999 });
  return Object.freeze({
    latencyMs: o.latencyMs ?? base.latencyMs,
    bytesPerSecond: o.bytesPerSecond ?? base.bytesPerSecond,
    queueBytes: o.queueBytes ?? base.queueBytes,
    loss: o.loss ?? base.loss,
  });
}

/** Counters of one path direction over the life of a run. */
export interface StreamPathStats {
  /** Segments offered to the path (first transmissions and retransmissions). */
  readonly segmentsSent: number;
  /** Payload bytes offered to the path. */
  readonly bytesSent: number;
  /** Segments that reached the far end. */
  readonly segmentsDelivered: number;
  /** Payload bytes that reached the far end (duplicates included). */
  readonly bytesDelivered: number;
  /** Segments dropped because the bottleneck buffer was full. */
  readonly queueDrops: number;
  /** Segments lost at random (the `loss` probability). */
  readonly randomLosses: number;
  /** Segments dropped by a partition, or because the far end was down. */
  readonly partitionDrops: number;
  /** Every dropped segment, whatever the cause. */
  readonly drops: number;
  /** Segments that were retransmissions. */
  readonly retransmits: number;
  /** Largest backlog seen in the bottleneck buffer, in bytes. */
  readonly maxQueueBytes: number;
}

/** Outcome of {@link Bottleneck.offer}: an arrival time, or why the segment never arrives. */
export type OfferResult = { readonly arriveAt: number } | { readonly drop: 'queue' | 'loss' };

/**
 * One direction of a path: a drop-tail FIFO in front of a link of fixed
 * rate, then a fixed propagation delay. Shared by every connection between
 * the same two nodes, so parallel streams really compete for the buffer.
 *
 * The queue is kept as a single number, the time the link finishes
 * serialising its backlog: occupancy is `(busyUntil - now) × rate`. That is
 * exact for a FIFO of whole segments and costs no event per byte; each
 * segment costs one arrival event.
 */
export class Bottleneck {
  #config: StreamPathConfig;
  #busyUntil = 0;
  #segmentsSent = 0;
  #bytesSent = 0;
  #segmentsDelivered = 0;
  #bytesDelivered = 0;
  #queueDrops = 0;
  #randomLosses = 0;
  #partitionDrops = 0;
  #retransmits = 0;
  #maxQueue = 0;

  /** @param config the direction's behaviour (validated by {@link mergeStreamPathConfig}). */
  constructor(config: StreamPathConfig) {
    this.#config = config;
  }

  /** The current behaviour. */
  get config(): StreamPathConfig {
    return this.#config;
  }

  /** Replaces the behaviour; the backlog already queued drains at the new rate from now on. */
  set config(config: StreamPathConfig) {
    this.#config = config;
  }

  /** Bytes waiting in (or being serialised by) the bottleneck at `now`. */
  backlog(now: number): number {
    const rate = this.#config.bytesPerSecond;
    if (!Number.isFinite(rate) || this.#busyUntil <= now) return 0;
    return ((this.#busyUntil - now) * rate) / 1000;
  }

  /**
   * Puts a segment of `bytes` payload (`packets` MTU packets) on the path at
   * `now`. Random loss is drawn after the queue, so a lost segment still
   * used its share of the link, as on a real lossy hop.
   */
  offer(now: number, bytes: number, packets: number, rng: Rng, retransmit: boolean): OfferResult {
    const c = this.#config;
    this.#segmentsSent++;
    this.#bytesSent += bytes;
    if (retransmit) this.#retransmits++;
    let departure = now;
    if (Number.isFinite(c.bytesPerSecond)) {
      const queued = this.backlog(now);
      // An empty buffer always takes a segment, or a buffer smaller than one segment would wedge the path.
      if (queued > 0 && queued + bytes > c.queueBytes) {
        this.#queueDrops++;
        return { drop: 'queue' };
      }
      this.#busyUntil = Math.max(now, this.#busyUntil) + (bytes * 1000) / c.bytesPerSecond;
      departure = this.#busyUntil;
      this.#maxQueue = Math.max(this.#maxQueue, queued + bytes);
    }
    if (c.loss > 0 && rng.chance(1 - (1 - c.loss) ** packets)) {
      this.#randomLosses++;
      return { drop: 'loss' };
    }
    return { arriveAt: departure + c.latencyMs };
  }

  /** Counts a segment sent into a partition: it never enters the queue. */
  refused(bytes: number, retransmit: boolean): void {
    this.#segmentsSent++;
    this.#bytesSent += bytes;
    if (retransmit) this.#retransmits++;
    this.#partitionDrops++;
  }

  /** Counts a segment that reached the far end. */
  delivered(bytes: number): void {
    this.#segmentsDelivered++;
    this.#bytesDelivered += bytes;
  }

  /** Counts a segment dropped by a partition or a down receiver. */
  partitionDropped(): void {
    this.#partitionDrops++;
  }

  /** A snapshot of the counters. */
  stats(): StreamPathStats {
    return {
      segmentsSent: this.#segmentsSent,
      bytesSent: this.#bytesSent,
      segmentsDelivered: this.#segmentsDelivered,
      bytesDelivered: this.#bytesDelivered,
      queueDrops: this.#queueDrops,
      randomLosses: this.#randomLosses,
      partitionDrops: this.#partitionDrops,
      drops: this.#queueDrops + this.#randomLosses + this.#partitionDrops,
      retransmits: this.#retransmits,
      maxQueueBytes: this.#maxQueue,
    };
  }
}
