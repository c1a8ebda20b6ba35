import type { Clock, NovacronError, Timer } from '@novacron/core';
import { CubicWindow } from './cubic.js';
import type { TcpConfig } from './tcp-config.js';
import { type Ack, type Segment, segmentEnd } from './tcp-wire.js';

/** Where a {@link TcpSender} sends and reports. */
export interface TcpSenderHooks {
  /** Puts a segment on the path towards the peer. */
  transmit(segment: Segment, retransmit: boolean): void;
  /** Asks the peer to repeat its receive window (zero-window probe). */
  probe(): void;
  /** The retransmission timer fired with data outstanding. */
  timedOut(): void;
  /** No acknowledgement for `userTimeoutMs`: the connection must be reset. */
  gaveUp(): void;
}

/** Counters and state of one sending direction, for tests and tools. */
export interface TcpSenderInfo {
  /** Congestion window in bytes. */
  readonly cwnd: number;
  /** Slow-start threshold in bytes (`Infinity` before the first loss). */
  readonly ssthresh: number;
  /** Smoothed RTT in ms (`undefined` before the first sample). */
  readonly srttMs: number | undefined;
  /** Current retransmission timeout in ms. */
  readonly rtoMs: number;
  /** Payload bytes in flight. */
  readonly bytesInFlight: number;
  /** Stream bytes acknowledged by the peer. */
  readonly bytesAcked: number;
  /** Segments sent again. */
  readonly retransmits: number;
  /** Retransmission timeouts. */
  readonly timeouts: number;
}

interface Outstanding {
  readonly seq: number;
  readonly data: Uint8Array;
  readonly fin: boolean;
  txSeq: number;
  sentAt: number;
}

interface PendingWrite {
  readonly data: Uint8Array;
  offset: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** Clock granularity term of RFC 6298's RTO formula, in ms. */
const CLOCK_GRANULARITY_MS = 1;

/**
 * The sending half of a simulated TCP connection: a bounded send buffer
 * (`write` resolves once its bytes are inside it), segmentation, a CUBIC
 * congestion window, the peer's receive window, and reliable delivery by
 * retransmission.
 *
 * Loss detection is RACK-like: the path is FIFO, so when the ack of a later
 * transmission arrives, every earlier transmission still unacknowledged is
 * lost. One window reduction per round of losses (a recovery point, as in
 * NewReno/SACK recovery); a retransmission timeout (RFC 6298, exponential
 * backoff) catches tail losses. Only one timer is armed at a time and it is
 * moved lazily, so acks cost no timer churn.
 */
export class TcpSender {
  readonly #clock: Clock;
  readonly #cfg: TcpConfig;
  readonly #hooks: TcpSenderHooks;
  readonly #cc: CubicWindow;
  readonly #pending: PendingWrite[] = [];
  readonly #unsent: Uint8Array[] = [];
  #unsentHead = 0;
  #unsentBytes = 0;
  // Bytes held: unsent + in flight + marked lost; bounded by sendBufferBytes.
  #held = 0;
  #nextSeq = 0;
  #bytesAcked = 0;
  // Insertion order is transmission order: a retransmission is deleted and re-added at the end.
  readonly #inflight = new Map<number, Outstanding>();
  readonly #lost = new Map<number, Outstanding>();
  #bytesInFlight = 0;
  #txCounter = 0;
  #recoveryPoint = -1;
  #peerLimit: number;
  #srtt: number | undefined;
  #rttvar = 0;
  #rto: number;
  #backoff = 1;
  #timer: Timer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #deadline: number | undefined;
  // Set by an ack that made progress: the next arm restarts the retransmission deadline.
  #restart = false;
  // Since when data has been outstanding without any acknowledgement (user timeout).
  #stalledSince: number;
  #finRequested = false;
  #finSent = false;
  #finAcked = false;
  readonly #finishWaiters: Waiter[] = [];
  readonly #flushWaiters: Waiter[] = [];
  #failed: NovacronError | undefined;
  #retransmits = 0;
  #timeouts = 0;

