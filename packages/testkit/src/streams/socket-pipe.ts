import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { CoreErrorCode, type Duplex, NovacronError } from '@novacron/core';
import type { PipeDirectionStats } from './bounded-pipe.js';

/** Wraps a connected `net.Socket` as core's {@link Duplex}, counting bytes each way. */
export class SocketDuplex implements Duplex {
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly closed: Promise<void>;
  /** Bytes written through this end. */
  readonly sent: PipeDirectionStats = { written: 0, read: 0, peakBuffered: 0 };
  /** Bytes read from this end. */
  received = 0;
  readonly #socket: Socket;
  #error: NovacronError | undefined;
  #writeClosed = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.localAddress = `${socket.localAddress}:${socket.localPort}`;
    this.remoteAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (err) => {
      this.#error ??= new NovacronError(CoreErrorCode.STREAM_CLOSED, 'socket failed', { cause: err });
    });
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#writeClosed || this.#socket.destroyed)
      return Promise.reject(new NovacronError(CoreErrorCode.STREAM_CLOSED, 'write after close'));
    this.sent.written += data.length;
    return new Promise((resolve, reject) => {
      // Resolve when the kernel has room again: that is the path's backpressure.
      const flushed = this.#socket.write(data, (err) => {
        if (err) reject(new NovacronError(CoreErrorCode.STREAM_CLOSED, 'socket write failed', { cause: err }));
      });
      if (flushed) resolve();
      else {
        const onDrain = () => {
          this.#socket.off('close', onClose);
          resolve();
        };
        const onClose = () => {
          this.#socket.off('drain', onDrain);
          reject(this.#error ?? new NovacronError(CoreErrorCode.STREAM_CLOSED, 'socket closed'));
        };
        this.#socket.once('drain', onDrain);
        this.#socket.once('close', onClose);
      }
    });
  }

  async closeWrite(): Promise<void> {
    this.#writeClosed = true;
    await new Promise<void>((resolve) => this.#socket.end(resolve));
  }

  async close(): Promise<void> {
    this.#writeClosed = true;
    this.#socket.end();
    await this.closed;
  }

  abort(reason?: Error): void {
    this.#error ??= new NovacronError(CoreErrorCode.STREAM_CLOSED, 'stream aborted', { cause: reason });
    this.#socket.destroy();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      for await (const chunk of this.#socket) {
        const bytes = chunk as Buffer;
        this.received += bytes.length;
        yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
      }
    } catch (err) {
      throw this.#error ?? new NovacronError(CoreErrorCode.STREAM_CLOSED, 'socket failed', { cause: err });
    }
    if (this.#error) throw this.#error;
  }
}

/** A loopback TCP connection as two {@link SocketDuplex} ends. */
export interface SocketPipe {
  /** The dialling end. */
  readonly a: SocketDuplex;
  /** The accepting end. */
  readonly b: SocketDuplex;
  /** Closes both ends and the listener. */
  close(): Promise<void>;
}

/**
 * A real TCP connection over 127.0.0.1 wrapped as a pair of `Duplex`
 * ends: the plain-socket byte pipe through which tests carry a provider's
 * migration stream, with the kernel's socket buffers as the bound.
 */
export async function socketPipe(): Promise<SocketPipe> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const dialled = await new Promise<Socket>((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  const b = await accepted;
  server.close();
  dialled.setNoDelay(true);
  b.setNoDelay(true);
  const pipe = { a: new SocketDuplex(dialled), b: new SocketDuplex(b) };
  return {
    ...pipe,
    async close() {
      pipe.a.abort();
      pipe.b.abort();
      await Promise.all([pipe.a.closed, pipe.b.closed]);
    },
  };
}
