import { createHash } from 'node:crypto';
import { CoreErrorCode, type Duplex, type NovacronError, isNovacronError, seededRng } from '@novacron/core';
import { SimStreams, type SimStreamsOptions, SimWorld, simRun } from '@novacron/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const closed = (e: unknown) => isNovacronError(e, CoreErrorCode.STREAM_CLOSED);
const dialFailed = (e: unknown) => isNovacronError(e, CoreErrorCode.DIAL_FAILED);

function setup(options: SimStreamsOptions = {}, seed: number | string = 1) {
  const world = new SimWorld({ seed, keepTrace: 10_000 });
  world.addNode('a');
  world.addNode('b');
  world.addNode('c');
  const streams = new SimStreams(world, options);
  return { world, streams, a: streams.transport('a'), b: streams.transport('b') };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function digestOf(s: AsyncIterable<Uint8Array>): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of s) {
    h.update(c);
    bytes += c.length;
  }
  return { hash: h.digest('hex'), bytes };
}

/** Accepts streams on b:80 and exposes them in arrival order. */
async function acceptAll(t: ReturnType<typeof setup>['b']) {
  const accepted: Duplex[] = [];
  const listener = await t.listen('b:80', (s) => accepted.push(s));
  return { accepted, listener };
}

describe('SimStreams: delivery', () => {
  it('delivers random data intact and in order, with and without loss (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.array(fc.integer({ min: 0, max: 200_000 }), { minLength: 1, maxLength: 12 }),
        fc.constantFrom(0, 0.001, 0.02),
        fc.constantFrom(64 * 1024, 4096),
        async (seed, sizes, loss, mss) => {
          const { world, a, b } = setup(
            { path: { latencyMs: 5, bytesPerSecond: 50e6, queueBytes: 256 * 1024, loss }, tcp: { mss } },
            seed,
          );
          const data = seededRng(`data:${seed}`).bytes(sizes.reduce((x, y) => x + y, 0));
          const result = await simRun(
            world,
            (async () => {
              let received: Promise<{ hash: string; bytes: number }> | undefined;
              await b.listen('b:80', (s) => {
                received = digestOf(s);
              });
              const s = await a.dial('b:80');
              let off = 0;
              for (const n of sizes) {
                await s.write(data.subarray(off, off + n));
                off += n;
              }
              await s.close();
              return received!;
            })(),
            3_600_000,
          );
          expect(result.bytes).toBe(data.length);
          expect(result.hash).toBe(sha256(data));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('copies accepted bytes: mutating a buffer after its write resolves does not change what arrives', async () => {
    const { world, a, b } = setup();
    const got = await simRun(
      world,
      (async () => {
        let received: Promise<{ hash: string; bytes: number }> | undefined;
        await b.listen('b:80', (s) => {
          received = digestOf(s);
        });
        const s = await a.dial('b:80');
        const buf = new Uint8Array(1000).fill(1);
        await s.write(buf);
        buf.fill(2);
        await s.close();
        return received!;
      })(),
      60_000,
    );
    expect(got.hash).toBe(sha256(new Uint8Array(1000).fill(1)));
  });

  it('a dial completes after one round trip and records the connection in the trace', async () => {
    const { world, a, b } = setup({ path: { latencyMs: 10 } });
    await simRun(
      world,
      b.listen('b:80', () => {}),
      1000,
    );
    const t0 = world.now();
    const s = await simRun(world, a.dial('b:80'), 1000);
    expect(world.now() - t0).toBeCloseTo(20, 6);
    expect(s.remoteAddress).toBe('b:80');
    expect(s.localAddress).toMatch(/^a:\d+$/);
    expect(world.trace.events.some((e) => e.kind === 'stream-connect')).toBe(true);
  });
});

describe('SimStreams: backpressure', () => {
  it('stalls a writer when the reader does not read, and resumes when it does', async () => {
    const tcp = { sendBufferBytes: 256 * 1024, recvBufferBytes: 256 * 1024, mss: 16 * 1024 };
    const { world, a, b } = setup({ tcp });
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    const chunk = 64 * 1024;
    let resolved = 0;
    const writes = Array.from({ length: 32 }, () => s.write(new Uint8Array(chunk)).then(() => resolved++));
    await world.runFor(5_000);
    // At most both buffers fill: 512 KiB of 2 MiB; the rest waits.
    expect(resolved * chunk).toBeLessThanOrEqual(tcp.sendBufferBytes + tcp.recvBufferBytes);
    expect(resolved).toBeGreaterThan(0);
    expect(resolved).toBeLessThan(32);
    const stuck = resolved;
    await world.runFor(5_000);
    expect(resolved).toBe(stuck);
    // The reader starts: every write completes and every byte arrives.
    const reading = digestOf(accepted[0]!);
    await simRun(world, Promise.all(writes), 60_000);
    await simRun(world, s.close(), 60_000);
    expect((await simRun(world, reading, 60_000)).bytes).toBe(32 * chunk);
  });
});

describe('SimStreams: closing', () => {
  it('closeWrite ends the peer iteration after all data, while the closing side can still read', async () => {
    const { world, a, b } = setup();
    const reply = await simRun(
      world,
      (async () => {
        await b.listen('b:80', (s) => {
          void (async () => {
            const d = await digestOf(s);
            await s.write(new TextEncoder().encode(`${d.bytes}`));
            await s.closeWrite();
          })();
        });
        const s = await a.dial('b:80');
        await s.write(new Uint8Array(300_000));
        await s.closeWrite();
        await s.closeWrite(); // idempotent
        await expect(s.write(new Uint8Array(1))).rejects.toSatisfy(closed);
        const chunks: Uint8Array[] = [];
        for await (const c of s) chunks.push(c);
        await s.closed;
        return new TextDecoder().decode(Buffer.concat(chunks));
      })(),
      60_000,
    );
    expect(reply).toBe('300000');
  });

  it('close flushes queued writes, resolves closed, and later writes reject', async () => {
    const { world, a, b } = setup({ path: { latencyMs: 20, bytesPerSecond: 10e6 } });
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    const w = s.write(new Uint8Array(1_000_000).fill(9));
    const closing = s.close();
    expect(s.close()).toBe(closing);
    const reading = digestOf(accepted[0]!);
    await simRun(world, closing, 60_000);
    await simRun(world, w, 1);
    await simRun(world, s.closed, 1);
    await expect(s.write(new Uint8Array(1))).rejects.toSatisfy(closed);
    const got = await simRun(world, reading, 60_000);
    expect(got.hash).toBe(sha256(new Uint8Array(1_000_000).fill(9)));
  });

  it('both ends report closed after a graceful close in both directions, and the connection is forgotten', async () => {
    const { world, streams, a, b } = setup();
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    expect(streams.openConnections).toBe(1);
    await simRun(world, Promise.all([s.close(), accepted[0]!.close()]), 10_000);
    await simRun(world, Promise.all([s.closed, accepted[0]!.closed]), 10_000);
    await world.runFor(100);
    expect(streams.openConnections).toBe(0);
  });

  it('data sent to an end that was closed earns a reset', async () => {
    const { world, a, b } = setup();
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    await simRun(world, s.close(), 10_000);
    const peer = accepted[0]!;
    const outcome = await simRun(
      world,
      (async () => {
        for (let i = 0; i < 100; i++) {
          try {
            await peer.write(new Uint8Array(1000));
            await world.clock.sleep(5);
          } catch (err) {
            return err;
          }
        }
        return undefined;
      })(),
      10_000,
    );
    expect(closed(outcome)).toBe(true);
  });

  it('abort fails pending writes and reads on both ends and carries the reason locally', async () => {
    const { world, a, b } = setup({ tcp: { sendBufferBytes: 64 * 1024, recvBufferBytes: 64 * 1024 } });
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    const peer = accepted[0]!;
    // Fill both buffers so writes are pending at both ends.
    const mine = Array.from({ length: 8 }, () => s.write(new Uint8Array(64 * 1024)));
    const theirs = Array.from({ length: 8 }, () => peer.write(new Uint8Array(64 * 1024)));
    const results = Promise.allSettled([...mine, ...theirs]);
    const peerRead = (async () => {
      for await (const _ of peer) await world.clock.sleep(1000);
    })();
    peerRead.catch(() => {});
    await world.runFor(50);
    const reason = new Error('operator abort');
    s.abort(reason);
    await expect(s.write(new Uint8Array(1))).rejects.toSatisfy(closed);
    const iter = s[Symbol.asyncIterator]();
    const localRead = iter.next();
    await expect(localRead).rejects.toSatisfy((e: unknown) => closed(e) && (e as Error).cause === reason);
    await simRun(world, Promise.all([s.closed, peer.closed]), 1000);
    await expect(simRun(world, peerRead, 5000)).rejects.toSatisfy(closed);
    const settled = await simRun(world, results, 1000);
    const rejected = settled.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) expect(closed((r as PromiseRejectedResult).reason)).toBe(true);
    // Theirs: at least one peer write was still pending when the reset arrived.
    const theirSettled = settled.slice(8);
    expect(theirSettled.some((r) => r.status === 'rejected')).toBe(true);
    await expect(peer.write(new Uint8Array(1))).rejects.toSatisfy(closed);
    // close after an abort resolves (nothing left to release).
    await s.close();
  });

  it('a handler that throws aborts its stream', async () => {
    const { world, a, b } = setup();
    await simRun(
      world,
      b.listen('b:80', () => {
        throw new Error('handler failed');
      }),
      1000,
    );
    const s = await simRun(world, a.dial('b:80'), 1000);
    const read = s[Symbol.asyncIterator]().next();
    await expect(simRun(world, read, 1000)).rejects.toSatisfy(closed);
  });
});

describe('SimStreams: dialing and listening', () => {
  it('a dial to a port nobody listens on fails with CORE_DIAL_FAILED after one round trip', async () => {
    const { world, a } = setup({ path: { latencyMs: 7 } });
    const t0 = world.now();
    await expect(simRun(world, a.dial('b:81'), 1000)).rejects.toSatisfy(dialFailed);
    expect(world.now() - t0).toBeCloseTo(14, 6);
  });

  it('a dial to an unknown host fails at once; a malformed address is an invalid argument', async () => {
    const { a } = setup();
    await expect(a.dial('nowhere:80')).rejects.toSatisfy(dialFailed);
    for (const bad of ['b', 'b:', 'b:x', 'b:70000', ':80', 'b:0']) {
      await expect(a.dial(bad)).rejects.toSatisfy((e: unknown) => isNovacronError(e, CoreErrorCode.INVALID_ARGUMENT));
    }
    await expect(a.dial(42 as unknown as string)).rejects.toSatisfy((e: unknown) =>
      isNovacronError(e, CoreErrorCode.INVALID_ARGUMENT),
    );
  });

  it('an aborted dial rejects with CORE_ABORTED, before or during the handshake', async () => {
    const { world, a, b } = setup({ path: { latencyMs: 50 } });
    await simRun(
      world,
      b.listen('b:80', () => {}),
      1000,
    );
    const ac = new AbortController();
    ac.abort();
    await expect(a.dial('b:80', { signal: ac.signal })).rejects.toSatisfy((e: unknown) =>
      isNovacronError(e, CoreErrorCode.ABORTED),
    );
    const ac2 = new AbortController();
    const p = a.dial('b:80', { signal: ac2.signal });
    p.catch(() => {});
    await world.runFor(10);
    ac2.abort(new Error('changed my mind'));
    await expect(p).rejects.toSatisfy((e: unknown) => isNovacronError(e, CoreErrorCode.ABORTED));
  });

  it('listen binds only its own node, refuses a bound port, and gives port 0 a free port', async () => {
    const { a, b } = setup();
    await expect(b.listen('a:80', () => {})).rejects.toSatisfy((e: unknown) =>
      isNovacronError(e, CoreErrorCode.INVALID_ARGUMENT),
    );
    const l = await b.listen('b:80', () => {});
    await expect(b.listen('b:80', () => {})).rejects.toSatisfy((e: unknown) =>
      isNovacronError(e, CoreErrorCode.INVALID_ARGUMENT),
    );
    const e1 = await b.listen('b:0', () => {});
    const e2 = await b.listen('b:0', () => {});
    expect(e1.address).toMatch(/^b:\d+$/);
    expect(e1.address).not.toBe(e2.address);
    await l.close();
    await l.close();
    await b.listen('b:80', () => {});
    expect(a.name).toBe('sim');
  });

  it('closing a listener refuses new dials but keeps accepted streams', async () => {
    const { world, a, b } = setup();
    const { accepted, listener } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    await listener.close();
    await expect(simRun(world, a.dial('b:80'), 1000)).rejects.toSatisfy(dialFailed);
    const reading = digestOf(accepted[0]!);
    await simRun(world, s.write(new Uint8Array(10)), 1000);
    await simRun(world, s.close(), 1000);
    expect((await simRun(world, reading, 1000)).bytes).toBe(10);
  });
});

describe('SimStreams: faults', () => {
  it('resetStreams resets both ends at once (and the reset-streams fault does the same)', async () => {
    const { world, streams, a, b } = setup();
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s1 = await simRun(world, a.dial('b:80'), 1000);
    const s2 = await simRun(world, a.dial('b:80'), 1000);
    const other = await simRun(world, streams.transport('c').dial('b:80'), 1000);
    expect(streams.resetStreams('a', 'b')).toBe(2);
    await expect(s1.write(new Uint8Array(1))).rejects.toSatisfy(closed);
    await expect(accepted[0]![Symbol.asyncIterator]().next()).rejects.toSatisfy(closed);
    await expect(accepted[1]!.write(new Uint8Array(1))).rejects.toSatisfy(closed);
    await expect(s2[Symbol.asyncIterator]().next()).rejects.toSatisfy(closed);
    await s1.closed;
    // The c→b connection is untouched, until the fault resets every connection of c.
    await simRun(world, other.write(new Uint8Array(1)), 1000);
    world.faults.inject({ kind: 'reset-streams', a: 'c' });
    await expect(other.write(new Uint8Array(1))).rejects.toSatisfy(closed);
    expect(world.trace.events.filter((e) => e.kind === 'stream-reset' && e.fields.reason === 'demand').length).toBe(6);
  });

  it('random resets follow the configured rate, deterministically', async () => {
    const run = async (seed: number) => {
      const { world, a, b } = setup({ resetRatePerSecond: 0.5 }, seed);
      await simRun(
        world,
        b.listen('b:80', () => {}),
        1000,
      );
      const conns = await simRun(world, Promise.all(Array.from({ length: 40 }, () => a.dial('b:80'))), 1000);
      let resets = 0;
      for (const c of conns) void c.closed.then(() => resets++);
      await world.runFor(2000);
      return { resets, hash: world.trace.hash() };
    };
    const r1 = await run(7);
    const r2 = await run(7);
    expect(r1).toEqual(r2);
    // 40 connections at 0.5/s for 2 s: P(reset) = 1 - e^-1 ≈ 0.63, so about 25.
    expect(r1.resets).toBeGreaterThan(12);
    expect(r1.resets).toBeLessThan(38);
  });

  it('a crash resets the node’s streams at both ends, fails pending writes, and drops its listeners', async () => {
    const { world, a, b } = setup({ tcp: { sendBufferBytes: 64 * 1024, recvBufferBytes: 64 * 1024 } });
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    const pending = Array.from({ length: 6 }, () => s.write(new Uint8Array(64 * 1024)));
    const outcome = Promise.allSettled(pending);
    const reading = s[Symbol.asyncIterator]().next();
    reading.catch(() => {});
    await world.runFor(10);
    world.crash('b');
    await expect(accepted[0]!.write(new Uint8Array(1))).rejects.toSatisfy(closed);
    await expect(simRun(world, reading, 1000)).rejects.toSatisfy(closed);
    const settled = await simRun(world, outcome, 1000);
    expect(settled.some((r) => r.status === 'rejected' && closed(r.reason))).toBe(true);
    await simRun(world, s.closed, 1);
    // After a restart nothing listens until the node listens again.
    world.restart('b');
    await expect(simRun(world, a.dial('b:80'), 1000)).rejects.toSatisfy(dialFailed);
    await b.listen('b:80', () => {});
    await simRun(world, a.dial('b:80'), 1000);
  });

  it('a dial to a crashed node retries its SYN and fails after the connect timeout', async () => {
    const { world, a } = setup({ tcp: { connectTimeoutMs: 5000 } });
    world.crash('b');
    const t0 = world.now();
    await expect(simRun(world, a.dial('b:80'), 60_000)).rejects.toSatisfy(dialFailed);
    expect(world.now() - t0).toBeGreaterThanOrEqual(5000);
    expect(world.now() - t0).toBeLessThan(5100);
  });

  it('a partition blocks traffic; after it heals the transfer completes intact', async () => {
    const { world, streams, a, b } = setup({
      path: { latencyMs: 5, bytesPerSecond: 20e6 },
      tcp: { maxRtoMs: 2000 },
    });
    const data = seededRng('partition').bytes(4 * 1024 * 1024);
    const { accepted } = await simRun(world, acceptAll(b), 1000);
    const s = await simRun(world, a.dial('b:80'), 1000);
    const writing = (async () => {
      await s.write(data);
      await s.close();
    })();
    const reading = digestOf(accepted[0]!);
    await world.runFor(50);
    world.partitions.split([['a'], ['b']]);
    const before = streams.pathStats('a', 'b').bytesDelivered;
    await world.runFor(10_000);
    expect(streams.pathStats('a', 'b').bytesDelivered).toBe(before);
    expect(streams.pathStats('a', 'b').partitionDrops).toBeGreaterThan(0);
    expect(s.info().timeouts).toBeGreaterThan(0);
    world.partitions.heal();
    const got = await simRun(world, reading, 60_000);
    await simRun(world, writing, 60_000);
    expect(got.hash).toBe(sha256(data));
  });

  it('a dial into a partition succeeds if the cut heals before the connect timeout', async () => {
    const { world, a, b } = setup();
    await simRun(
      world,
      b.listen('b:80', () => {}),
      1000,
    );
    world.partitions.split([['a'], ['b']]);
    world.schedule(2500, () => world.partitions.heal());
    const t0 = world.now();
    await simRun(world, a.dial('b:80'), 60_000);
    // SYNs at 0, 1 s, 3 s: the third gets through.
    expect(world.now() - t0).toBeGreaterThan(3000);
  });

  it('a partition that never heals resets the connection after the user timeout', async () => {
    const { world, a, b } = setup({ tcp: { userTimeoutMs: 5000, maxRtoMs: 1000 } });
    await simRun(
      world,
      b.listen('b:80', () => {}),
      1000,
    );
    const s = await simRun(world, a.dial('b:80'), 1000);
    world.partitions.split([['a'], ['b']]);
    const w = s.write(new Uint8Array(100_000));
    await simRun(world, w, 1000);
    await simRun(world, s.closed, 60_000);
    await expect(s.write(new Uint8Array(1))).rejects.toSatisfy(
      (e: unknown) => closed(e) && (e as NovacronError).details.reason === 'timeout',
    );
  });
});

describe('SimStreams: determinism', () => {
  const scenario = async (seed: number) => {
    const { world, streams, a, b } = setup(
      { path: { latencyMs: 10, bytesPerSecond: 20e6, queueBytes: 128 * 1024, loss: 0.01 }, tcp: { mss: 16384 } },
      seed,
    );
    const done = await simRun(
      world,
      (async () => {
        await b.listen('b:80', (s) => {
          void digestOf(s).then(() => s.close());
        });
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            const s = await a.dial('b:80');
            await s.write(seededRng('payload').bytes(1024 * 1024));
            await s.close();
          }),
        );
        return world.now();
      })(),
      600_000,
    );
    return { done, hash: world.trace.hash(), stats: streams.pathStats('a', 'b') };
  };

  it('the same seed gives the same trace hash, stats and completion time; another seed differs', async () => {
    const r1 = await scenario(11);
    const r2 = await scenario(11);
    expect(r2).toEqual(r1);
    expect(r1.stats.randomLosses).toBeGreaterThan(0);
    const r3 = await scenario(12);
    expect(r3.hash).not.toBe(r1.hash);
  });
});

