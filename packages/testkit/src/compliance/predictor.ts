import { CoreErrorCode, type Predictor, type PredictorState, isNovacronError, seededRng } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link predictorCompliance} tests. */
export interface PredictorFixture {
  /** A freshly built predictor (no observations). */
  readonly predictor: Predictor;
  /** Builds another fresh predictor with the same options (to restore states into). */
  readonly create: () => Predictor;
}

/** The code a predictor throws for a rejected call, or undefined when it does not throw. */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isNovacronError(err) ? err.code : `non-NovacronError: ${String(err)}`;
  }
  return undefined;
}

/** A throughput-like series: a level wandering multiplicatively, with noise and occasional zeros. */
function series(seed: number, n: number): number[] {
  const rng = seededRng(seed);
  const out: number[] = [];
  let level = 1 + 9 * rng.next();
  for (let i = 0; i < n; i++) {
    level *= Math.exp((rng.next() - 0.5) * 0.2);
    out.push(rng.chance(0.03) ? 0 : level * (0.7 + 0.6 * rng.next()));
  }
  return out;
}

const HORIZONS = [1, 2, 5, 30, 100];

/**
 * The `Predictor` contract as a vitest suite: sample and argument
 * validation with stable codes, forecasts that are finite with
 * `0 <= lower <= mean <= upper`, that do not change the predictor, that
 * nest by level, and that stay near a constant series; `reset` equal to
 * a fresh predictor; `state()` that survives JSON and reproduces every
 * later forecast after `restore`; and `restore` of malformed or foreign
 * states failing with `CORE_PREDICTOR_STATE_INVALID` without changing
 * the predictor.
 *
 * ```ts
 * import { predictorCompliance } from '@novacron/testkit/compliance/predictor';
 * predictorCompliance('ewma', { setup: () => ({ predictor: new EwmaPredictor(), create: () => new EwmaPredictor() }) });
 * ```
 */
