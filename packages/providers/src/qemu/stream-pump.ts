import type { Socket } from 'node:net';
import type { Duplex } from '@novacron/core';

/**
 * Copies a socket's bytes into a {@link Duplex}, stopping reading while
 * more than `maxPendingBytes` of writes are unacknowledged by the duplex,
 * so the socket's sender (QEMU) is held back by the caller's transport as
 * by a real network path, with at most that much slack in between.
 * Resolves with the byte count when the socket ends (after half-closing the
 * duplex).
 */
export function pumpSocketToDuplex(
  socket: Socket,
  stream: Duplex,
  signal: AbortSignal,
  maxPendingBytes = 256 * 1024,
): Promise<number> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let pending = 0;
    let writing = Promise.resolve();
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      socket.destroy();
      reject(err);
    };
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      pending += chunk.length;
      if (pending > maxPendingBytes) socket.pause();
      // Writes stay in order: each starts after the previous one was accepted.
      writing = writing
        .then(() => stream.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)))
        .then(() => {
          pending -= chunk.length;
          if (!failed && pending <= maxPendingBytes && socket.isPaused()) socket.resume();
        }, fail);
    });
    socket.on('error', fail);
    socket.on('end', () => {
      void writing
        .then(() => stream.closeWrite())
        .then(() => {
          signal.removeEventListener('abort', onAbort);
          if (!failed) resolve(bytes);
        }, fail);
    });
  });
}

/**
 * Copies a {@link Duplex}'s bytes into a socket, waiting for `drain` when
 * the socket's buffer is full. Resolves with the byte count when the duplex
 * ends (the socket's write side is then ended).
 */
export async function pumpDuplexToSocket(stream: Duplex, socket: Socket, signal: AbortSignal): Promise<number> {
  let bytes = 0;
  const closedEarly = new Promise<never>((_, reject) => {
    socket.once('error', reject);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  closedEarly.catch(() => undefined);
  for await (const chunk of stream) {
    if (signal.aborted) throw signal.reason;
    bytes += chunk.length;
    if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), closedEarly]);
  }
  socket.end();
  return bytes;
}
