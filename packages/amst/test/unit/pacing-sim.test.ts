import { TokenBucket } from '@novacron/amst';
import { type LinkSample, ManualClock } from '@novacron/core';
import { SimWorld } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';
import { simPair, simTransfer } from './sim-harness.js';

describe('pacing', () => {
  it('a transfer follows an external rate callback (pba) and reports link samples', async () => {
    const world = new SimWorld({ seed: 11 });
    const pair = simPair(world, { latencyMs: 5, bytesPerSecond: 125e6, queueBytes: 1e6 });
    const samples: LinkSample[] = [];
    const r = await simTransfer(world, pair, {
      source: new Uint8Array(4_000_000),
      lanes: 2,
      chunkSize: 64 * 1024,
      rate: () => 1_000_000, // 1 MB/s on a 125 MB/s path
      onLinkSample: (s) => samples.push(s),
    });
    expect(r.durationMs).toBeGreaterThan(3_500);
    expect(r.goodputBps).toBeLessThan(9e6);
    expect(samples.length).toBeGreaterThan(5);
    const late = samples.slice(-5);
    for (const s of late) {
      expect(s.source).toBe('amst');
      expect(s.bandwidthBps!).toBeLessThan(12e6);
      expect(s.rttMs).toBeGreaterThan(0);
    }
  });

  it('TokenBucket releases bytes at its rate on the injected clock', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(clock, 1000, 100);
    let taken = 0;
    const run = (async () => {
      for (let i = 0; i < 10; i++) {
        await bucket.take(100);
        taken += 100;
      }
    })();
    for (let t = 0; t < 2000 && taken < 1000; t += 10) await clock.advanceAsync(10);
    await run;
    // 100 bytes of burst, then 900 at 1000 B/s.
    expect(clock.now()).toBeGreaterThanOrEqual(800);
    expect(clock.now()).toBeLessThanOrEqual(1000);
  });
});
