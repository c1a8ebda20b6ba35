import type net from 'node:net';
import { type Clock, CoreErrorCode, type DialOptions, type Duplex, type Listener, NovacronError } from '@novacron/core';
import { formatHostPort, parseHostPort } from './address.js';

/** How {@link dialSocket} opens and finishes one connection. */
export interface DialSocketSetup<S extends net.Socket> {
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Opens the socket towards the parsed target. */
  readonly connect: (target: { host: string; port: number }) => S;
  /** The event after which the socket is usable (`connect`, or `secureConnect` for TLS). */
  readonly readyEvent: string;
  /** Turns the ready socket into a stream; a throw fails the dial (and destroys the socket). */
  readonly ready: (socket: S) => Duplex;
}

/**
 * The dial shared by the socket transports: address parsing, abort, connect
 * timeout and error mapping (`CORE_DIAL_FAILED`, `CORE_ABORTED`), so each
 * transport supplies only how to open a socket and what "ready" means.
 */
export function dialSocket<S extends net.Socket>(
  address: string,
  options: DialOptions,
  setup: DialSocketSetup<S>,
): Promise<Duplex> {
  const signal = options.signal;
  if (signal?.aborted)
    return Promise.reject(new NovacronError(CoreErrorCode.ABORTED, 'dial aborted', { cause: signal.reason }));
  let target: { host: string; port: number };
  try {
    target = parseHostPort(address);
  } catch (err) {
    return Promise.reject(
      new NovacronError(CoreErrorCode.DIAL_FAILED, `cannot dial ${address}`, { details: { address }, cause: err }),
    );
  }
  const failed = (err: Error) =>
    new NovacronError(CoreErrorCode.DIAL_FAILED, `cannot dial ${address}: ${err.message}`, {
      details: { address },
      cause: err,
    });
  return new Promise<Duplex>((resolve, reject) => {
    const socket = setup.connect(target);
    let settled = false;
    const finish = (err?: NovacronError) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off(setup.readyEvent, onReady);
      if (err === undefined) {
        try {
          resolve(setup.ready(socket));
          return;
        } catch (e) {
          err = failed(e as Error);
        }
      }
      socket.destroy();
      reject(err);
    };
    const onAbort = () => finish(new NovacronError(CoreErrorCode.ABORTED, 'dial aborted', { cause: signal?.reason }));
    const onError = (err: Error) => finish(failed(err));
    const onReady = () => finish();
    const timer = setup.clock.setTimeout(
      () =>
        finish(
          new NovacronError(CoreErrorCode.DIAL_FAILED, `dial ${address} timed out after ${setup.timeoutMs} ms`, {
            details: { address, timeoutMs: setup.timeoutMs },
          }),
        ),
      setup.timeoutMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once(setup.readyEvent, onReady);
  });
}

/**
 * Binds `server` to `address` (port 0 picks one) and returns the core
 * {@link Listener}: `CORE_INVALID_STATE` when binding fails; later server
 * errors (EMFILE on accept) are swallowed so they cannot crash the process.
 */
export async function bindServer(server: net.Server, address: string): Promise<Listener> {
  const { host, port } = parseHostPort(address);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(
        new NovacronError(CoreErrorCode.INVALID_STATE, `cannot listen on ${address}: ${err.message}`, {
          details: { address },
          cause: err,
        }),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', () => {});
  const bound = server.address() as net.AddressInfo;
  return {
    address: formatHostPort(bound.address, bound.port),
    // server.close() stops accepting at once; its callback would wait for accepted sockets, which stay open.
    close: async () => {
      if (server.listening) server.close();
    },
  };
}

/** Sizes an accepted (or TLS) socket's user-space write buffer, which Node only lets `connect` options set. */
export function setWriteBuffer(socket: net.Socket, bytes: number): void {
  (socket as unknown as { _writableState: { highWaterMark: number } })._writableState.highWaterMark = bytes;
}
