import { invalidArgument } from '@novacron/core';
import { SimWorld, type SimWorldOptions } from './world.js';

/** The environment variable that replays exactly one seed. */
export const SEED_ENV = 'NOVACRON_SEED';

/** The environment variable that overrides how many seeds a seeded test runs (when it asks for a count). */
export const SEEDS_ENV = 'NOVACRON_SEEDS';

/** Which seeds a seeded test runs: a count `n` (seeds `1..n`) or an explicit list. */
export type SeedSpec = number | readonly (number | string)[];

/**
 * The seeds to run: only `NOVACRON_SEED` when it is set (a replay), else the
 * spec, where a count may be raised or lowered with `NOVACRON_SEEDS`.
 */
export function seedsToRun(
  spec: SeedSpec,
  env: Readonly<Record<string, string | undefined>> = process.env,
): (number | string)[] {
  const replay = env[SEED_ENV];
  if (replay !== undefined && replay !== '') return [parseSeed(replay)];
  if (Array.isArray(spec)) {
    if (spec.length === 0) throw invalidArgument('seeds', 'a non-empty seed list', spec);
    for (const s of spec) {
      if (typeof s !== 'string' && !Number.isSafeInteger(s))
        throw invalidArgument('seeds', 'integer or string seeds', s);
    }
    return [...spec];
  }
  const override = env[SEEDS_ENV];
  const count = override !== undefined && override !== '' ? Number(override) : spec;
  if (!Number.isSafeInteger(count) || (count as number) < 1) {
    throw invalidArgument(override !== undefined && override !== '' ? SEEDS_ENV : 'seeds', 'a positive integer', count);
  }
  return Array.from({ length: count as number }, (_, i) => i + 1);
}

/** Reads a seed the way it was printed: an integer when it looks like one, text otherwise. */
export function parseSeed(text: string): number | string {
  if (/^-?\d+$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return n;
  }
  return text;
}

/** Where a seeded test lives, for its replay command. */
export interface ReplayTarget {
  /** The vitest project (package folder name), if known. */
  readonly project?: string | undefined;
  /** The test file, relative to the directory vitest runs in. */
  readonly file: string;
  /** The test's own name (matched as a pattern by `-t`). */
  readonly testName: string;
}

/**
 * The one-line shell command that replays `seed` of a test:
 * `NOVACRON_SEED=7 npx vitest run --project sim test/x.test.ts -t "name"`.
 * The name is escaped for vitest's pattern and for a POSIX shell.
 */
export function replayCommand(seed: number | string, target: ReplayTarget): string {
  const pattern = target.testName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const project = target.project ? ` --project ${shellWord(target.project)}` : '';
  return `${SEED_ENV}=${shellWord(String(seed))} npx vitest run${project} ${shellWord(target.file)} -t ${shellQuote(pattern)}`;
}

/** Options for {@link runSeeds}. */
export interface RunSeedsOptions extends Omit<SimWorldOptions, 'seed'> {
  /** Which seeds to run (see {@link seedsToRun}). */
  readonly seeds: SeedSpec;
  /** How to print the replay line of a failing seed (default: `console.error`). */
  readonly report?: (line: string) => void;
  /** The environment consulted for `NOVACRON_SEED` / `NOVACRON_SEEDS` (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A seeded simulation body: gets a fresh world per seed. */
export type SimBody = (world: SimWorld, seed: number | string) => void | Promise<void>;

/**
 * Runs `body` once per seed, each in a fresh {@link SimWorld}. On the first
 * failure it prints `seed: N` and the replay command, appends both to the
 * error's message, and rethrows, so the failure report carries them too.
 */
export async function runSeeds(options: RunSeedsOptions, target: ReplayTarget, body: SimBody): Promise<void> {
  const { seeds, report, env, ...worldOptions } = options;
  for (const seed of seedsToRun(seeds, env)) {
    const world = new SimWorld({ ...worldOptions, seed });
    try {
      await body(world, seed);
    } catch (err) {
      const line = `replay: ${replayCommand(seed, target)}`;
      (report ?? console.error)(`seed: ${seed}\n${line}`);
      if (err instanceof Error) {
        err.message = `${err.message}\n\nseed: ${seed} (virtual time ${world.now()} ms, trace ${world.trace.hash().slice(0, 16)})\n${line}`;
        throw err;
      }
      throw new Error(`seed ${seed} failed: ${String(err)}\n${line}`, { cause: err });
    }
  }
}

function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(text) ? text : shellQuote(text);
}

function shellQuote(text: string): string {
  return `"${text.replace(/["\\$`]/g, '\\$&')}"`;
}
