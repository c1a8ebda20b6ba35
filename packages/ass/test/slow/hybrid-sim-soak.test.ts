import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runHybridSimulation } from '../unit/hybrid-sim-harness.js';

// NOVACRON_SLOW=1: 1000 seeds (NOVACRON_SEEDS changes the count) of longer fault periods on 3- and 5-node clusters.
simTest(
  'hybrid soak: leader partitions over longer runs, 3 and 5 nodes',
  { seeds: 1000, timeout: 7_200_000 },
  async (world) => {
    const r = await runHybridSimulation(world, {
      durationMs: 2_500,
      keys: 4,
      sizes: [3, 5],
      crashes: world.rng.fork('crashes').chance(0.5),
    });
    expect(r.acked).toBeGreaterThan(0);
  },
);
