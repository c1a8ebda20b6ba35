import { seededRng } from '@novacron/core';
import {
  Bottleneck,
  CubicWindow,
  DEFAULT_STREAM_PATH,
  SimStreams,
  type SimStreamsOptions,
  SimWorld,
  mergeStreamPathConfig,
  simRun,
} from '@novacron/testkit';
import { describe, expect, it } from 'vitest';

describe('Bottleneck', () => {
  const path = (o: Parameters<typeof mergeStreamPathConfig>[1]) =>
    new Bottleneck(mergeStreamPathConfig(DEFAULT_STREAM_PATH, o));
  const rng = seededRng('bottleneck');

  it('serialises segments back to back at the configured rate, then adds the propagation delay', () => {
    const p = path({ latencyMs: 10, bytesPerSecond: 1e6, queueBytes: 1e6 });
    // 1000 bytes at 1 MB/s take 1 ms each.
    expect(p.offer(0, 1000, 1, rng, false)).toEqual({ arriveAt: 11 });
    expect(p.offer(0, 1000, 1, rng, false)).toEqual({ arriveAt: 12 });
    expect(p.backlog(0)).toBeCloseTo(2000, 6);
    expect(p.backlog(1.5)).toBeCloseTo(500, 6);
    // An idle link starts at once.
    expect(p.offer(100, 1000, 1, rng, false)).toEqual({ arriveAt: 111 });
    expect(p.stats()).toMatchObject({ segmentsSent: 3, bytesSent: 3000, drops: 0, maxQueueBytes: 2000 });
  });

  it('drops a segment whole when the buffer cannot take it (drop-tail), but an empty buffer takes anything', () => {
    const p = path({ latencyMs: 0, bytesPerSecond: 1e6, queueBytes: 2500 });
    expect('arriveAt' in p.offer(0, 4000, 3, rng, false)).toBe(true);
    expect(p.offer(0, 1000, 1, rng, false)).toEqual({ drop: 'queue' });
    // 4 ms later the backlog is gone.
    expect('arriveAt' in p.offer(4, 1000, 1, rng, false)).toBe(true);
    expect('arriveAt' in p.offer(4, 1000, 1, rng, false)).toBe(true);
    expect(p.offer(4, 1000, 1, rng, true)).toEqual({ drop: 'queue' });
    expect(p.stats()).toMatchObject({ queueDrops: 2, drops: 2, retransmits: 1 });
  });

  it('loses a segment with the probability that any of its packets is lost', () => {
    const p = path({ latencyMs: 1, bytesPerSecond: Number.POSITIVE_INFINITY, loss: 0.01 });
    const r = seededRng('loss');
    let lost1 = 0;
    let lost20 = 0;
    for (let i = 0; i < 20_000; i++) {
      if ('drop' in p.offer(0, 1500, 1, r, false)) lost1++;
      if ('drop' in p.offer(0, 30_000, 20, r, false)) lost20++;
    }
    expect(lost1 / 20_000).toBeGreaterThan(0.007);
    expect(lost1 / 20_000).toBeLessThan(0.013);
    // 1 - 0.99^20 ≈ 0.182
    expect(lost20 / 20_000).toBeGreaterThan(0.16);
    expect(lost20 / 20_000).toBeLessThan(0.2);
    expect(p.stats().randomLosses).toBe(lost1 + lost20);
  });
});

describe('CubicWindow', () => {
  it('doubles per round trip in slow start and grows only when the window is in use', () => {
    const w = new CubicWindow({ packetBytes: 1000, initialWindowPackets: 10 });
    expect(w.cwnd).toBe(10_000);
    w.onAck(10_000, 10, 10, true);
    expect(w.cwnd).toBe(20_000);
    w.onAck(10_000, 20, 10, false);
    expect(w.cwnd).toBe(20_000);
    expect(w.inSlowStart).toBe(true);
  });

  it('cuts to beta on loss, then regrows along the cubic back to the old maximum in about K seconds', () => {
    const w = new CubicWindow({ packetBytes: 1000, initialWindowPackets: 100 });
    w.onCongestion();
    expect(w.cwnd).toBeCloseTo(70_000, 6);
    expect(w.ssthresh).toBeCloseTo(70_000, 6);
    expect(w.inSlowStart).toBe(false);
    // K = cbrt(100 × 0.3 / 0.4) ≈ 4.22 s. Feed a full window of acks every 100 ms RTT.
    const k = Math.cbrt((100 * 0.3) / 0.4);
    let t = 0;
    const at = (sec: number) => {
      while (t < sec * 1000) {
        t += 100;
        w.onAck(w.cwnd, t, 100, true);
      }
      return w.cwnd / 1000;
    };
    const early = at(1);
    const plateau = at(k);
    const later = at(k + 3);
    expect(early).toBeGreaterThan(70);
    expect(early).toBeLessThan(95);
    // Concave approach: close to Wmax around K, then convex probing beyond it.
    expect(plateau).toBeGreaterThan(95);
    expect(plateau).toBeLessThan(106);
    expect(later).toBeGreaterThan(plateau + 5);
  });

  it('falls back to one packet after a timeout and converges faster when losses repeat', () => {
    const w = new CubicWindow({ packetBytes: 1000, initialWindowPackets: 100 });
    w.onTimeout();
    expect(w.cwnd).toBe(1000);
    expect(w.ssthresh).toBeCloseTo(70_000, 6);
    const v = new CubicWindow({ packetBytes: 1000, initialWindowPackets: 100 });
    v.onCongestion();
    v.onCongestion();
    expect(v.cwnd).toBeCloseTo(49_000, 6);
  });
});

