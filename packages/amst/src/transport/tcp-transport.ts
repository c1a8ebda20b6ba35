import net from 'node:net';
import {
  type Clock,
  CoreErrorCode,
  type DialOptions,
  type Duplex,
  type Listener,
  type NodeId,
  NovacronError,
  type StreamHandler,
  type StreamTransport,
  systemClock,
} from '@novacron/core';
import { formatHostPort } from './address.js';
import { bindServer, dialSocket, setWriteBuffer } from './socket-setup.js';

/** Options for {@link TcpTransport}. */
export interface TcpTransportOptions {
  /** Time source for the connect timeout (default: the system clock). */
  readonly clock?: Clock;
  /** Give up a dial after this long, with `CORE_DIAL_FAILED` (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Disable Nagle's algorithm so small frames (acks) leave at once (default true). */
  readonly noDelay?: boolean;
  /** TCP keep-alive initial delay in ms; 0 disables keep-alive (default 30 s). */
  readonly keepAliveMs?: number;
  /**
   * Bytes the socket's user-space write buffer holds before `write` waits for
   * `'drain'` (default 1 MiB). Larger values keep the kernel fed on fast
   * paths; the kernel's own buffers auto-tune on Linux.
   */
  readonly writeBufferBytes?: number;
  /** Bytes read ahead before the socket pauses reading (default 1 MiB). */
  readonly readBufferBytes?: number;
}

/**
 * A {@link StreamTransport} over kernel TCP (`node:net`). Addresses are
 * `host:port` (`[v6]:port` for IPv6). Sockets get `TCP_NODELAY`, keep-alive
 * and sized user-space buffers; `write` honours backpressure through the
 * socket's `'drain'` event.
 */
export class TcpTransport implements StreamTransport {
  /** Always `tcp`. */
  readonly name = 'tcp';
  private readonly clock: Clock;
  private readonly connectTimeoutMs: number;
  private readonly noDelay: boolean;
  private readonly keepAliveMs: number;
  private readonly writeBufferBytes: number;
  private readonly readBufferBytes: number;

  constructor(options: TcpTransportOptions = {}) {
    this.clock = options.clock ?? systemClock();
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.noDelay = options.noDelay ?? true;
    this.keepAliveMs = options.keepAliveMs ?? 30_000;
    this.writeBufferBytes = options.writeBufferBytes ?? 1024 * 1024;
    this.readBufferBytes = options.readBufferBytes ?? 1024 * 1024;
  }

  /** Connects to `host:port`; `CORE_DIAL_FAILED` on refusal, timeout or a bad address, `CORE_ABORTED` on abort. */
  dial(address: string, options: DialOptions = {}): Promise<Duplex> {
    return dialSocket(address, options, {
      clock: this.clock,
      timeoutMs: this.connectTimeoutMs,
      readyEvent: 'connect',
      connect: ({ host, port }) =>
        net.connect({
          host,
          port,
          allowHalfOpen: true,
          noDelay: this.noDelay,
          keepAlive: this.keepAliveMs > 0,
          keepAliveInitialDelay: this.keepAliveMs,
          readableHighWaterMark: this.readBufferBytes,
          writableHighWaterMark: this.writeBufferBytes,
        } as net.NetConnectOpts),
      ready: (socket) => new TcpDuplex(socket),
    });
  }

