import { describe, expect, it } from 'vitest';
import { crashDetectionSweep, spread, stallRun } from '../unit/gossip-sim-scenarios.js';

// NOVACRON_SLOW=1 only: the CI suite's scenarios over many more seeds.
describe('gossip simulation sweeps (slow)', () => {
  it('crash detection over 2,000 seeds, N = 3..10, LAN profile', async () => {
    const r = await crashDetectionSweep(2000, 1000);
    console.log(`LAN crash detection, 2000 seeds: ${JSON.stringify(r)}`);
    expect(r.falseDead).toBe(0);
    expect(r.fromSuspicion.p99).toBeLessThanOrEqual(6000);
    expect(r.fromCrash.p99).toBeLessThanOrEqual(10_000);
  }, 1_800_000);

  it('with a 500 ms probe interval, a crash is dead everywhere within 6 s p99 (N = 3..10)', async () => {
    const r = await crashDetectionSweep(500, 5000, { probeIntervalMs: 500, probeTimeoutMs: 250 });
    console.log(`500 ms probes, 500 seeds: ${JSON.stringify(r)}`);
    expect(r.falseDead).toBe(0);
    expect(r.fromCrash.p99).toBeLessThanOrEqual(6000);
  }, 1_800_000);

  it('update spread to 99% of 100 members at 1% loss over 20 seeds', async () => {
    for (let seed = 100; seed < 120; seed++) {
      const r = await spread(seed);
      expect(r.event).toBeLessThanOrEqual(3200);
      expect(r.update).toBeLessThanOrEqual(3200);
    }
  }, 1_800_000);

  it('stalls over 10 seeds: none from 500 ms stalls; >= 10x fewer with Lifeguard under slow processing', async () => {
    let on = 0;
    let off = 0;
    for (let seed = 100; seed < 110; seed++) {
      for (const lifeguard of [true, false]) {
        expect(await stallRun(seed, lifeguard, 500, false, 1_800_000)).toEqual({
          healthySuspected: 0,
          slowSuspected: 0,
          dead: 0,
        });
      }
      off += (await stallRun(seed, false, 3000, true, 600_000)).healthySuspected;
      on += (await stallRun(seed, true, 3000, true, 600_000)).healthySuspected;
    }
    console.log(`slow processing, 10 seeds: Lifeguard off ${off}, on ${on}`);
    expect(on * 10).toBeLessThanOrEqual(off);
  }, 1_800_000);
});