  /**
   * @param clock schedules the retransmission timer (the world clock in a simulation)
   * @param config connection parameters (as `mergeTcpConfig` validates them)
   * @param hooks where segments go and timeouts are reported
   */
  constructor(clock: Clock, config: TcpConfig, hooks: TcpSenderHooks) {
    this.#clock = clock;
    this.#cfg = config;
    this.#hooks = hooks;
    this.#cc = new CubicWindow({
      packetBytes: config.packetBytes,
      initialWindowPackets: config.initialWindowPackets,
      c: config.cubicC,
      beta: config.cubicBeta,
    });
    // Both ends share one config, so the peer's initial window is known without a handshake field.
    this.#peerLimit = config.recvBufferBytes;
    this.#rto = config.initialRtoMs;
    this.#stalledSince = clock.now();
  }

  /** Queues `data` (not copied until accepted, so the caller must leave it alone until then). */
  write(data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failed) {
        reject(this.#failed);
        return;
      }
      this.#pending.push({ data, offset: 0, resolve, reject });
      this.#accept();
      this.#pump();
    });
  }

  /** No more writes; resolves once every earlier write is accepted (the FIN follows them). */
  finish(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#failed) {
        reject(this.#failed);
        return;
      }
      this.#finRequested = true;
      this.#finishWaiters.push({ resolve, reject });
      this.#accept();
      this.#pump();
    });
  }

  /** Resolves once everything written, FIN included, is acknowledged; rejects if the connection fails first. */
  flushed(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#finAcked) resolve();
      else if (this.#failed) reject(this.#failed);
      else this.#flushWaiters.push({ resolve, reject });
    });
  }

  /**
   * Seeds the RTT estimate with the handshake's round trip, as TCP does with
   * its SYN exchange, so the first data loss waits `minRtoMs`-ish rather
   * than the initial one-second timeout.
   */
  seedRtt(rttMs: number): void {
    if (this.#srtt === undefined && rttMs >= 0) this.#rttSample(rttMs);
  }

  /** True once the FIN has been acknowledged. */
  get finAcked(): boolean {
    return this.#finAcked;
  }

  /** A snapshot of the sender's state. */
  info(): TcpSenderInfo {
    return {
      cwnd: this.#cc.cwnd,
      ssthresh: this.#cc.ssthresh,
      srttMs: this.#srtt,
      rtoMs: this.#rto,
      bytesInFlight: this.#bytesInFlight,
      bytesAcked: this.#bytesAcked,
      retransmits: this.#retransmits,
      timeouts: this.#timeouts,
    };
  }

  /** Fails every pending and future operation with `err` and stops the timer. Idempotent. */
  fail(err: NovacronError): void {
    if (this.#failed) return;
    this.#failed = err;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const w of this.#pending.splice(0)) w.reject(err);
    for (const w of this.#finishWaiters.splice(0)) w.reject(err);
    for (const w of this.#flushWaiters.splice(0)) w.reject(err);
    this.#unsent.length = 0;
    this.#inflight.clear();
    this.#lost.clear();
  }

  /** Handles an ack or window update from the peer's receiver. */
  onAck(ack: Ack): void {
    if (this.#failed) return;
    const now = this.#clock.now();
    if (ack.limit > this.#peerLimit) this.#peerLimit = ack.limit;
    let newlyAcked = 0;
    let growable = 0;
    const inflightBefore = this.#bytesInFlight;
    const o = this.#inflight.get(ack.seq);
    if (o && o.txSeq === ack.txSeq) {
      this.#inflight.delete(ack.seq);
      this.#bytesInFlight -= o.data.length;
      this.#acked(o);
      newlyAcked += o.data.length;
      this.#rttSample(now - o.sentAt);
      // Acks of segments sent before the last reduction must not grow the reduced window.
      if (o.txSeq > this.#recoveryPoint) growable += o.data.length;
    } else if (ack.txSeq >= 0 || ack.cumAck > this.#bytesAcked) {
      this.#sweep(ack.cumAck, ack.seq);
    }
    if (ack.txSeq >= 0) newlyAcked += this.#detectLosses(ack.txSeq, ack.cumAck);
    if (this.#lost.size > 0) this.#sweep(ack.cumAck, -1);
    if (newlyAcked > 0 || ack.cumAck > this.#bytesAcked) {
      this.#stalledSince = now;
      this.#backoff = 1;
      this.#restart = true;
    }
    if (ack.cumAck > this.#bytesAcked) this.#bytesAcked = Math.min(ack.cumAck, this.#nextSeq);
    if (growable > 0) {
      // Grow only a window the sender was filling (RFC 7661); half full counts, as in Linux.
      this.#cc.onAck(growable, now, this.#srtt ?? 0, inflightBefore * 2 >= this.#cc.cwnd);
    }
    this.#accept();
    this.#pump();
  }

  /** Removes everything `cumAck` covers (plus segment `seq` if marked lost) from flight and the lost list. */
  #sweep(cumAck: number, seq: number): void {
    for (const [s, o] of this.#inflight) {
      if (segmentEnd(o) <= cumAck || s === seq) {
        this.#inflight.delete(s);
        this.#bytesInFlight -= o.data.length;
        this.#acked(o);
      }
    }
    for (const [s, o] of this.#lost) {
      if (segmentEnd(o) <= cumAck || s === seq) {
        this.#lost.delete(s);
        this.#acked(o);
      }
    }
  }

  /** Marks every transmission older than `txSeq` still in flight as lost; returns bytes found acked instead. */
  #detectLosses(txSeq: number, cumAck: number): number {
    let acked = 0;
    let congestion = false;
    for (const [s, o] of this.#inflight) {
      if (o.txSeq >= txSeq) break;
      this.#inflight.delete(s);
      this.#bytesInFlight -= o.data.length;
      if (segmentEnd(o) <= cumAck) {
        this.#acked(o);
        acked += o.data.length;
        continue;
      }
      this.#lost.set(s, o);
      if (o.txSeq > this.#recoveryPoint) congestion = true;
    }
    if (congestion) {
      this.#cc.onCongestion();
      this.#recoveryPoint = this.#txCounter;
    }
    return acked;
  }

  #acked(o: Outstanding): void {
    this.#held -= o.data.length;
    if (o.fin) {
      this.#finAcked = true;
      for (const w of this.#flushWaiters.splice(0)) w.resolve();
    }
  }

  #rttSample(rtt: number): void {
    // RFC 6298.
    if (this.#srtt === undefined) {
      this.#srtt = rtt;
      this.#rttvar = rtt / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rtt);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rtt;
    }
    const rto = this.#srtt + Math.max(CLOCK_GRANULARITY_MS, 4 * this.#rttvar);
    this.#rto = Math.min(Math.max(rto, this.#cfg.minRtoMs), this.#cfg.maxRtoMs);
  }

  /** Moves bytes of pending writes into the send buffer while it has room; resolves completed writes. */
  #accept(): void {
    const cap = this.#cfg.sendBufferBytes;
    while (this.#pending.length > 0 && this.#held < cap) {
      const w = this.#pending[0]!;
      const take = Math.min(w.data.length - w.offset, cap - this.#held);
      if (take > 0) {
        // Copy: once the write resolves the caller may reuse its buffer.
        this.#unsent.push(w.data.slice(w.offset, w.offset + take));
        w.offset += take;
        this.#held += take;
        this.#unsentBytes += take;
      }
      if (w.offset === w.data.length) {
        this.#pending.shift();
        w.resolve();
      }
    }
    if (this.#pending.length === 0 && this.#finRequested) {
      for (const w of this.#finishWaiters.splice(0)) w.resolve();
    }
  }

  #take(n: number): Uint8Array {
    const first = this.#unsent[0]!;
    const avail = first.length - this.#unsentHead;
    let out: Uint8Array;
    if (avail >= n) {
      out = first.subarray(this.#unsentHead, this.#unsentHead + n);
      this.#unsentHead += n;
      if (this.#unsentHead === first.length) {
        this.#unsent.shift();
        this.#unsentHead = 0;
      }
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const c = this.#unsent[0]!;
        const k = Math.min(c.length - this.#unsentHead, n - filled);
        out.set(c.subarray(this.#unsentHead, this.#unsentHead + k), filled);
        filled += k;
        this.#unsentHead += k;
        if (this.#unsentHead === c.length) {
          this.#unsent.shift();
          this.#unsentHead = 0;
        }
      }
    }
    this.#unsentBytes -= n;
    return out;
  }

  /** Sends what the windows allow: retransmissions first, then new data, then the FIN. */
  #pump(): void {
    if (this.#failed) return;
    const pkt = this.#cfg.packetBytes;
    for (;;) {
      const cwnd = this.#cc.cwnd;
      if (this.#bytesInFlight >= cwnd) break;
      const lost = this.#lost.values().next();
      if (!lost.done) {
        const o = lost.value;
        this.#lost.delete(o.seq);
        this.#retransmits++;
        this.#send(o, true);
        continue;
      }
      if (this.#unsentBytes > 0) {
        const room = this.#peerLimit - this.#nextSeq;
        if (room <= 0) break;
        // A window with room for less than a segment sends a smaller one, as TCP would send fewer packets.
        const fit = Math.ceil((cwnd - this.#bytesInFlight) / pkt) * pkt;
        const size = Math.min(this.#cfg.mss, this.#unsentBytes, room, fit);
        const data = this.#take(size);
        const fin = this.#finRequested && this.#pending.length === 0 && this.#unsentBytes === 0;
        const o: Outstanding = { seq: this.#nextSeq, data, fin, txSeq: 0, sentAt: 0 };
        this.#nextSeq += size;
        if (fin) this.#finSent = true;
        this.#send(o, false);
        continue;
      }
      if (this.#finRequested && !this.#finSent && this.#pending.length === 0) {
        this.#finSent = true;
        this.#send({ seq: this.#nextSeq, data: new Uint8Array(0), fin: true, txSeq: 0, sentAt: 0 }, false);
        continue;
      }
      break;
    }
    this.#arm();
  }

  #send(o: Outstanding, retransmit: boolean): void {
    if (!retransmit && this.#inflight.size === 0 && this.#lost.size === 0) this.#stalledSince = this.#clock.now();
    o.txSeq = ++this.#txCounter;
    o.sentAt = this.#clock.now();
    this.#inflight.set(o.seq, o);
    this.#bytesInFlight += o.data.length;
    this.#hooks.transmit({ seq: o.seq, data: o.data, fin: o.fin, txSeq: o.txSeq }, retransmit);
  }

  /** Keeps one timer armed for the retransmission (or zero-window probe) deadline, if any. */
  #arm(): void {
    const now = this.#clock.now();
    const blocked = this.#unsentBytes > 0 && this.#peerLimit <= this.#nextSeq;
    const restart = this.#restart;
    this.#restart = false;
    if (this.#inflight.size > 0) {
      // Restart the deadline only on progress; otherwise keep the one already running.
      if (this.#deadline === undefined || restart) this.#deadline = now + this.#rto * this.#backoff;
    } else if (blocked && this.#lost.size === 0) {
      if (this.#deadline === undefined) this.#deadline = now + this.#rto * this.#backoff;
    } else {
      this.#deadline = undefined;
      return;
    }
    this.#deadline = Math.min(this.#deadline, now + this.#cfg.maxRtoMs);
    if (this.#timer && this.#timerAt <= this.#deadline) return;
    this.#timer?.cancel();
    this.#timerAt = this.#deadline;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), this.#deadline - now);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#failed || this.#deadline === undefined) return;
    const now = this.#clock.now();
    if (now < this.#deadline) {
      this.#timerAt = this.#deadline;
      this.#timer = this.#clock.setTimeout(() => this.#fire(), this.#deadline - now);
      return;
    }
    this.#deadline = undefined;
    if (this.#inflight.size > 0) {
      if (this.#cfg.userTimeoutMs > 0 && now - this.#stalledSince >= this.#cfg.userTimeoutMs) {
        this.#hooks.gaveUp();
        return;
      }
      // Everything in flight is presumed lost; resend oldest first.
      const all = [...this.#inflight.values()].sort((a, b) => a.seq - b.seq);
      this.#inflight.clear();
      this.#bytesInFlight = 0;
      for (const o of all) this.#lost.set(o.seq, o);
      this.#cc.onTimeout();
      this.#recoveryPoint = this.#txCounter;
      this.#timeouts++;
      this.#backoff = Math.min(this.#backoff * 2, Math.ceil(this.#cfg.maxRtoMs / this.#cfg.minRtoMs));
      this.#hooks.timedOut();
    } else if (this.#unsentBytes > 0 && this.#peerLimit <= this.#nextSeq) {
      this.#backoff = Math.min(this.#backoff * 2, Math.ceil(this.#cfg.maxRtoMs / this.#cfg.minRtoMs));
      this.#hooks.probe();
    }
    this.#pump();
  }
}
