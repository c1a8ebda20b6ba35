import { assertNumber } from '@novacron/core';

/** Parameters of {@link CubicWindow}; every field has a default. */
export interface CubicOptions {
  /** Bytes per packet (MTU payload): the unit CUBIC's formula counts in (default 1500). */
  readonly packetBytes?: number;
  /** Initial window in packets (default 10, as in RFC 6928). */
  readonly initialWindowPackets?: number;
  /** CUBIC's scaling constant C (default 0.4). */
  readonly c?: number;
  /** Multiplicative decrease factor beta (default 0.7). */
  readonly beta?: number;
}

/**
 * A CUBIC congestion window (RFC 9438) counted in bytes: slow start up to
 * `ssthresh`, then `W(t) = C(t - K)^3 + Wmax` with `K = cbrt(Wmax(1 - beta)/C)`,
 * never below the Reno-friendly estimate, fast convergence, and a window of
 * one packet after a retransmission timeout. Time is in milliseconds; the
 * formula runs in packets and seconds as the RFC writes it.
 */
export class CubicWindow {
  readonly #pkt: number;
  readonly #c: number;
  readonly #beta: number;
  readonly #alpha: number;
  #cwnd: number;
  #ssthresh = Number.POSITIVE_INFINITY;
  #wMax = 0;
  #lastWMax = 0;
  #k = 0;
  #wEst = 0;
  #epochStart: number | undefined;

  /** @param options CUBIC parameters; throws `CORE_INVALID_ARGUMENT` for out-of-range ones. */
  constructor(options: CubicOptions = {}) {
    this.#pkt = options.packetBytes ?? 1500;
    assertNumber('options.packetBytes', this.#pkt, { min: 1, integer: true });
    const iw = options.initialWindowPackets ?? 10;
    assertNumber('options.initialWindowPackets', iw, { min: 1 });
    this.#c = options.c ?? 0.4;
    assertNumber('options.c', this.#c, { min: Number.MIN_VALUE });
    this.#beta = options.beta ?? 0.7;
    assertNumber('options.beta', this.#beta, { min: 0.01, max: 0.99 });
    // Reno-friendly additive increase that matches Reno's average rate at this beta.
    this.#alpha = (3 * (1 - this.#beta)) / (1 + this.#beta);
    this.#cwnd = iw * this.#pkt;
  }

  /** Congestion window in bytes. */
  get cwnd(): number {
    return this.#cwnd;
  }

  /** Slow-start threshold in bytes (`Infinity` until the first loss). */
  get ssthresh(): number {
    return this.#ssthresh;
  }

  /** True while the window doubles every round trip. */
  get inSlowStart(): boolean {
    return this.#cwnd < this.#ssthresh;
  }

  /**
   * `ackedBytes` were newly acknowledged at `now`. `cwndLimited` says the
   * sender was actually using the window; an application-limited sender
   * must not grow it (RFC 7661), or it would later burst far beyond what
   * the path has shown it can carry.
   */
  onAck(ackedBytes: number, now: number, srttMs: number, cwndLimited: boolean): void {
    if (ackedBytes <= 0 || !cwndLimited) return;
    if (this.#cwnd < this.#ssthresh) {
      this.#cwnd = Math.min(this.#cwnd + ackedBytes, Math.max(this.#ssthresh, this.#cwnd));
      return;
    }
    const pkt = this.#pkt;
    const w = this.#cwnd / pkt;
    const acked = ackedBytes / pkt;
    if (this.#epochStart === undefined) {
      this.#epochStart = now;
      if (w < this.#wMax) {
        this.#k = Math.cbrt((this.#wMax - w) / this.#c);
      } else {
        this.#k = 0;
        this.#wMax = w;
      }
      this.#wEst = w;
    }
    // Target one RTT ahead, as the RFC does, so growth keeps pace with the ack clock.
    const t = (now - this.#epochStart + srttMs) / 1000;
    let target = this.#c * (t - this.#k) ** 3 + this.#wMax;
    target = Math.min(Math.max(target, w), 1.5 * w);
    let next = w + ((target - w) / w) * acked;
    this.#wEst += (this.#alpha * acked) / w;
    if (this.#wEst > next) next = this.#wEst;
    this.#cwnd = next * pkt;
  }

  /** A loss was detected by later acks (fast retransmit): multiplicative decrease. */
  onCongestion(): void {
    this.#reduce();
    this.#cwnd = this.#ssthresh;
  }

  /** The retransmission timer fired: everything in flight is presumed lost; restart from one packet. */
  onTimeout(): void {
    this.#reduce();
    this.#cwnd = this.#pkt;
  }

  #reduce(): void {
    const w = this.#cwnd / this.#pkt;
    // Fast convergence: a flow whose peak keeps falling yields bandwidth to newcomers sooner.
    this.#wMax = w < this.#lastWMax ? (w * (1 + this.#beta)) / 2 : w;
    this.#lastWMax = w;
    this.#ssthresh = Math.max(w * this.#beta, 2) * this.#pkt;
    this.#epochStart = undefined;
  }
}