interface TransferResult {
  readonly ms: number;
  readonly drops: number;
  readonly retransmits: number;
}

/** Moves `total` bytes from a to b over `n` parallel streams; returns the virtual time to the last byte. */
async function transfer(seed: number, n: number, total: number, options: SimStreamsOptions): Promise<TransferResult> {
  const world = new SimWorld({ seed });
  world.addNode('a');
  world.addNode('b');
  const streams = new SimStreams(world, options);
  const t0 = world.now();
  const ms = await simRun(
    world,
    (async () => {
      let received = 0;
      let finished = 0;
      let allDone: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        allDone = resolve;
      });
      await streams.transport('b').listen('b:80', (s) => {
        void (async () => {
          for await (const c of s) received += c.length;
          if (++finished === n) allDone();
        })();
      });
      const per = total / n;
      const chunk = new Uint8Array(64 * 1024);
      await Promise.all(
        Array.from({ length: n }, async () => {
          const s = await streams.transport('a').dial('b:80');
          for (let sent = 0; sent < per; sent += chunk.length) await s.write(chunk);
          await s.closeWrite();
        }),
      );
      await done;
      expect(received).toBe(total);
      return world.now() - t0;
    })(),
    3_600_000,
  );
  const stats = streams.pathStats('a', 'b');
  return { ms, drops: stats.drops, retransmits: stats.retransmits };
}

describe('shared bottleneck: the parallel-streams trade-off', () => {
  // 50 ms RTT, 1 Gbit/s, 0.5% packet loss, a deep (16 MB) buffer: loss, not capacity, limits each stream.
  const longLossy: SimStreamsOptions = {
    path: { latencyMs: 25, bytesPerSecond: 125e6, queueBytes: 16e6, loss: 0.005 },
    tcp: { mss: 16 * 1024 },
  };
  // 0.5 ms RTT, 1 Gbit/s, no random loss, a 64 KiB buffer: one stream fills the pipe; more only overflow it.
  const shortShallow: SimStreamsOptions = {
    path: { latencyMs: 0.25, bytesPerSecond: 125e6, queueBytes: 64 * 1024 },
    tcp: { mss: 16 * 1024 },
  };

  it('on a long lossy path, 16 streams finish a transfer several times faster than one', async () => {
    for (const seed of [1, 2]) {
      const one = await transfer(seed, 1, 8 * 1024 * 1024, longLossy);
      const sixteen = await transfer(seed, 16, 8 * 1024 * 1024, longLossy);
      // One stream sits near the loss-limited rate (Mathis: ~MSS/RTT × 1.2/√p, a few Mbit/s).
      const oneMbit = (8 * 1024 * 1024 * 8) / (one.ms * 1000);
      expect(oneMbit).toBeLessThan(20);
      expect(one.retransmits).toBeGreaterThan(0);
      expect(sixteen.ms * 3).toBeLessThan(one.ms);
    }
  });

  it('on a short path with a shallow buffer, 16 streams do no better than one or two, and drop more', async () => {
    for (const seed of [1, 2]) {
      const one = await transfer(seed, 1, 32 * 1024 * 1024, shortShallow);
      const two = await transfer(seed, 2, 32 * 1024 * 1024, shortShallow);
      const sixteen = await transfer(seed, 16, 32 * 1024 * 1024, shortShallow);
      // One stream already runs near line rate: 32 MiB at 1 Gbit/s is ~268 ms.
      expect(one.ms).toBeLessThan(268 * 1.15);
      expect(sixteen.ms).toBeGreaterThanOrEqual(Math.min(one.ms, two.ms));
      expect(sixteen.drops).toBeGreaterThan(Math.max(one.drops, two.drops));
    }
  });

  it('streams sharing a bottleneck never exceed its rate', async () => {
    const r = await transfer(3, 8, 16 * 1024 * 1024, {
      path: { latencyMs: 5, bytesPerSecond: 12.5e6, queueBytes: 512 * 1024 },
      tcp: { mss: 16 * 1024 },
    });
    // 16 MiB at 100 Mbit/s needs at least 1342 ms of serialisation.
    expect(r.ms).toBeGreaterThanOrEqual((16 * 1024 * 1024 * 1000) / 12.5e6);
    expect(r.ms).toBeLessThan(((16 * 1024 * 1024 * 1000) / 12.5e6) * 1.5);
  });
});