  /** Binds `host:port` (port 0 picks one) and hands each accepted socket to `handler`. */
  async listen(address: string, handler: StreamHandler): Promise<Listener> {
    const server = net.createServer({
      allowHalfOpen: true,
      noDelay: this.noDelay,
      keepAlive: this.keepAliveMs > 0,
      keepAliveInitialDelay: this.keepAliveMs,
      highWaterMark: this.readBufferBytes,
    } as net.ServerOpts);
    server.on('connection', (socket) => {
      socket.setNoDelay(this.noDelay);
      // Accepted sockets take the server's read high-water mark; the write side is sized here.
      setWriteBuffer(socket, this.writeBufferBytes);
      const stream = new TcpDuplex(socket);
      try {
        handler(stream);
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return bindServer(server, address);
  }
}

function closedError(message: string, cause?: unknown): NovacronError {
  return new NovacronError(CoreErrorCode.STREAM_CLOSED, message, cause === undefined ? {} : { cause });
}

/**
 * One TCP connection (plain, or TLS: a `tls.TLSSocket` is a `net.Socket`)
 * as a core {@link Duplex}. Used by {@link TcpTransport} and `TlsTransport`;
 * exported for transports built on other socket sources.
 */
export class TcpDuplex implements Duplex {
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly closed: Promise<void>;
  /** The authenticated peer, when the socket came from an authenticating transport. */
  readonly remoteNodeId?: NodeId;
  protected writable = true;
  protected failure: Error | undefined;
  protected abortReason: Error | undefined;
  /** Settles {@link closed}; subclasses whose socket may not emit `'close'` call it themselves. */
  protected resolveClosed!: () => void;

  /**
   * @param socket - a connected socket; the duplex owns it from now on.
   * @param remoteNodeId - the peer the transport authenticated, if any.
   */
  constructor(
    protected readonly socket: net.Socket,
    remoteNodeId?: NodeId,
  ) {
    if (remoteNodeId !== undefined) this.remoteNodeId = remoteNodeId;
    this.localAddress = formatHostPort(socket.localAddress ?? '', socket.localPort ?? 0);
    this.remoteAddress = formatHostPort(socket.remoteAddress ?? '', socket.remotePort ?? 0);
    this.closed = new Promise<void>((resolve) => {
      this.resolveClosed = resolve;
      socket.once('close', () => resolve());
    });
    socket.on('error', (err) => {
      this.failure ??= err;
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (!this.writable || this.socket.destroyed || this.failure) {
      return Promise.reject(closedError('write on a closed stream', this.abortReason ?? this.failure));
    }
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const settle = (err?: Error | null) => {
        if (done) return;
        done = true;
        this.socket.off('drain', onDrain);
        if (err) reject(closedError(`write failed: ${err.message}`, this.abortReason ?? err));
        else resolve();
      };
      const onDrain = () => settle();
      // The callback fires once the bytes reach the kernel, or with an error when the socket dies first.
      const ok = this.socket.write(data, (err) => settle(err));
      if (ok) settle();
      else this.socket.on('drain', onDrain);
    });
  }

  closeWrite(): Promise<void> {
    if (!this.writable) return Promise.resolve();
    this.writable = false;
    return new Promise<void>((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(closedError('stream already closed', this.abortReason ?? this.failure));
        return;
      }
      this.socket.end(() => resolve());
      this.socket.once('close', () => {
        if (!this.socket.writableFinished) reject(closedError('stream closed before flushing', this.failure));
      });
    });
  }

  async close(): Promise<void> {
    if (!this.socket.destroyed) {
      await this.closeWrite();
      this.socket.destroy();
    }
    await this.closed;
  }

  abort(reason?: Error): void {
    this.writable = false;
    this.abortReason = reason ?? new Error('aborted');
    // RST, not FIN: the peer's reads and writes must fail rather than see a clean end.
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      // destroyOnReturn: false keeps a half-closed socket writable after its read side ends.
      for await (const chunk of this.socket.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      throw closedError(`stream failed: ${(err as Error).message}`, this.abortReason ?? err);
    }
    // A reset that arrived before iteration began leaves an errored socket whose iterator just ends.
    let failure = this.abortReason ?? this.failure ?? this.socket.errored ?? undefined;
    if (!failure && !this.socket.destroyed && !this.socket.writableEnded) failure = await this.probeReset();
    if (failure) throw closedError(`stream failed: ${failure.message}`, failure);
  }

  /**
   * libuv reports EOF, not the error, when the last data and a peer's RST
   * arrive in one poll (it sees POLLHUP after a partial read and never reads
   * the error). The kernel still holds the socket error, so a zero-length
   * write surfaces it; a clean FIN leaves the zero-length write harmless.
   */
  private probeReset(): Promise<Error | undefined> {
    return new Promise((resolve) => {
      this.socket.write(new Uint8Array(0), (err) => resolve(err ?? undefined));
    });
  }
}
