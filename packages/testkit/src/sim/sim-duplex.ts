import { type Clock, CoreErrorCode, type Duplex, NovacronError, invalidArgument } from '@novacron/core';
import type { TcpConfig } from './tcp-config.js';
import { TcpReceiver } from './tcp-receiver.js';
import { TcpSender, type TcpSenderInfo } from './tcp-sender.js';
import type { Ack, Segment } from './tcp-wire.js';

/** What one end of a simulated connection needs from the transport that routes its packets. @internal */
export interface DuplexWire {
  /** The world clock. */
  readonly clock: Clock;
  /** Connection parameters (both ends share them). */
  readonly config: TcpConfig;
  /** Sends a data segment through the path's bottleneck. */
  segment(seg: Segment, retransmit: boolean): void;
  /** Sends an ack (small: it skips the bottleneck queue). */
  ack(ack: Ack): void;
  /** Sends a zero-window probe. */
  probe(): void;
  /** Sends a reset to the peer. */
  rst(): void;
  /** Reports a trace-worthy event of this end. */
  event(kind: 'rto' | 'reset' | 'closed', fields: Record<string, string | number>): void;
}

/** Why a connection ended abruptly, as recorded in the trace. */
export type ResetReason = 'abort' | 'peer' | 'crash' | 'demand' | 'random' | 'timeout' | 'handler';

type State = 'connecting' | 'open' | 'released' | 'reset' | 'done';

interface ReadWaiter {
  readonly resolve: (r: IteratorResult<Uint8Array>) => void;
  readonly reject: (err: Error) => void;
}

/**
 * One end of a simulated TCP connection, implementing core's {@link Duplex}:
 * a {@link TcpSender} for what this end writes, a {@link TcpReceiver} for
 * what the peer writes, and the close/abort state machine of the contract.
 */
export class SimDuplex implements Duplex {
  /** `<nodeId>:<port>` of this end. */
  readonly localAddress: string;
  /** `<nodeId>:<port>` of the other end. */
  readonly remoteAddress: string;
  /** Resolves when the stream is fully closed, by either side, gracefully or not. Never rejects. */
  readonly closed: Promise<void>;
  readonly #wire: DuplexWire;
  readonly #sender: TcpSender;
  readonly #receiver: TcpReceiver;
  readonly #readers: ReadWaiter[] = [];
  #state: State;
  #writeClosed = false;
  #error: NovacronError | undefined;
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;
  #onFinished: (() => void) | undefined;

  /** @internal built by the simulated transport. */
  constructor(wire: DuplexWire, localAddress: string, remoteAddress: string, connecting: boolean) {
    this.#wire = wire;
    this.localAddress = localAddress;
    this.remoteAddress = remoteAddress;
    this.#state = connecting ? 'connecting' : 'open';
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#sender = new TcpSender(wire.clock, wire.config, {
      transmit: (seg, retransmit) => wire.segment(seg, retransmit),
      probe: () => wire.probe(),
      timedOut: () => wire.event('rto', { rto: this.#sender.info().rtoMs }),
      gaveUp: () => this.reset('timeout', true),
    });
    this.#receiver = new TcpReceiver(wire.config.recvBufferBytes, wire.config.mss, (ack) => wire.ack(ack));
  }

  /** Sender state of this end (window, RTT, retransmissions), for tests and tools. */
  info(): TcpSenderInfo {
    return this.#sender.info();
  }

  /** True once this end can neither send nor receive any more (reset, or closed both ways). */
  get finished(): boolean {
    return this.#state === 'reset' || this.#state === 'done';
  }

  /** True while this end takes packets addressed to it (after a graceful end it still acknowledges repeats). @internal */
  get accepting(): boolean {
    return this.#state === 'open' || this.#state === 'released' || this.#state === 'done';
  }

  /** True once this end was reset (no longer knows the connection: packets to it earn a reset). @internal */
  get wasReset(): boolean {
    return this.#state === 'reset';
  }

