import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { SEED_ENV, SimWorld, parseSeed, replayCommand } from '@novacron/testkit';
import { expect, it } from 'vitest';
import { runRaftSimulation, soakOptions } from '../unit/raft-sim-harness.js';

// NOVACRON_SLOW=1: 10,000 seeds, longer faulty periods, more clients.
// RAFT_SOAK_FROM / RAFT_SOAK_TO pick a range of them (to run the soak in
// chunks); RAFT_SOAK_LOG appends one line per seed to a file. Unlike
// `simTest`, the soak runs every seed and reports all failing ones at the end.
const NAME = 'raft soak: safety and linearizability over 10,000 seeds';
const from = Number(process.env.RAFT_SOAK_FROM ?? 1);
const to = Number(process.env.RAFT_SOAK_TO ?? 10_000);
if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || to < from)
  throw new Error(`RAFT_SOAK_FROM / RAFT_SOAK_TO must be integers with 1 <= from <= to, not ${from} / ${to}`);
const replay = process.env[SEED_ENV];
const seeds =
  replay !== undefined && replay !== ''
    ? [parseSeed(replay)]
    : Array.from({ length: to - from + 1 }, (_, i) => from + i);

it(
  NAME,
  async (ctx) => {
    const failures: string[] = [];
    const file = ctx.task.file;
    for (const seed of seeds) {
      const world = new SimWorld({ seed });
      const started = Date.now();
      let outcome = 'ok';
      try {
        const r = await runRaftSimulation(world, soakOptions(world));
        expect(r.ops).toBeGreaterThan(0);
      } catch (err) {
        const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
        outcome = `FAIL ${message}`;
        failures.push(
          `seed ${seed}: ${message}\n  replay: NOVACRON_SLOW=1 ${replayCommand(seed, { project: file.projectName, file: relative(process.cwd(), file.filepath), testName: NAME })}`,
        );
      }
      if (process.env.RAFT_SOAK_LOG)
        appendFileSync(process.env.RAFT_SOAK_LOG, `${seed} ${Date.now() - started}ms ${outcome}\n`);
    }
    expect(failures, `${failures.length} of ${seeds.length} seeds failed:\n${failures.join('\n')}`).toEqual([]);
  },
  12 * 3600_000,
);
