import { relative } from 'node:path';
import { it } from 'vitest';
import { type RunSeedsOptions, type SimBody, runSeeds } from '../sim/replay.js';

/** Options for {@link simTest}. */
export interface SimTestOptions extends Omit<RunSeedsOptions, 'report' | 'env'> {
  /** Vitest timeout for the whole test (all seeds), in milliseconds. */
  readonly timeout?: number;
}

/**
 * A vitest test that runs `body` against a fresh `SimWorld` for each seed.
 * A failing seed prints itself and the one-line command that replays it:
 *
 * ```text
 * seed: 17
 * replay: NOVACRON_SEED=17 npx vitest run --project acp packages/acp/test/unit/raft.test.ts -t "elects one leader"
 * ```
 *
 * With `NOVACRON_SEED` set only that seed runs; `NOVACRON_SEEDS=<n>` widens
 * (or narrows) a test that asks for a seed count.
 */
export function simTest(name: string, options: SimTestOptions, body: SimBody): void {
  const { timeout, ...runOptions } = options;
  it(
    name,
    async (ctx) => {
      const file = ctx.task.file;
      await runSeeds(
        runOptions,
        { project: file.projectName, file: relative(process.cwd(), file.filepath), testName: name },
        body,
      );
    },
    timeout,
  );
}
