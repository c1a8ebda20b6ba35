import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runHybridSimulation } from './hybrid-sim-harness.js';

// Seeds 1..100; 101..200 are in hybrid-sim-b.test.ts so the halves run in parallel.
simTest(
  'hybrid writes under leader partitions: acknowledged writes decided, replicas converge, strong history linearizable (a)',
  { seeds: Array.from({ length: 100 }, (_, i) => i + 1), timeout: 170_000 },
  async (world) => {
    const r = await runHybridSimulation(world, { durationMs: 800, keys: 3, sizes: [3] });
    expect(r.acked).toBeGreaterThan(0);
  },
);
