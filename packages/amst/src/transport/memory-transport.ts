import {
  CoreErrorCode,
  type DialOptions,
  type Duplex,
  type Listener,
  NovacronError,
  type StreamHandler,
  type StreamTransport,
} from '@novacron/core';

/** Options for {@link MemoryTransport}. */
export interface MemoryTransportOptions {
  /** The in-process network this transport lives on (default: a private one). Share it to connect transports. */
  readonly network?: MemoryNetwork;
  /** Host name this transport listens on and dials from (default `mem`). */
  readonly host?: string;
  /** Bytes one direction of a stream buffers before `write` waits for the reader (default 1 MiB). */
  readonly bufferBytes?: number;
}

/**
 * The registry connecting {@link MemoryTransport}s of one process: listeners
 * by `host:port`. Transports that share a network can dial each other.
 */
export class MemoryNetwork {
  /** @internal */
  readonly listeners = new Map<string, (stream: Duplex, remote: string) => void>();
  private nextPort = 1;
  private nextEphemeral = 40_000;

  /** @internal */
  allocatePort(host: string): number {
    for (;;) {
      const port = this.nextPort++;
      if (!this.listeners.has(`${host}:${port}`)) return port;
    }
  }

  /** @internal */
  ephemeralPort(): number {
    return this.nextEphemeral++;
  }
}

/**
 * An in-process {@link StreamTransport}: streams are pairs of bounded pipes,
 * with the same backpressure, half-close and reset behaviour as TCP but no
 * kernel. Addresses are `host:port`. Useful to run amst transfers between
 * components of one process and as a fast, deterministic-ordering test double.
 */
export class MemoryTransport implements StreamTransport {
  /** Always `memory`. */
  readonly name = 'memory';
  private readonly network: MemoryNetwork;
  private readonly host: string;
  private readonly bufferBytes: number;

  constructor(options: MemoryTransportOptions = {}) {
    this.network = options.network ?? new MemoryNetwork();
    this.host = options.host ?? 'mem';
    this.bufferBytes = options.bufferBytes ?? 1024 * 1024;
  }

  /** Connects to a listener on the same network; `CORE_DIAL_FAILED` when none listens there. */
  async dial(address: string, options: DialOptions = {}): Promise<Duplex> {
    if (options.signal?.aborted) {
      throw new NovacronError(CoreErrorCode.ABORTED, 'dial aborted', { cause: options.signal.reason });
    }
    // One macrotask, like a connect round trip, so dials never complete synchronously.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (options.signal?.aborted) {
      throw new NovacronError(CoreErrorCode.ABORTED, 'dial aborted', { cause: options.signal.reason });
    }
    const accept = this.network.listeners.get(address);
    if (!accept) {
      throw new NovacronError(CoreErrorCode.DIAL_FAILED, `nothing listens on ${address}`, { details: { address } });
    }
    const local = `${this.host}:${this.network.ephemeralPort()}`;
    const toServer = new Pipe(this.bufferBytes);
    const toClient = new Pipe(this.bufferBytes);
    const client = new MemoryDuplex(local, address, toServer, toClient);
    const server = new MemoryDuplex(address, local, toClient, toServer);
    client.peer = server;
    server.peer = client;
    accept(server, local);
    return client;
  }

  /** Binds `host:port` on the network (port 0 picks a free one). */
  async listen(address: string, handler: StreamHandler): Promise<Listener> {
    const colon = address.lastIndexOf(':');
    const host = colon < 0 ? address : address.slice(0, colon);
    const portText = colon < 0 ? '0' : address.slice(colon + 1);
    const port = portText === '0' ? this.network.allocatePort(host) : Number(portText);
    const bound = `${host}:${port}`;
    if (this.network.listeners.has(bound)) {
      throw new NovacronError(CoreErrorCode.INVALID_STATE, `address in use: ${bound}`, { details: { address: bound } });
    }
    this.network.listeners.set(bound, (stream) => {
      try {
        handler(stream);
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return {
      address: bound,
      close: async () => {
        this.network.listeners.delete(bound);
      },
    };
  }
}

/** One direction of a memory stream: a bounded queue of chunks. */
class Pipe {
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  /** No more writes (half-close). */
  ended = false;
  /** Reset: everything fails. */
  failure: Error | undefined;
  private reader: (() => void) | undefined;
  private writers: (() => void)[] = [];

  constructor(private readonly capacity: number) {}

  get full(): boolean {
    return this.buffered >= this.capacity;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data.slice());
    this.buffered += data.length;
    this.wakeReader();
  }

  end(): void {
    this.ended = true;
    this.wakeReader();
  }

  fail(err: Error): void {
    this.failure ??= err;
    this.chunks.length = 0;
    this.buffered = 0;
    this.wakeReader();
    this.wakeWriters();
  }

  /** Waits until the pipe has room (or fails). */
  room(): Promise<void> {
    if (!this.full || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.writers.push(resolve));
  }

  /** The next chunk, `undefined` at the end; throws after a reset. */
  async pull(): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk) {
        this.buffered -= chunk.length;
        if (!this.full) this.wakeWriters();
        return chunk;
      }
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => {
        this.reader = resolve;
      });
    }
  }

  private wakeReader(): void {
    const r = this.reader;
    this.reader = undefined;
    r?.();
  }

  private wakeWriters(): void {
    const ws = this.writers;
    this.writers = [];
    for (const w of ws) w();
  }
}

