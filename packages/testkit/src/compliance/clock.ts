import { type Clock, CoreErrorCode } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link clockCompliance} tests: a clock and a way to let its time pass. */
export interface ClockFixture {
  /** The implementation under test. */
  readonly clock: Clock;
  /**
   * Lets at least `ms` of the clock's time pass and lets the timers and
   * promise reactions due by then run: advance a manual clock (settling
   * promises), or really wait for a real one.
   */
  advance(ms: number): Promise<void>;
  /**
   * Slack allowed when comparing a real clock's readings with timer delays
   * (timers may fire up to this much "early" against `now()` because of
   * rounding between the two). Default 1 ms; a virtual clock can use 0.
   */
  readonly toleranceMs?: number;
}

/** Base delay of the suite; small so a real clock runs the whole suite in well under a second. */
const D = 10;

/**
 * The `Clock` contract as a vitest suite: monotonic `now()`, one-shot and
 * repeating timers that never fire early, fire in due order, stop when
 * cancelled (also from inside their own callback) and may schedule more
 * timers; `sleep` resolving after its delay and rejecting with
 * `CORE_ABORTED` on abort. It asserts lower bounds only, never "fired by
 * time T", so a loaded machine cannot make a real clock fail it.
 *
 * ```ts
 * import { clockCompliance } from '@novacron/testkit/compliance/clock';
 * clockCompliance('manual', { setup: () => { const c = new ManualClock(); return { clock: c, advance: (ms) => c.advanceAsync(ms) }; } });
 * ```
 */
export function clockCompliance(name: string, fixtures: ComplianceFixtures<ClockFixture>): void {
  describe(`Clock compliance: ${name}`, () => {
    let f: ClockFixture;
    let clock: Clock;
    let tol: number;

    /** Advances in small steps until `done()` holds; fails after `limitMs` of clock time. */
    const until = async (what: string, done: () => boolean, limitMs = 40 * D) => {
      const start = clock.now();
      while (!done()) {
        if (clock.now() - start > limitMs) expect.fail(`${what} did not happen within ${limitMs} ms`);
        await f.advance(D / 2);
      }
    };

    beforeEach(async () => {
      f = await fixtures.setup();
      clock = f.clock;
      tol = f.toleranceMs ?? 1;
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    it('now() is finite and never decreases', async () => {
      let last = clock.now();
      expect(Number.isFinite(last)).toBe(true);
      for (let i = 0; i < 5; i++) {
        await f.advance(1);
        const t = clock.now();
        expect(t).toBeGreaterThanOrEqual(last);
        last = t;
      }
    });

    it('advancing by ms moves now() forward by at least ms', async () => {
      const t0 = clock.now();
      await f.advance(D);
      expect(clock.now() - t0).toBeGreaterThanOrEqual(D - tol);
    });

    it('setTimeout fires once, not before its delay', async () => {
      const t0 = clock.now();
      const fired: number[] = [];
      clock.setTimeout(() => fired.push(clock.now()), D);
      await until('the timeout', () => fired.length > 0);
      expect(fired[0]! - t0).toBeGreaterThanOrEqual(D - tol);
      await f.advance(3 * D);
      expect(fired).toHaveLength(1);
    });

    it('a zero or negative delay fires soon, and never synchronously', async () => {
      const fired: string[] = [];
      clock.setTimeout(() => fired.push('zero'), 0);
      clock.setTimeout(() => fired.push('negative'), -5);
      expect(fired).toEqual([]);
      await until('both timeouts', () => fired.length === 2);
      expect(fired.sort()).toEqual(['negative', 'zero']);
    });

    it('timers fire in the order they are due', async () => {
      const order: string[] = [];
      clock.setTimeout(() => order.push('late'), 3 * D);
      clock.setTimeout(() => order.push('early'), D);
      clock.setTimeout(() => order.push('middle'), 2 * D);
      await until('all three timeouts', () => order.length === 3);
      expect(order).toEqual(['early', 'middle', 'late']);
    });

    it('a cancelled timeout never fires, and cancelling twice or after firing is harmless', async () => {
      let cancelled = 0;
      let kept = 0;
      const t = clock.setTimeout(() => cancelled++, D);
      const k = clock.setTimeout(() => kept++, 2 * D);
      t.cancel();
      t.cancel();
      await until('the kept timeout', () => kept > 0);
      await f.advance(2 * D);
      expect(cancelled).toBe(0);
      expect(() => k.cancel()).not.toThrow();
      expect(kept).toBe(1);
    });

    it('setInterval repeats with at least its period between firings, until cancelled', async () => {
      const times: number[] = [];
      const t0 = clock.now();
      const timer = clock.setInterval(() => times.push(clock.now()), D);
      await until('three interval firings', () => times.length >= 3, 100 * D);
      timer.cancel();
      const count = times.length;
      await f.advance(3 * D);
      expect(times).toHaveLength(count);
      expect(times[0]! - t0).toBeGreaterThanOrEqual(D - tol);
      // The n-th firing is due no earlier than n periods after scheduling.
      for (const [i, t] of times.entries()) expect(t - t0).toBeGreaterThanOrEqual((i + 1) * D - tol);
    });

    it('an interval cancelled from its own callback stops', async () => {
      let n = 0;
      const timer = clock.setInterval(() => {
        n++;
        if (n === 2) timer.cancel();
      }, D);
      await until('two firings', () => n >= 2, 100 * D);
      await f.advance(4 * D);
      expect(n).toBe(2);
    });

    it('a timer callback may schedule another timer', async () => {
      const t0 = clock.now();
      let innerAt: number | undefined;
      clock.setTimeout(() => {
        clock.setTimeout(() => {
          innerAt = clock.now();
        }, D);
      }, D);
      await until('the nested timeout', () => innerAt !== undefined);
      expect(innerAt! - t0).toBeGreaterThanOrEqual(2 * D - 2 * tol);
    });

    it('sleep resolves, not before its delay', async () => {
      const t0 = clock.now();
      let at: number | undefined;
      void clock.sleep(D).then(() => {
        at = clock.now();
      });
      await until('the sleep', () => at !== undefined);
      expect(at! - t0).toBeGreaterThanOrEqual(D - tol);
    });

    it('sleep with an already aborted signal rejects with CORE_ABORTED', async () => {
      const ac = new AbortController();
      ac.abort();
      await expect(clock.sleep(D, ac.signal)).rejects.toMatchObject({ code: CoreErrorCode.ABORTED });
    });

    it('aborting a sleep rejects it with CORE_ABORTED and it never resolves', async () => {
      const ac = new AbortController();
      let outcome: string | undefined;
      clock.sleep(2 * D, ac.signal).then(
        () => {
          outcome = 'resolved';
        },
        (err: { code?: string }) => {
          outcome = err.code;
        },
      );
      ac.abort();
      await f.advance(4 * D);
      expect(outcome).toBe(CoreErrorCode.ABORTED);
    });
  });
}