  /**
   * Queues `data`; resolves once all of it is in the send buffer (which
   * drains only as the peer acknowledges, so a slow reader stalls this).
   * Rejects with `CORE_STREAM_CLOSED` after `closeWrite`/`close`/`abort` or a
   * reset, `CORE_INVALID_ARGUMENT` for anything but a `Uint8Array`.
   */
  write(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) return Promise.reject(invalidArgument('data', 'a Uint8Array', data));
    if (this.#error) return Promise.reject(this.#error);
    if (this.#writeClosed || this.#state !== 'open') return Promise.reject(closedError('stream closed for writing'));
    return this.#sender.write(data);
  }

  /** Sends a FIN after everything written; resolves once those writes are accepted. Idempotent. */
  closeWrite(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#writeClosed) return Promise.resolve();
    this.#writeClosed = true;
    const done = this.#sender.finish();
    done.catch(() => {});
    return done;
  }

  /**
   * Half-closes, waits until every byte and the FIN are acknowledged, then
   * releases the stream (reading ends, `closed` resolves). Rejects with
   * `CORE_STREAM_CLOSED` if the connection fails before the flush completes;
   * resolves at once on a stream already reset. Returns the same promise
   * on every call.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#state === 'reset' || this.#state === 'done') {
      this.#closing = Promise.resolve();
      return this.#closing;
    }
    if (!this.#writeClosed) {
      this.#writeClosed = true;
      this.#sender.finish().catch(() => {});
    }
    this.#closing = this.#sender.flushed().then(() => this.#release());
    return this.#closing;
  }

  /** Resets both ends: see {@link Duplex.abort}; the peer learns when the reset reaches it. */
  abort(reason?: Error): void {
    this.reset('abort', true, reason);
  }

  /**
   * Reads the peer's bytes in order, one chunk per segment; ends after the
   * peer's FIN (or after a local `close`), throws `CORE_STREAM_CLOSED` after a
   * reset. One reader at a time; chunks are views the reader may keep.
   */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#read(),
      // Leaving a for-await loop early stops reading but keeps the connection: writing may continue.
      return: () => Promise.resolve({ done: true, value: undefined }),
    };
  }

  /** Calls `fn` once when this end is finished. @internal */
  onFinished(fn: () => void): void {
    this.#onFinished = fn;
  }

  /** The SYN-ACK arrived after `rttMs`: the dial succeeded. @internal */
  established(rttMs: number): void {
    if (this.#state === 'connecting') this.#state = 'open';
    this.#sender.seedRtt(rttMs);
  }

  /** The handshake's round trip, as measured by the server end. @internal */
  seedRtt(rttMs: number): void {
    this.#sender.seedRtt(rttMs);
  }

  /** A data segment arrived for this end. @internal */
  onSegment(seg: Segment): void {
    if (this.#state === 'released' || this.#state === 'done') {
      // A closed socket answers new data with a reset, but still acknowledges the peer's FIN.
      if (this.#receiver.isNew(seg)) {
        this.#wire.rst();
        this.reset('peer', false);
        return;
      }
      this.#receiver.onSegment(seg);
      this.#checkDone();
      return;
    }
    if (this.#state !== 'open') return;
    if (this.#receiver.onSegment(seg)) this.#wake();
    this.#checkDone();
  }

  /** An ack arrived for this end's sender. @internal */
  onAck(ack: Ack): void {
    if (this.#state !== 'open' && this.#state !== 'released') return;
    this.#sender.onAck(ack);
    this.#checkDone();
  }

  /** A zero-window probe arrived. @internal */
  onProbe(): void {
    if (this.accepting) this.#receiver.windowUpdate();
  }

  /**
   * Ends this end abruptly: pending and future writes and reads fail with
   * `CORE_STREAM_CLOSED` (`cause` = `reason`), `closed` resolves, and with
   * `notifyPeer` a reset is sent to the other end. @internal
   */
  reset(why: ResetReason, notifyPeer: boolean, reason?: Error): void {
    if (this.#state === 'reset' || this.#state === 'done') return;
    const err = new NovacronError(
      CoreErrorCode.STREAM_CLOSED,
      why === 'abort' ? 'stream aborted' : `stream reset (${why})`,
      { details: { reason: why }, cause: reason },
    );
    const wasReleased = this.#state === 'released';
    this.#state = 'reset';
    this.#error = err;
    this.#sender.fail(err);
    this.#receiver.discard();
    for (const r of this.#readers.splice(0)) {
      if (wasReleased) r.resolve({ done: true, value: undefined });
      else r.reject(err);
    }
    if (notifyPeer) this.#wire.rst();
    this.#wire.event('reset', { reason: why });
    this.#finish();
  }

  #read(): Promise<IteratorResult<Uint8Array>> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#state === 'released') return Promise.resolve({ done: true, value: undefined });
    const chunk = this.#receiver.read();
    if (chunk) return Promise.resolve({ done: false, value: chunk });
    if (this.#receiver.eof) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => this.#readers.push({ resolve, reject }));
  }

  #wake(): void {
    while (this.#readers.length > 0) {
      const chunk = this.#receiver.read();
      if (chunk) this.#readers.shift()!.resolve({ done: false, value: chunk });
      else if (this.#receiver.eof) this.#readers.shift()!.resolve({ done: true, value: undefined });
      else break;
    }
  }

  #release(): void {
    if (this.#state !== 'open') return;
    this.#state = 'released';
    this.#receiver.discard();
    for (const r of this.#readers.splice(0)) r.resolve({ done: true, value: undefined });
    // Released from the application's point of view; the connection lingers only to answer the peer.
    this.#resolveClosed();
    this.#checkDone();
  }

  #checkDone(): void {
    if (this.#state !== 'open' && this.#state !== 'released') return;
    if (!this.#sender.finAcked || !this.#receiver.eof) return;
    this.#state = 'done';
    this.#wire.event('closed', {});
    this.#finish();
  }

  #finish(): void {
    this.#resolveClosed();
    const fn = this.#onFinished;
    this.#onFinished = undefined;
    fn?.();
  }
}

function closedError(message: string): NovacronError {
  return new NovacronError(CoreErrorCode.STREAM_CLOSED, message);
}