describe('SimStreams: configuration', () => {
  it('rejects bad options with CORE_INVALID_ARGUMENT naming the field', () => {
    const world = new SimWorld({ seed: 1 });
    world.addNode('a');
    const bad = (o: unknown, field: string) =>
      expect(() => new SimStreams(world, o as SimStreamsOptions)).toThrow(
        expect.objectContaining({
          code: CoreErrorCode.INVALID_ARGUMENT,
          details: expect.objectContaining({ argument: field }),
        }),
      );
    bad({ path: { loss: 1.5 } }, 'options.path.loss');
    bad({ path: { bytesPerSecond: 0 } }, 'options.path.bytesPerSecond');
    bad({ tcp: { mss: 0 } }, 'options.tcp.mss');
    bad({ tcp: { maxRtoMs: 1, minRtoMs: 200 } }, 'options.tcp.maxRtoMs');
    bad({ resetRatePerSecond: -1 }, 'options.resetRatePerSecond');
    bad(null, 'options');
  });

  it('setPath overrides one pair in both directions, null restores it, and the link fault applies too', () => {
    const { world, streams } = setup({ path: { latencyMs: 3 } });
    streams.setPath('a', 'b', { latencyMs: 40, loss: 0.01 });
    expect(streams.pathConfig('a', 'b').latencyMs).toBe(40);
    expect(streams.pathConfig('b', 'a').loss).toBe(0.01);
    expect(streams.pathConfig('a', 'c').latencyMs).toBe(3);
    streams.setPath('a', 'b', { latencyMs: 41 }, { oneWay: true });
    expect(streams.pathConfig('a', 'b')).toMatchObject({ latencyMs: 41, loss: 0.01 });
    expect(streams.pathConfig('b', 'a').latencyMs).toBe(40);
    streams.setPath('a', 'b', null);
    expect(streams.pathConfig('a', 'b').latencyMs).toBe(3);
    world.faults.inject({ kind: 'link', a: 'a', b: 'c', config: { latencyMs: 12, bytesPerSecond: 1e6 } });
    expect(streams.pathConfig('c', 'a')).toMatchObject({ latencyMs: 12, bytesPerSecond: 1e6 });
    expect(() => streams.setPath('a', 'b', { queueBytes: -1 })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }),
    );
  });
});
