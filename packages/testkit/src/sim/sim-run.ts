import { CoreErrorCode, NovacronError, assertNumber } from '@novacron/core';
import type { SimWorld } from './world.js';

/**
 * Runs `world` until `scenario` settles, then returns its outcome (or throws
 * its error). Lets a test write a whole simulated scenario as one async
 * function and drive it in virtual time:
 *
 * ```ts
 * const bytes = await simRun(world, (async () => { const s = await t.dial('b:80'); ... })(), 60_000);
 * ```
 *
 * Throws `CORE_TIMEOUT` when the scenario is still pending after `limitMs` of
 * virtual time, or when the world has no more events while it waits (a
 * deadlock: nothing will ever wake it).
 */
export async function simRun<T>(world: SimWorld, scenario: Promise<T>, limitMs: number): Promise<T> {
  assertNumber('limitMs', limitMs, { min: 0 });
  let settled = false;
  scenario.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  const start = world.now();
  const end = start + limitMs;
  while (!settled) {
    let next = world.clock.nextTimerAt();
    if (next === undefined || next > end) {
      // Let pending reactions run: they may settle the scenario or schedule the next event.
      await world.runFor(0);
      if (settled) break;
      next = world.clock.nextTimerAt();
      if (next !== undefined && next <= end) continue;
      throw new NovacronError(
        CoreErrorCode.TIMEOUT,
        next === undefined
          ? `scenario stalled at ${world.now()} ms: no events left while it waits`
          : `scenario still pending after ${limitMs} ms of virtual time`,
        { details: { startedAt: start, now: world.now(), limitMs } },
      );
    }
    await world.step();
  }
  return scenario;
}
