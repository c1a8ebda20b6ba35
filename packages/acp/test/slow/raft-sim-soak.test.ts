import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runRaftSimulation } from '../unit/raft-sim-harness.js';

// NOVACRON_SLOW=1: 10,000 seeds, longer faulty periods, more clients.
simTest(
  'raft soak: safety and linearizability over 10,000 seeds',
  { seeds: 10_000, timeout: 6 * 3600_000 },
  async (world) => {
    const r = await runRaftSimulation(world, {
      nodes: world.rng.fork('size').pick([3, 5]),
      durationMs: 3_000,
      clients: 4,
      keys: 4,
      membership: world.rng.fork('membership').chance(0.5),
      faults: ['majority-minority', 'one-way', 'bridge', 'isolate', 'crash', 'link'],
    });
    expect(r.ops).toBeGreaterThan(0);
  },
);
