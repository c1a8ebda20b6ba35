import { CoreErrorCode, type Duplex, NovacronError, assertInteger } from '@novacron/core';

/** Byte counts of one direction of a {@link boundedPipe}. */
export interface PipeDirectionStats {
  /** Bytes accepted by `write`. */
  written: number;
  /** Bytes handed to the reader. */
  read: number;
  /** Most bytes ever buffered at once (never above the capacity plus one write). */
  peakBuffered: number;
}

/** Options for {@link boundedPipe}. */
export interface BoundedPipeOptions {
  /** Bytes each direction buffers before `write` waits for the reader (default 1 MiB). */
  readonly capacityBytes?: number;
}

/** Two connected {@link Duplex} ends with bounded buffers and byte counters. */
export interface BoundedPipe {
  /** One end. */
  readonly a: Duplex;
  /** The other end. */
  readonly b: Duplex;
  /** Counters for bytes written by `a` and read by `b`. */
  readonly aToB: PipeDirectionStats;
  /** Counters for bytes written by `b` and read by `a`. */
  readonly bToA: PipeDirectionStats;
}

class Direction {
  readonly stats: PipeDirectionStats = { written: 0, read: 0, peakBuffered: 0 };
  readonly #capacity: number;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: NovacronError | undefined;
  #readWaiter: (() => void) | undefined;
  readonly #writeWaiters: (() => void)[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get ended(): boolean {
    return this.#ended;
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#ended) throw new NovacronError(CoreErrorCode.STREAM_CLOSED, 'write after end');
    // Wait for room first, so a writer feels the reader's pace, as on a socket.
    while (this.#buffered > 0 && this.#buffered + data.length > this.#capacity) {
      await new Promise<void>((resolve) => this.#writeWaiters.push(resolve));
      if (this.#error) throw this.#error;
    }
    if (this.#ended) throw new NovacronError(CoreErrorCode.STREAM_CLOSED, 'write after end');
    this.#chunks.push(data.slice());
    this.#buffered += data.length;
    this.stats.written += data.length;
    this.stats.peakBuffered = Math.max(this.stats.peakBuffered, this.#buffered);
    this.#wakeReader();
  }

  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  fail(err: NovacronError): void {
    if (this.#error) return;
    this.#error = err;
    this.#ended = true;
    this.#chunks.length = 0;
    this.#buffered = 0;
    this.#wakeReader();
    for (const w of this.#writeWaiters.splice(0)) w();
  }

  async read(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      if (this.#error) throw this.#error;
      const chunk = this.#chunks.shift();
      if (chunk) {
        this.#buffered -= chunk.length;
        this.stats.read += chunk.length;
        for (const w of this.#writeWaiters.splice(0)) w();
        return { done: false, value: chunk };
      }
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => {
        this.#readWaiter = resolve;
      });
    }
  }

  #wakeReader(): void {
    const w = this.#readWaiter;
    this.#readWaiter = undefined;
    w?.();
  }
}

class PipeEnd implements Duplex {
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  peer!: PipeEnd;

  constructor(
    name: string,
    peerName: string,
    readonly outbound: Direction,
    readonly inbound: Direction,
  ) {
    this.localAddress = name;
    this.remoteAddress = peerName;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  write(data: Uint8Array): Promise<void> {
    return this.outbound.write(data);
  }

  async closeWrite(): Promise<void> {
    this.outbound.end();
    this.#checkClosed();
  }

  async close(): Promise<void> {
    this.outbound.end();
    this.inbound.end();
    this.#resolveClosed();
    this.peer.#checkClosed();
  }

  abort(reason?: Error): void {
    const err = new NovacronError(CoreErrorCode.STREAM_CLOSED, 'pipe aborted', { cause: reason });
    this.outbound.fail(err);
    this.inbound.fail(err);
    this.#resolveClosed();
    this.peer.#resolveClosed();
  }

  #checkClosed(): void {
    if (this.outbound.ended && this.inbound.ended) {
      this.#resolveClosed();
      this.peer.#resolveClosed();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async () => {
        const r = await this.inbound.read();
        if (r.done) this.#checkClosed();
        return r;
      },
      return: async () => ({ done: true, value: undefined }),
    };
  }
}

/**
 * An in-process byte pipe between two {@link Duplex} ends, each direction
 * buffering at most `capacityBytes`: a writer waits while its reader lags,
 * so a producer on one end feels the consumer's pace as it would through a
 * socket. Counts the bytes in each direction. Used by the provider
 * compliance suite to carry a stream-style migration.
 */
export function boundedPipe(options: BoundedPipeOptions = {}): BoundedPipe {
  const capacity = options.capacityBytes ?? 1 << 20;
  assertInteger('capacityBytes', capacity, { min: 1 });
  const ab = new Direction(capacity);
  const ba = new Direction(capacity);
  const a = new PipeEnd('pipe:a', 'pipe:b', ab, ba);
  const b = new PipeEnd('pipe:b', 'pipe:a', ba, ab);
  a.peer = b;
  b.peer = a;
  return { a, b, aToB: ab.stats, bToA: ba.stats };
}
