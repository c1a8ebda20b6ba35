import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { runRaftSimulation, soakOptions } from './raft-sim-harness.js';

/**
 * Seeds of the 10,000-seed soak (test/slow) that once failed, replayed with
 * the soak's knobs in every CI run:
 *
 * - 5018: a follower holding a deposed leader's suffix installed a snapshot
 *   (truncate at its index, then compact), crashed, and `FileDurableLog`
 *   replay skipped the truncation at the marker: entry 126 of term 1 came
 *   back after a snapshot marker at 125 of term 2 (Log Matching).
 */
simTest('raft soak seeds that once failed stay fixed', { seeds: [5018], timeout: 60_000 }, async (world) => {
  const r = await runRaftSimulation(world, soakOptions(world));
  expect(r.ops).toBeGreaterThan(0);
});
