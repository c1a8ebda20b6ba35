import { LaneController, type TransferResult } from '@novacron/amst';
import { SimWorld } from '@novacron/testkit';
import { simTest } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { simPair, simTransfer } from './sim-harness.js';

type Path = { latencyMs: number; bytesPerSecond: number; queueBytes: number; loss?: number };

async function run(
  seed: number | string,
  path: Path,
  size: number,
  lanes: number | 'adaptive',
  mode: 'internet' | 'datacenter',
) {
  const world = new SimWorld({ seed });
  const pair = simPair(world, path);
  const trace: number[] = [];
  const r: TransferResult = await simTransfer(world, pair, {
    source: new Uint8Array(size),
    lanes,
    mode,
    modelPacing: false,
    onProgress: (p) => trace.push(p.lanes),
  });
  return { r, trace };
}

function mostOf(trace: number[]): number {
  const counts = new Map<number, number>();
  for (const n of trace) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

describe('lane control loop (CUBIC senders on a shared simulated bottleneck)', () => {
  // 50 ms RTT, 1 Gbit/s, deep buffer, 0.5% loss: one CUBIC stream is loss-limited to a few Mbit/s.
  const lossyLong: Path = { latencyMs: 25, bytesPerSecond: 125e6, queueBytes: 16e6, loss: 0.005 };
  // 0.5 ms RTT, 1 Gbit/s, 64 KiB buffer: one stream fills it, more only add drops and timeouts.
  const shallow: Path = { latencyMs: 0.25, bytesPerSecond: 125e6, queueBytes: 64 * 1024 };

  simTest('adds lanes where they pay: lossy long path', { seeds: 5, timeout: 120_000 }, async (_world, seed) => {
    const one = await run(seed, lossyLong, 60e6, 1, 'internet');
    const sixteen = await run(seed, lossyLong, 60e6, 16, 'internet');
    const adaptive = await run(seed, lossyLong, 60e6, 'adaptive', 'internet');
    expect(adaptive.r.maxLanes).toBeGreaterThan(4);
    expect(adaptive.r.goodputBps).toBeGreaterThan(3 * one.r.goodputBps);
    // Whole-transfer average, ramp-up included (the 0.8x is for steady state after 10 s; see README).
    expect(adaptive.r.goodputBps).toBeGreaterThan(0.5 * sixteen.r.goodputBps);
  });

  simTest(
    'does not add lanes where they do not help: shallow queue',
    { seeds: 3, timeout: 120_000 },
    async (_world, seed) => {
      const one = await run(seed, shallow, 40e6, 1, 'datacenter');
      const adaptive = await run(seed, shallow, 40e6, 'adaptive', 'datacenter');
      // Where it settles: the lane count it held most of the time (a probe may be in progress at the end).
      expect(mostOf(adaptive.trace)).toBeLessThanOrEqual(2);
      expect(adaptive.r.goodputBps).toBeGreaterThan(0.8 * one.r.goodputBps);
    },
  );
});

describe('LaneController', () => {
  const preset = { initial: 2, min: 1, max: 16 };
  const sample = (goodputBps: number, rttMs = 50) => ({ goodputBps, rttMs, minRttMs: 50, lossRate: 0 });

  it('climbs while goodput grows and undoes a step that gained nothing', () => {
    const c = new LaneController({ preset });
    expect(c.update(sample(10))).toBe(4); // probe: twice the lanes
    expect(c.update(sample(15))).toBe(4); // settling
    expect(c.update(sample(15))).toBe(8); // gained (less than in proportion): double again
    c.update(sample(15)); // settling
    expect(c.update(sample(15))).toBe(4); // no gain: back
    for (let i = 0; i < 4; i++) expect(c.update(sample(15))).toBe(4); // holds before probing again
  });

  it('steps fourfold when goodput grows in proportion to the lanes (a loss-limited path)', () => {
    const c = new LaneController({ preset: { initial: 2, min: 1, max: 64 } });
    expect(c.update(sample(10))).toBe(4);
    c.update(sample(20)); // settling
    expect(c.update(sample(19))).toBe(16); // 1.9x goodput for 2x lanes
    c.update(sample(70)); // settling: two intervals after a fourfold step
    c.update(sample(70));
    expect(c.update(sample(70))).toBe(64); // capped at the preset's maximum
  });

  it('falls back to the doubling when a fourfold step gains nothing', () => {
    const c = new LaneController({ preset: { initial: 2, min: 1, max: 64 } });
    c.update(sample(10));
    c.update(sample(20));
    expect(c.update(sample(20))).toBe(16);
    c.update(sample(20));
    c.update(sample(20));
    expect(c.update(sample(20))).toBe(8);
  });

  it('backs off when the path RTT inflates', () => {
    const c = new LaneController({ preset: { initial: 8, min: 1, max: 16 } });
    expect(c.update(sample(10, 120))).toBe(8); // inflated: no probing
    expect(c.update(sample(10, 250))).toBe(6); // a standing queue: fewer lanes
  });

  it('polite mode holds the preset minimum', () => {
    const c = new LaneController({ preset: { initial: 4, min: 1, max: 16 }, polite: true });
    expect(c.target).toBe(1);
    expect(c.update(sample(10))).toBe(1);
    expect(c.update(sample(100))).toBe(1);
  });
});
