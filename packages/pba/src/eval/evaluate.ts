import type { Predictor } from '@novacron/core';
import type { TraceSeries } from './trace.js';

/** Accuracy of one predictor at one horizon over a set of traces. */
export interface HorizonMetrics {
  /** Steps ahead. */
  readonly horizon: number;
  /** Number of forecasts scored. */
  readonly n: number;
  /** Mean absolute error. */
  readonly mae: number;
  /** Root mean squared error. */
  readonly rmse: number;
  /** Mean absolute percentage error over outcomes > 0, in percent. */
  readonly mape: number;
  /** MAE divided by the MAE of last value on the same forecasts (< 1 beats it). */
  readonly rmae: number;
  /** Share of forecasts within ±20% of the outcome. */
  readonly within20: number;
  /** Share of outcomes inside the forecast interval. */
  readonly coverage: number;
  /** Mean of the outcomes scored. */
  readonly meanOutcome: number;
  /** Mean width of the interval relative to the outcome's mean (interval sharpness). */
  readonly relWidth: number;
}

/** Options of {@link evaluatePredictor}. */
export interface EvaluateOptions {
  /** Horizons in steps (default 1, 5, 30). */
  readonly horizons?: readonly number[];
  /** Interval level (default 0.8). */
  readonly level?: number;
}

/**
 * Replays every trace through a fresh predictor (`reset` between files):
 * after observing sample t it forecasts t + h for each horizon, and scores
 * the forecast against sample t + h when the trace has one. Errors are
 * pooled over all forecasts of all files.
 */
export function evaluatePredictor(
  predictor: Predictor,
  traces: readonly TraceSeries[],
  options: EvaluateOptions = {},
): HorizonMetrics[] {
  const horizons = options.horizons ?? [1, 5, 30];
  const level = options.level ?? 0.8;
  const acc = horizons.map(() => ({ n: 0, ae: 0, se: 0, ape: 0, apeN: 0, lvAe: 0, within: 0, cov: 0, width: 0, y: 0 }));
  for (const trace of traces) {
    predictor.reset();
    const v = trace.values;
    for (let t = 0; t < v.length; t++) {
      predictor.observe({ value: v[t]! });
      for (let k = 0; k < horizons.length; k++) {
        const h = horizons[k]!;
        if (t + h >= v.length) continue;
        const f = predictor.forecast(h, level);
        const y = v[t + h]!;
        const a = acc[k]!;
        const e = Math.abs(f.mean - y);
        a.n++;
        a.ae += e;
        a.se += e * e;
        a.lvAe += Math.abs(v[t]! - y);
        if (y > 0) {
          a.ape += e / y;
          a.apeN++;
        }
        if (e <= 0.2 * y) a.within++;
        if (f.lower <= y && y <= f.upper) a.cov++;
        a.width += f.upper - f.lower;
        a.y += y;
      }
    }
  }
  return horizons.map((horizon, k) => {
    const a = acc[k]!;
    return {
      horizon,
      n: a.n,
      mae: a.ae / a.n,
      rmse: Math.sqrt(a.se / a.n),
      mape: (100 * a.ape) / a.apeN,
      rmae: a.ae / a.lvAe,
      within20: a.within / a.n,
      coverage: a.cov / a.n,
      meanOutcome: a.y / a.n,
      relWidth: a.width / a.y,
    };
  });
}
