import { createHash } from 'node:crypto';
import { AmstErrorCode, type TransferProgress, memorySink } from '@novacron/amst';
import { type ChunkCodec, type Duplex, MemoryMetrics, type StreamTransport, isNovacronError } from '@novacron/core';
import { SimWorld } from '@novacron/testkit';
import { simTest } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { simPair, simTransfer } from './sim-harness.js';

/** Ten times the seeds under NOVACRON_SLOW=1 (`pnpm test:slow`). */
const more = (n: number) => (process.env.NOVACRON_SLOW === '1' ? 10 * n : n);

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Wraps a transport so a test can reach the lanes it dialled. */
function tapped(inner: StreamTransport) {
  const dialled: Duplex[] = [];
  const transport: StreamTransport = {
    name: inner.name,
    dial: async (address, options) => {
      const s = await inner.dial(address, options);
      dialled.push(s);
      return s;
    },
    listen: (address, handler) => inner.listen(address, handler),
  };
  return { transport, dialled };
}

describe('transfer over simulated streams', () => {
  simTest(
    'striping: any size, lane count, chunk size and path delivers the exact bytes',
    { seeds: 200 },
    async (world) => {
      const rng = world.rng.fork('case');
      const path = {
        latencyMs: rng.int(0, 40),
        bytesPerSecond: [2e6, 12.5e6, 125e6][rng.int(0, 2)]!,
        queueBytes: [64 * 1024, 1e6][rng.int(0, 1)]!,
        loss: rng.chance(0.5) ? 0 : 0.001 * rng.int(1, 10),
      };
      const pair = simPair(world, path);
      const size = rng.chance(0.1) ? rng.int(0, 10) : rng.int(1, 1_500_000);
      const data = rng.bytes(size);
      const lanes = rng.int(1, 8);
      const chunkSize = [1024, 16 * 1024, 100_003, 256 * 1024][rng.int(0, 3)]!;
      const r = await simTransfer(world, pair, { source: data, lanes, chunkSize, windowBytes: 1024 * 1024 });
      expect(r.bytes).toBe(size);
      expect(pair.sinks).toHaveLength(1);
      expect(pair.sinks[0]!.closed).toBe(true);
      expect(sha(pair.sinks[0]!.bytes())).toBe(sha(data));
      expect(r.retransmittedChunks).toBe(0);
    },
  );

  simTest('a lane that dies mid-transfer has its chunks resent on the others', { seeds: more(50) }, async (world) => {
    const pair = simPair(world, { latencyMs: 10, bytesPerSecond: 12.5e6, queueBytes: 1e6 });
    const tap = tapped(pair.streams.transport('a'));
    const data = world.rng.fork('data').bytes(2_000_000);
    const victim = world.rng.fork('victim').int(0, 3);
    let killed = false;
    const r = await simTransfer(world, pair, {
      transport: tap.transport,
      source: data,
      lanes: 4,
      chunkSize: 32 * 1024,
      progressIntervalMs: 20,
      onProgress: (p: TransferProgress) => {
        if (!killed && p.bytesAcked > 500_000 && tap.dialled[victim]) {
          killed = true;
          tap.dialled[victim]!.abort(new Error('lane killed by test'));
        }
      },
    });
    expect(killed).toBe(true);
    expect(r.laneFailures).toBeGreaterThanOrEqual(1);
    expect(r.resumes).toBe(0);
    expect(sha(pair.sinks[0]!.bytes())).toBe(sha(data));
  });

  simTest('all lanes dying resumes from the delivered offset', { seeds: more(50) }, async (world) => {
    const metrics = new MemoryMetrics();
    const pair = simPair(world, { latencyMs: 10, bytesPerSecond: 12.5e6, queueBytes: 1e6 }, undefined, { metrics });
    const data = world.rng.fork('data').bytes(2_000_000);
    let resets = 0;
    const r = await simTransfer(world, pair, {
      source: data,
      lanes: 3,
      chunkSize: 32 * 1024,
      windowBytes: 512 * 1024,
      progressIntervalMs: 20,
      onProgress: (p: TransferProgress) => {
        if (resets === 0 && p.bytesAcked > 1_000_000) resets = pair.streams.resetStreams('a', 'b');
      },
    });
    expect(resets).toBeGreaterThan(0);
    expect(r.resumes).toBe(1);
    // Resent at most what was in flight: the window.
    expect(r.retransmittedBytes).toBeLessThanOrEqual(512 * 1024);
    // The HELLO_ACK's held ranges: nothing the receiver already had crosses the wire again.
    const duplicates = metrics.snapshot().find((m) => m.name === 'novacron_amst_duplicate_chunks_total');
    expect(duplicates?.series[0]?.value ?? 0).toBe(0);
    expect(sha(pair.sinks[0]!.bytes())).toBe(sha(data));
  });

  simTest('a resume resends only what the receiver does not hold', { seeds: more(30) }, async (world) => {
    // A slow sink keeps acknowledged chunks buffered past the delivered offset when every lane is reset.
    const metrics = new MemoryMetrics();
    const sink = memorySink();
    const clock = () => world.node('b').clock;
    const pair = simPair(world, { latencyMs: 5, bytesPerSecond: 25e6, queueBytes: 1e6 }, undefined, {
      metrics,
      onTransfer: () => ({
        write: async (d) => {
          await clock().sleep(4);
          await sink.write(d);
        },
        close: () => sink.close(),
      }),
    });
    const data = world.rng.fork('data').bytes(3_000_000);
    let resets = 0;
    const r = await simTransfer(world, pair, {
      source: data,
      lanes: 3,
      chunkSize: 32 * 1024,
      windowBytes: 1024 * 1024,
      progressIntervalMs: 20,
      onProgress: (p: TransferProgress) => {
        if (resets === 0 && p.bytesAcked > 1_000_000) resets = pair.streams.resetStreams('a', 'b');
      },
    });
    expect(resets).toBeGreaterThan(0);
    expect(r.resumes).toBe(1);
    const duplicates = metrics.snapshot().find((m) => m.name === 'novacron_amst_duplicate_chunks_total');
    expect(duplicates?.series[0]?.value ?? 0).toBe(0);
    expect(sha(sink.bytes())).toBe(sha(data));
  });

  simTest('corrupt chunks are refused, counted and resent', { seeds: more(30) }, async (world) => {
    const pair = simPair(world, { latencyMs: 2, bytesPerSecond: 125e6 });
    const data = world.rng.fork('data').bytes(1_000_000);
    const flip = world.rng.fork('flip');
    let flipped = 0;
    // A codec whose output is damaged now and then, as a bad NIC or a buggy codec would.
    const codec: ChunkCodec = {
      id: 'flaky',
      encode: async (chunk) => {
        const out = chunk.slice();
        if (out.length > 0 && flip.chance(0.1)) {
          out[flip.int(0, out.length - 1)]! ^= 0x40;
          flipped++;
        }
        return { codec: 'raw', data: out, rawLength: out.length };
      },
      decode: async (e) => e.data,
    };
    const r = await simTransfer(world, pair, { source: data, lanes: 2, chunkSize: 16 * 1024, codec });
    expect(r.corruptChunks).toBe(flipped);
    expect(r.retransmittedChunks).toBe(flipped);
    expect(sha(pair.sinks[0]!.bytes())).toBe(sha(data));
  });

  it('fails with AMST_TOO_MANY_CORRUPT_CHUNKS, never with wrong bytes, when corruption persists', async () => {
    const world = new SimWorld({ seed: 7 });
    const pair = simPair(world, { latencyMs: 2 });
    const codec: ChunkCodec = {
      id: 'broken',
      encode: async (chunk) => {
        const out = chunk.slice();
        out[0]! ^= 1;
        return { codec: 'raw', data: out, rawLength: out.length };
      },
      decode: async (e) => e.data,
    };
    const err = await simTransfer(world, pair, {
      source: new Uint8Array(100_000).fill(1),
      lanes: 2,
      chunkSize: 8192,
      codec,
      maxCorruptChunks: 5,
    }).catch((e: unknown) => e);
    expect(isNovacronError(err, AmstErrorCode.TOO_MANY_CORRUPT_CHUNKS)).toBe(true);
    expect(pair.sinks[0]!.closed).toBe(false);
  });

  it('fails with AMST_RESUME_FAILED carrying the resume token when the receiver stays away', async () => {
    const world = new SimWorld({ seed: 8 });
    const pair = simPair(world, { latencyMs: 5, bytesPerSecond: 12.5e6 });
    const data = world.rng.fork('data').bytes(2_000_000);
    let stopped = false;
    const err = await simTransfer(world, pair, {
      source: data,
      lanes: 2,
      resumeWindowMs: 5_000,
      progressIntervalMs: 20,
      onProgress: (p: TransferProgress) => {
        if (!stopped && p.bytesAcked > 500_000) {
          stopped = true;
          void pair.receiver.stop();
        }
      },
    }).catch((e: unknown) => e);
    expect(isNovacronError(err, AmstErrorCode.RESUME_FAILED)).toBe(true);
    const details = (err as { details: { resumeToken: string; deliveredOffset: number } }).details;
    expect(details.resumeToken).toMatch(/^[0-9a-f]{32}$/);
    expect(details.deliveredOffset).toBeGreaterThan(0);
  });

  it('cancels through its AbortSignal with AMST_ABORTED', async () => {
    const world = new SimWorld({ seed: 9 });
    const pair = simPair(world, { latencyMs: 5, bytesPerSecond: 1e6 });
    const ac = new AbortController();
    world.clock.setTimeout(() => ac.abort(new Error('user')), 500);
    const err = await simTransfer(world, pair, { source: new Uint8Array(5_000_000), signal: ac.signal }).catch(
      (e: unknown) => e,
    );
    expect(isNovacronError(err, AmstErrorCode.ABORTED)).toBe(true);
  });

  it('reports progress at least 4 times a second with goodput, RTT, lanes and ETA', async () => {
    const world = new SimWorld({ seed: 10 });
    const pair = simPair(world, { latencyMs: 20, bytesPerSecond: 2.5e6, queueBytes: 1e6 });
    const reports: TransferProgress[] = [];
    const r = await simTransfer(world, pair, {
      source: new Uint8Array(2_500_000),
      lanes: 2,
      onProgress: (p) => reports.push(p),
    });
    expect(reports.length).toBeGreaterThanOrEqual(Math.floor((r.durationMs / 1000) * 4));
    const mid = reports[Math.floor(reports.length / 2)]!;
    expect(mid.goodputBps).toBeGreaterThan(0);
    expect(mid.rttMs).toBeGreaterThanOrEqual(40);
    expect(mid.lanes).toBe(2);
    expect(mid.etaMs).toBeGreaterThan(0);
  });
});
