import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runRaftSimulation } from './raft-sim-harness.js';

// Seeds 1..100; the other half is in raft-sim-b.test.ts so the two run in parallel.
const seeds = Array.from({ length: 100 }, (_, i) => i + 1);

simTest(
  'raft stays safe and linearizable under partitions, crashes, torn writes and lossy links (a)',
  { seeds, timeout: 170_000 },
  async (world) => {
    const r = await runRaftSimulation(world, {
      nodes: world.rng.fork('size').pick([3, 3, 5]),
      durationMs: 1_500,
      clients: 3,
      keys: 3,
      // Half the seeds also change membership throughout the faults.
      membership: world.rng.fork('membership').chance(0.5),
      faults: ['majority-minority', 'one-way', 'bridge', 'isolate', 'crash', 'link'],
    });
    expect(r.ops).toBeGreaterThan(0);
  },
);
