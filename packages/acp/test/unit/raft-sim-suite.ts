import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runRaftSimulation } from './raft-sim-harness.js';

/**
 * The CI fault simulation over `seeds`; split across two files (a and b) so
 * vitest runs the halves in parallel.
 */
export function raftSimSuite(label: string, seeds: readonly number[]): void {
  simTest(
    `raft stays safe and linearizable under partitions, crashes, torn writes and lossy links (${label})`,
    { seeds: [...seeds], timeout: 170_000 },
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
}