export function predictorCompliance(name: string, fixtures: ComplianceFixtures<PredictorFixture>): void {
  describe(`Predictor compliance: ${name}`, () => {
    let f: PredictorFixture;
    let p: Predictor;
    beforeEach(async () => {
      f = await fixtures.setup();
      p = f.predictor;
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    const feed = (target: Predictor, values: readonly number[]) => {
      for (const value of values) target.observe({ value });
    };
    const forecasts = (target: Predictor, level = 0.8) => HORIZONS.map((h) => target.forecast(h, level));

    it('starts empty and refuses to forecast before any observation', () => {
      expect(p.observations).toBe(0);
      expect(typeof p.kind).toBe('string');
      expect(codeOf(() => p.forecast(1))).toBe(CoreErrorCode.INVALID_STATE);
    });

    it('rejects invalid samples with CORE_INVALID_ARGUMENT and does not count them', () => {
      const bad: unknown[] = [
        undefined,
        null,
        5,
        {},
        { value: -1 },
        { value: Number.NaN },
        { value: Number.POSITIVE_INFINITY },
        { value: '3' },
        { value: 1, at: Number.NaN },
      ];
      for (const sample of bad) expect(codeOf(() => p.observe(sample as never))).toBe(CoreErrorCode.INVALID_ARGUMENT);
      expect(p.observations).toBe(0);
      p.observe({ value: 0 });
      p.observe({ value: 2, at: 1000 });
      expect(p.observations).toBe(2);
    });

    it('rejects invalid horizons and levels with CORE_INVALID_ARGUMENT', () => {
      p.observe({ value: 1 });
      for (const h of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
        expect(codeOf(() => p.forecast(h))).toBe(CoreErrorCode.INVALID_ARGUMENT);
      for (const level of [0, 1, -0.5, 2, Number.NaN])
        expect(codeOf(() => p.forecast(1, level))).toBe(CoreErrorCode.INVALID_ARGUMENT);
    });

    it('forecasts a constant series near the constant, with an interval around its forecast', () => {
      // Not exactly: a learned model may carry a bias. Heuristic predictors should test exactness themselves.
      feed(p, new Array(200).fill(7.5));
      for (const fc of forecasts(p)) {
        expect(fc.mean).toBeGreaterThan(7.5 / 1.5);
        expect(fc.mean).toBeLessThan(7.5 * 1.5);
        expect(fc.lower).toBeLessThanOrEqual(fc.mean);
        expect(fc.upper).toBeGreaterThanOrEqual(fc.mean);
      }
    });

    it('gives well-formed forecasts on a noisy series, nested by level, without changing state', () => {
      const values = series(1, 300);
      for (let i = 0; i < values.length; i++) {
        p.observe({ value: values[i]! });
        if (i % 37 !== 0 && i !== values.length - 1) continue;
        for (const h of HORIZONS) {
          const narrow = p.forecast(h, 0.5);
          const wide = p.forecast(h, 0.95);
          const again = p.forecast(h, 0.95);
          expect(again).toEqual(wide);
          expect(wide.horizon).toBe(h);
          expect(wide.level).toBe(0.95);
          for (const fc of [narrow, wide]) {
            expect(Number.isFinite(fc.mean) && Number.isFinite(fc.lower) && Number.isFinite(fc.upper)).toBe(true);
            expect(fc.lower).toBeGreaterThanOrEqual(0);
            expect(fc.lower).toBeLessThanOrEqual(fc.mean);
            expect(fc.mean).toBeLessThanOrEqual(fc.upper);
          }
          expect(narrow.mean).toBe(wide.mean);
          expect(wide.lower).toBeLessThanOrEqual(narrow.lower);
          expect(wide.upper).toBeGreaterThanOrEqual(narrow.upper);
        }
      }
      expect(p.observations).toBe(values.length);
    });

    it('reset() makes it behave exactly like a fresh predictor', () => {
      feed(p, series(2, 150));
      p.reset();
      expect(p.observations).toBe(0);
      expect(codeOf(() => p.forecast(1))).toBe(CoreErrorCode.INVALID_STATE);
      const fresh = f.create();
      const values = series(3, 120);
      feed(p, values);
      feed(fresh, values);
      expect(forecasts(p)).toEqual(forecasts(fresh));
    });

    it('state() survives JSON and restore() reproduces every later forecast', () => {
      for (const n of [0, 1, 3, 57, 250]) {
        const a = f.create();
        const values = series(10 + n, n + 80);
        feed(a, values.slice(0, n));
        const json = JSON.stringify(a.state());
        const b = f.create();
        b.restore(JSON.parse(json) as PredictorState);
        expect(b.observations).toBe(a.observations);
        expect(JSON.stringify(b.state())).toBe(json);
        for (const value of values.slice(n)) {
          a.observe({ value });
          b.observe({ value });
          expect(forecasts(b)).toEqual(forecasts(a));
        }
      }
    });

    it('restore() rejects malformed or foreign states and leaves the predictor unchanged', () => {
      feed(p, series(4, 60));
      const good = p.state();
      const before = JSON.stringify(good);
      const expected = forecasts(p);
      const rng = seededRng('predictor-restore');
      const junk = (): unknown => {
        switch (rng.int(0, 7)) {
          case 0:
            return null;
          case 1:
            return -rng.next() * 1e6;
          case 2:
            return 'x';
          case 3:
            return [];
          case 4:
            return {};
          case 5:
            return [1, 2, 3];
          case 6:
            return 1e300;
          default:
            return true;
        }
      };
      const bad: unknown[] = [null, 42, 'state', [], { ...good, kind: `${good.kind}-other` }, { ...good, version: -1 }];
      const fields = Object.keys(good).filter((k) => k !== 'kind' && k !== 'version');
      for (let i = 0; i < 60; i++) {
        const mutated: Record<string, unknown> = JSON.parse(before);
        mutated[fields[rng.int(0, fields.length - 1)]!] = junk();
        bad.push(mutated);
      }
      for (const state of bad) {
        const code = codeOf(() => p.restore(state as PredictorState));
        // A mutation may happen to be valid (e.g. an empty optional field); it must then restore cleanly.
        if (code === undefined) {
          p.restore(JSON.parse(before) as PredictorState);
          continue;
        }
        expect(code).toBe(CoreErrorCode.PREDICTOR_STATE_INVALID);
        expect(JSON.stringify(p.state())).toBe(before);
        expect(forecasts(p)).toEqual(expected);
      }
    });
  });
}
