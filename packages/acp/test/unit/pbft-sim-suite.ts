import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { BYZANTINE_BEHAVIOURS } from './pbft-byzantine.js';
import { runPbftSimulation } from './pbft-sim-harness.js';

/**
 * The CI Byzantine simulation over `seeds`: 4 replicas (7 on a tenth of
 * the seeds) with up to f Byzantine ones, crashes, partitions and lossy
 * links among the honest ones; split across files so vitest runs the
 * halves in parallel.
 */
export function pbftSimSuite(label: string, seeds: readonly number[], durationMs = 800): void {
  simTest(
    `pbft stays safe, live and linearizable with f Byzantine replicas, crashes and partitions (${label})`,
    { seeds: [...seeds], timeout: seeds.length > 1_000 ? 12 * 3600_000 : 600_000 },
    async (world) => {
      const shape = world.rng.fork('shape');
      const replicas = shape.chance(0.1) ? 7 : 4;
      const f = (replicas - 1) / 3;
      const r = await runPbftSimulation(world, {
        replicas,
        byzantine: shape.int(0, 4) === 0 ? 0 : shape.int(1, f),
        behaviour: shape.pick(BYZANTINE_BEHAVIOURS),
        durationMs,
        clients: 2,
        keys: 3,
        files: shape.chance(0.5),
        faults: ['majority-minority', 'one-way', 'isolate', 'crash', 'link'],
      });
      expect(r.ops).toBeGreaterThan(0);
    },
  );
}
