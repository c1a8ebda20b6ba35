import type { Ack, Segment } from './tcp-wire.js';

/**
 * The receiving half of a simulated TCP connection: reassembles segments
 * into the byte stream, acknowledges every arrival, and advertises a receive
 * window so a reader that falls behind stops the sender (end-to-end
 * backpressure) instead of growing memory.
 *
 * Segments never overlap partially (a retransmission repeats its original
 * bytes exactly), so reassembly is a map from offset to segment.
 */
export class TcpReceiver {
  readonly #capacity: number;
  readonly #mss: number;
  readonly #emitAck: (ack: Ack) => void;
  #rcvNxt = 0;
  #finAt: number | undefined;
  #eof = false;
  readonly #ooo = new Map<number, Segment>();
  readonly #readable: Uint8Array[] = [];
  #readableHead = 0;
  #consumed = 0;
  #advertised: number;

  /**
   * @param capacity receive buffer in bytes (unread plus out-of-order)
   * @param mss the connection's segment size (window updates are sent in steps of it)
   * @param emitAck sends an ack back to the peer's sender
   */
  constructor(capacity: number, mss: number, emitAck: (ack: Ack) => void) {
    this.#capacity = capacity;
    this.#mss = mss;
    this.#emitAck = emitAck;
    this.#advertised = capacity;
  }

  /** True once every byte up to the peer's FIN has arrived. */
  get eof(): boolean {
    return this.#eof;
  }

  /** True when `segment` carries stream bytes not received yet (data after a local close earns a reset). */
  isNew(segment: Segment): boolean {
    return segment.data.length > 0 && segment.seq + segment.data.length > this.#rcvNxt && !this.#ooo.has(segment.seq);
  }

  /** Takes one segment off the wire; returns true when it made new bytes (or the end) readable. */
  onSegment(seg: Segment): boolean {
    let progressed = false;
    const limit = this.#consumed + this.#capacity;
    const end = seg.seq + seg.data.length;
    // The sender honours the advertised window; anything past it is a protocol violation, so drop it unacked.
    if (end > limit && end > this.#rcvNxt) return false;
    if (seg.fin) this.#finAt = end;
    if (seg.seq === this.#rcvNxt && seg.data.length > 0) {
      this.#push(seg.data);
      this.#rcvNxt = end;
      progressed = true;
      for (let next = this.#ooo.get(this.#rcvNxt); next; next = this.#ooo.get(this.#rcvNxt)) {
        this.#ooo.delete(next.seq);
        this.#push(next.data);
        this.#rcvNxt = next.seq + next.data.length;
      }
    } else if (seg.seq > this.#rcvNxt && seg.data.length > 0 && !this.#ooo.has(seg.seq)) {
      this.#ooo.set(seg.seq, seg);
    }
    if (!this.#eof && this.#finAt !== undefined && this.#rcvNxt === this.#finAt) {
      this.#eof = true;
      progressed = true;
    }
    this.#advertised = this.#consumed + this.#capacity;
    this.#emitAck({ seq: seg.seq, txSeq: seg.txSeq, cumAck: this.#cumAck(), limit: this.#advertised });
    return progressed;
  }

  /** Next readable chunk, or undefined when none is buffered. Reading opens the window. */
  read(): Uint8Array | undefined {
    if (this.#readableHead >= this.#readable.length) return undefined;
    const chunk = this.#readable[this.#readableHead]!;
    this.#readable[this.#readableHead++] = EMPTY;
    if (this.#readableHead > 64 && this.#readableHead * 2 > this.#readable.length) {
      this.#readable.splice(0, this.#readableHead);
      this.#readableHead = 0;
    }
    this.#consumed += chunk.length;
    const limit = this.#consumed + this.#capacity;
    // Tell the sender only when it may be stalled on the window and the opening is worth a segment.
    const stalled = this.#advertised - this.#rcvNxt < this.#mss;
    if (stalled && limit - this.#advertised >= Math.min(this.#mss, this.#capacity / 2)) this.windowUpdate();
    return chunk;
  }

  /** Sends the current window (answer to a zero-window probe, or an opening after a read). */
  windowUpdate(): void {
    this.#advertised = this.#consumed + this.#capacity;
    this.#emitAck({ seq: -1, txSeq: -1, cumAck: this.#cumAck(), limit: this.#advertised });
  }

  /** Drops everything buffered (after a reset or a local close). */
  discard(): void {
    this.#readable.length = 0;
    this.#readableHead = 0;
    this.#ooo.clear();
  }

  #cumAck(): number {
    return this.#rcvNxt + (this.#eof ? 1 : 0);
  }

  #push(data: Uint8Array): void {
    this.#readable.push(data);
  }
}

const EMPTY = new Uint8Array(0);
