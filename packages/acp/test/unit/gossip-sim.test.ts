import { describe, expect, it } from 'vitest';
import { crashDetectionSweep, spread, stallRun } from './gossip-sim-scenarios.js';

// Seeded and replayable: GOSSIP_SIM_LOG=1 prints every run with its seed and result; NOVACRON_SEED=<n> replays
// one seed of a crash sweep; the other scenarios name their replay call in the failure message.
// Bigger sweeps: test/slow/gossip-sim-sweep.test.ts (NOVACRON_SLOW=1).

describe('gossip in simulation (LAN profile, virtual time)', () => {
  it('detects a crashed member on every member (N = 3..10, Lifeguard on)', async () => {
    const r = await crashDetectionSweep(120);
    console.log(`crash detection over 120 seeds: ${JSON.stringify(r)}`);
    expect(r.falseDead).toBe(0);
    // From the first suspicion: Lifeguard's timeout shrinks to its 4 s minimum as members confirm.
    expect(r.fromSuspicion.p99).toBeLessThanOrEqual(6000);
    // From the crash, memberlist's LAN timing has a floor: the first probe to reach the victim
    // (a round-robin order statistic: p99 ~3.6 s at N = 10), one 1 s probe period, then 4 s of suspicion.
    expect(r.fromCrash.min).toBeGreaterThanOrEqual(4000);
    expect(r.fromCrash.p50).toBeLessThanOrEqual(6500);
    expect(r.fromCrash.p99).toBeLessThanOrEqual(10_000);
  }, 120_000);

  it('with a 500 ms probe interval, a crash is dead everywhere within 6 s p99 (N = 3..10)', async () => {
    const r = await crashDetectionSweep(60, 5000, { probeIntervalMs: 500, probeTimeoutMs: 250 });
    console.log(`crash detection, 500 ms probes, 60 seeds: ${JSON.stringify(r)}`);
    expect(r.falseDead).toBe(0);
    expect(r.fromCrash.p99).toBeLessThanOrEqual(6000);
  }, 120_000);

  it('spreads an update to 99% of 100 members within 3.2 s at 1% loss', async () => {
    for (const seed of [1, 2]) {
      const r = await spread(seed);
      console.log(`spread seed=${seed}: ${JSON.stringify(r)}`);
      expect(r.event, `replay: spread(${seed})`).toBeLessThanOrEqual(3200);
      expect(r.update, `replay: spread(${seed})`).toBeLessThanOrEqual(3200);
    }
  }, 120_000);

  it('a 500 ms event-loop stall every 5 s raises no false suspicion of healthy members, Lifeguard on or off', async () => {
    // A Node.js stall shorter than the probe interval cannot fail a probe: late acks count until the
    // interval ends, and the stalled member's own acks arrive before it stalls. Both settings must stay clean.
    for (const lifeguard of [true, false]) {
      for (const seed of [1, 2]) {
        const r = await stallRun(seed, lifeguard, 500, false, 300_000);
        expect(r, `replay: stallRun(${seed}, ${lifeguard}, 500, false, 300_000)`).toEqual({
          healthySuspected: 0,
          slowSuspected: 0,
          dead: 0,
        });
      }
    }
  }, 120_000);

  it('with slow message processing, Lifeguard cuts false suspicions of healthy members at least 10x', async () => {
    let on = 0;
    let off = 0;
    for (const seed of [1, 2]) {
      off += (await stallRun(seed, false, 3000, true, 300_000)).healthySuspected;
      on += (await stallRun(seed, true, 3000, true, 300_000)).healthySuspected;
    }
    console.log(`false suspicions of healthy members: Lifeguard off ${off}, on ${on}`);
    expect(off).toBeGreaterThan(100);
    expect(on * 10).toBeLessThanOrEqual(off);
  }, 120_000);
});