class MemoryDuplex implements Duplex {
  peer: MemoryDuplex | undefined;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private writeOpen = true;
  private readDone = false;
  private abortReason: Error | undefined;

  constructor(
    readonly localAddress: string,
    readonly remoteAddress: string,
    private readonly out: Pipe,
    private readonly in_: Pipe,
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  async write(data: Uint8Array): Promise<void> {
    if (!this.writeOpen || this.out.failure) throw this.closedError('write on a closed stream');
    this.out.push(data);
    await this.out.room();
    if (this.out.failure) throw this.closedError('stream reset');
  }

  async closeWrite(): Promise<void> {
    if (!this.writeOpen) return;
    this.writeOpen = false;
    this.out.end();
    this.maybeClosed();
  }

  async close(): Promise<void> {
    await this.closeWrite();
    this.readDone = true;
    // Unread or later inbound data earns the peer a reset, as a socket closed with data still queued does.
    if (!this.in_.ended) this.in_.fail(new NovacronError(CoreErrorCode.STREAM_CLOSED, 'peer closed the stream'));
    this.maybeClosed(true);
    await this.closed;
  }

  abort(reason?: Error): void {
    this.abortReason = reason ?? new Error('aborted');
    this.writeOpen = false;
    const reset = new NovacronError(CoreErrorCode.STREAM_CLOSED, 'stream reset by peer');
    this.out.fail(reset);
    this.in_.fail(reset);
    this.resolveClosed();
    this.peer?.resolveClosed();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = await this.in_.pull();
      } catch (err) {
        throw this.closedError('stream reset', err);
      }
      if (chunk === undefined) break;
      yield chunk;
    }
    this.readDone = true;
    this.maybeClosed();
  }

  private maybeClosed(force = false): void {
    if ((force || this.readDone) && !this.writeOpen) {
      this.resolveClosed();
      if (this.peer?.in_.ended && !this.peer.writeOpen) this.peer.resolveClosed();
    }
    // The peer that already finished both directions closes once ours ends.
    const p = this.peer;
    if (p && !p.writeOpen && p.readDone && this.out.ended) p.resolveClosed();
  }

  private closedError(message: string, cause?: unknown): NovacronError {
    return new NovacronError(CoreErrorCode.STREAM_CLOSED, message, { cause: this.abortReason ?? cause });
  }
}
