import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runHybridSimulation } from './hybrid-sim-harness.js';

// Seeds 101..200, with node crashes and restarts; 1..100 (partitions only) are in hybrid-sim-a.test.ts so the halves run in parallel.
simTest(
  'hybrid writes under leader partitions: acknowledged writes decided, replicas converge, strong history linearizable, with node crashes on crash-consistent disks (b)',
  { seeds: Array.from({ length: 100 }, (_, i) => i + 101), timeout: 170_000 },
  async (world) => {
    const r = await runHybridSimulation(world, { durationMs: 800, keys: 3, sizes: [3], crashes: true });
    expect(r.acked).toBeGreaterThan(0);
  },
);
