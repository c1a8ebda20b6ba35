import { createHash } from 'node:crypto';
import {
  type Clock,
  CoreErrorCode,
  type Duplex,
  type Listener,
  type StreamTransport,
  isNovacronError,
  seededRng,
  systemClock,
} from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What one {@link streamTransportCompliance} test runs against. */
export interface StreamTransportFixture {
  /** The dialing side. */
  readonly client: StreamTransport;
  /** The listening side (may be the same object as `client`). */
  readonly server: StreamTransport;
  /**
   * An address `server` can listen on, with port 0 so each `listen` gets a
   * fresh port (`127.0.0.1:0` for TCP, `b:0` in the simulator).
   */
  readonly listenAddress: string;
  /** An address `client` can reach but nothing listens on. */
  readonly unusedAddress: string;
  /** Time source for the suite's pauses (default: the system clock). */
  readonly clock?: Clock;
  /**
   * Drives time until `scenario` settles and returns its outcome. Real
   * transports leave it out (time passes by itself); a simulator runs its
   * event loop here, and should fail the scenario when it stalls.
   */
  run?<T>(scenario: Promise<T>): Promise<T>;
}

/**
 * The behaviour every {@link StreamTransport} must show, as a vitest suite.
 * A third party proves its transport with a spec file like:
 *
 * ```ts
 * import { streamTransportCompliance } from '@novacron/testkit/compliance/stream-transport';
 * import { TcpTransport } from '../src/tcp-transport.js';
 *
 * streamTransportCompliance('tcp', {
 *   setup: () => {
 *     const t = new TcpTransport();
 *     return { client: t, server: t, listenAddress: '127.0.0.1:0', unusedAddress: '127.0.0.1:1' };
 *   },
 * });
 * ```
 *
 * Checks: listen/dial/echo, large transfer integrity, many concurrent
 * streams, half-close, graceful close flushing pending writes, abort
 * reaching the peer, dial failures (`CORE_DIAL_FAILED`, `CORE_ABORTED`),
 * writes after close (`CORE_STREAM_CLOSED`), listener close, backpressure.
 */
