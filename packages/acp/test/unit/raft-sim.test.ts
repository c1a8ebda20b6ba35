import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runRaftSimulation } from './raft-sim-harness.js';

simTest(
  'raft stays safe and linearizable under partitions, crashes and lossy links',
  { seeds: 20, timeout: 170_000 },
  async (world) => {
    const r = await runRaftSimulation(world, {
      nodes: world.rng.fork('size').pick([3, 3, 5]),
      durationMs: 3_000,
      clients: 3,
      keys: 3,
      faults: ['majority-minority', 'one-way', 'bridge', 'isolate', 'crash', 'link'],
    });
    expect(r.ops).toBeGreaterThan(0);
  },
);