export function streamTransportCompliance(name: string, fixtures: ComplianceFixtures<StreamTransportFixture>): void {
  describe(`StreamTransport compliance: ${name}`, () => {
    let f: StreamTransportFixture;
    const listeners: Listener[] = [];

    beforeEach(async () => {
      f = await fixtures.setup();
    });

    afterEach(async () => {
      const open = listeners.splice(0);
      if (open.length > 0) await drive(Promise.all(open.map((l) => l.close())));
      await fixtures.teardown?.(f);
    });

    const drive = <T>(scenario: Promise<T>): Promise<T> => (f.run ? f.run(scenario) : scenario);
    const realClock = systemClock();
    const clock = (): Clock => f.clock ?? realClock;
    const listen = async (handler: (s: Duplex) => void): Promise<Listener> => {
      const l = await f.server.listen(f.listenAddress, handler);
      listeners.push(l);
      return l;
    };
    const echo = (s: Duplex) => {
      void (async () => {
        try {
          for await (const chunk of s) await s.write(chunk);
          await s.close();
        } catch {
          s.abort();
        }
      })();
    };

    it('dials a listener and echoes bytes back', async () => {
      await drive(
        (async () => {
          const l = await listen(echo);
          const s = await f.client.dial(l.address);
          expect(typeof s.localAddress).toBe('string');
          expect(s.remoteAddress.length).toBeGreaterThan(0);
          const message = new TextEncoder().encode('hello, stream');
          const reply = readAll(s);
          await s.write(message);
          await s.closeWrite();
          expect(await reply).toEqual(message);
          await s.closed;
        })(),
      );
    });

    it('carries a large transfer intact and in order', async () => {
      await drive(
        (async () => {
          const size = 8 * 1024 * 1024 + 12345;
          let digest: Promise<string> | undefined;
          const l = await listen((s) => {
            digest = sha256Of(s);
          });
          const s = await f.client.dial(l.address);
          const data = pseudoRandom(size, 1);
          // Uneven writes so framing cannot line up with segment sizes by luck.
          let off = 0;
          for (let i = 0; off < size; i++) {
            const n = Math.min(size - off, 1 + ((i * 7919) % (300 * 1024)));
            await s.write(data.subarray(off, off + n));
            off += n;
          }
          await s.close();
          await waitFor(clock(), () => digest !== undefined);
          expect(await digest).toBe(sha256(data));
        })(),
      );
    });

    it('keeps many concurrent streams independent', async () => {
      await drive(
        (async () => {
          const l = await listen(echo);
          const n = 32;
          const results = await Promise.all(
            Array.from({ length: n }, async (_, i) => {
              const s = await f.client.dial(l.address);
              const data = pseudoRandom(16 * 1024 + i * 97, 100 + i);
              const reply = readAll(s);
              await s.write(data);
              await s.closeWrite();
              return { data, reply: await reply };
            }),
          );
          // Hashes: element-wise deep equality of large typed arrays is slow in test matchers.
          for (const r of results) expect(sha256(r.reply)).toBe(sha256(r.data));
        })(),
      );
    });

    it('half-closes: the peer sees the end but can still answer', async () => {
      await drive(
        (async () => {
          const l = await listen((s) => {
            void (async () => {
              const got = await readAll(s);
              await s.write(new TextEncoder().encode(`got ${got.length}`));
              await s.closeWrite();
            })();
          });
          const s = await f.client.dial(l.address);
          await s.write(new Uint8Array(1000).fill(7));
          await s.closeWrite();
          await expect(s.write(new Uint8Array(1))).rejects.toSatisfy(isClosed);
          expect(new TextDecoder().decode(await readAll(s))).toBe('got 1000');
          await s.closed;
        })(),
      );
    });

    it('close flushes pending writes before releasing', async () => {
      await drive(
        (async () => {
          let received: Promise<Uint8Array> | undefined;
          const l = await listen((s) => {
            received = readAll(s);
          });
          const s = await f.client.dial(l.address);
          const data = pseudoRandom(2 * 1024 * 1024, 2);
          const writes = [s.write(data.subarray(0, 1_000_000)), s.write(data.subarray(1_000_000))];
          await s.close();
          await Promise.all(writes);
          await s.closed;
          await waitFor(clock(), () => received !== undefined);
          expect(sha256(await received!)).toBe(sha256(data));
        })(),
      );
    });

    it('rejects writes after close and after closeWrite with CORE_STREAM_CLOSED', async () => {
      await drive(
        (async () => {
          const l = await listen(echo);
          const a = await f.client.dial(l.address);
          await a.close();
          await expect(a.write(new Uint8Array(4))).rejects.toSatisfy(isClosed);
          const b = await f.client.dial(l.address);
          await b.closeWrite();
          await expect(b.write(new Uint8Array(4))).rejects.toSatisfy(isClosed);
          b.abort();
        })(),
      );
    });

    it('abort reaches the peer: its reads and writes fail with CORE_STREAM_CLOSED', async () => {
      await drive(
        (async () => {
          let server: Duplex | undefined;
          const l = await listen((s) => {
            server = s;
          });
          const s = await f.client.dial(l.address);
          await s.write(new Uint8Array(10));
          await waitFor(clock(), () => server !== undefined);
          const peer = server!;
          const reading = (async () => {
            for await (const _ of peer) {
              // drain until the reset arrives
            }
          })();
          s.abort(new Error('test abort'));
          await expect(s.write(new Uint8Array(1))).rejects.toSatisfy(isClosed);
          await expect(reading).rejects.toSatisfy(isClosed);
          // Writes fail once the reset is known (a write may be accepted just before).
          let failed: unknown;
          for (let i = 0; i < 1000 && failed === undefined; i++) {
            try {
              await peer.write(new Uint8Array(1024));
              await clock().sleep(1);
            } catch (err) {
              failed = err;
            }
          }
          expect(isClosed(failed)).toBe(true);
          await Promise.all([s.closed, peer.closed]);
        })(),
      );
    });

    it('fails a dial to an address nobody listens on with CORE_DIAL_FAILED', async () => {
      await drive(
        (async () => {
          await expect(f.client.dial(f.unusedAddress)).rejects.toSatisfy((e: unknown) =>
            isNovacronError(e, CoreErrorCode.DIAL_FAILED),
          );
        })(),
      );
    });

    it('rejects a dial whose signal is aborted with CORE_ABORTED', async () => {
      await drive(
        (async () => {
          const l = await listen(echo);
          const ac = new AbortController();
          ac.abort(new Error('no'));
          await expect(f.client.dial(l.address, { signal: ac.signal })).rejects.toSatisfy((e: unknown) =>
            isNovacronError(e, CoreErrorCode.ABORTED),
          );
        })(),
      );
    });

    it('stops accepting after the listener closes; accepted streams stay open', async () => {
      await drive(
        (async () => {
          const l = await listen(echo);
          const s = await f.client.dial(l.address);
          await l.close();
          await expect(f.client.dial(l.address)).rejects.toSatisfy((e: unknown) =>
            isNovacronError(e, CoreErrorCode.DIAL_FAILED),
          );
          const reply = readAll(s);
          await s.write(new Uint8Array([1, 2, 3]));
          await s.closeWrite();
          expect(await reply).toEqual(new Uint8Array([1, 2, 3]));
        })(),
      );
    });

    it('applies backpressure: writes to a paused reader resolve once it reads', async () => {
      await drive(
        (async () => {
          let digest: Promise<string> | undefined;
          const l = await listen((s) => {
            digest = (async () => {
              // A reader that starts late and then reads slowly.
              await clock().sleep(50);
              return sha256Of(s);
            })();
          });
          const s = await f.client.dial(l.address);
          const data = pseudoRandom(24 * 1024 * 1024, 3);
          const chunk = 1024 * 1024;
          for (let off = 0; off < data.length; off += chunk) await s.write(data.subarray(off, off + chunk));
          await s.closeWrite();
          await waitFor(clock(), () => digest !== undefined);
          expect(await digest).toBe(sha256(data));
          await s.close();
        })(),
      );
    });

    it('resolves closed on both ends after a graceful close', async () => {
      await drive(
        (async () => {
          let server: Duplex | undefined;
          const l = await listen((s) => {
            server = s;
            void readAll(s).then(() => s.close());
          });
          const s = await f.client.dial(l.address);
          await s.write(new Uint8Array(100));
          await s.close();
          await s.closed;
          await waitFor(clock(), () => server !== undefined);
          await server!.closed;
        })(),
      );
    });
  });
}

function isClosed(err: unknown): boolean {
  return isNovacronError(err, CoreErrorCode.STREAM_CLOSED);
}

async function readAll(s: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of s) {
    // Copy: a transport may reuse its buffers once the next chunk is asked for.
    parts.push(c.slice());
    n += c.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

async function sha256Of(s: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c);
  return h.digest('hex');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function pseudoRandom(size: number, seed: number): Uint8Array {
  return seededRng(`stream-compliance:${seed}`).bytes(size);
}

/** Polls `predicate` on `clock` (events that happen inside handlers are not promises the test holds). */
async function waitFor(clock: Clock, predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !predicate(); i++) await clock.sleep(1);
  if (!predicate()) throw new Error('condition not reached');
}
