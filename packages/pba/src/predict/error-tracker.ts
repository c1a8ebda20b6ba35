import { invalidArgument, normalQuantile } from '@novacron/core';
import { StateReader } from './state-fields.js';

/** Options of an {@link ErrorTracker}. */
export interface ErrorTrackerOptions {
  /** Horizons (steps) whose forecasts are scored, ascending integers >= 1 (default 1, 2, 5, 10, 30). */
  readonly horizons?: readonly number[];
  /** How many recent outcome/forecast ratios per horizon set the interval (default 100). */
  readonly window?: number;
  /** Ratios needed at a horizon before its own quantiles are used (default 10). */
  readonly minRatios?: number;
  /** Per-step discount of the running absolute error (default 0.97, about a 23-step half-life). */
  readonly decay?: number;
  /**
   * Discount horizon h's errors by `decay^(1/h)` instead of `decay`
   * (default false): consecutive h-step errors overlap in h − 1 steps, so
   * a memory of n errors holds only about n / h independent ones; scaling
   * the memory with h keeps about as many independent errors at every
   * horizon, and long-horizon ensemble weights stop chasing one noisy
   * stretch.
   */
  readonly horizonMemory?: boolean;
  /**
   * Half-width, in log space, of the 80% interval at horizon 1 used before a
   * horizon has enough ratios of its own (default 0.3, roughly ×/÷ 1.35);
   * it grows with the square root of the horizon.
   */
  readonly priorLogHalfWidth?: number;
  /**
   * Fitted prior instead: log-space half-width of the 80% band per tracked
   * horizon (one number per horizon, in order), e.g. measured offline on
   * the first samples of training streams. A horizon between tracked ones
   * uses the nearest, stretched by `growth`. Overrides `priorLogHalfWidth`.
   */
  readonly priorLogHalfWidths?: readonly number[];
  /**
   * Fitted asymmetric prior instead: per tracked horizon, the 10th and 90th
   * percentiles of log(outcome / forecast) (`[lower, upper]`, lower <
   * upper), the band of an 80% interval. Throughput errors are skewed
   * (dips are deeper than bursts are high), so two quantiles fit better
   * than one half-width, the same way the interval from the stream's own
   * ratios is asymmetric. Other levels keep the band's centre and scale
   * its half-width like a normal quantile would. Overrides `priorLogHalfWidths` and `priorLogHalfWidth`.
   */
  readonly priorLogBands?: readonly (readonly [number, number])[];
  /**
   * How log-space interval widths grow with the horizon, as `h^growth`:
   * used for the prior and to stretch a shorter horizon's ratios to a longer
   * one (default 0.3; 0.5 would be a random walk, but throughput reverts
   * towards its mean).
   */
  readonly growth?: number;
  /**
   * Widening for few independent ratios: recent ratios at horizon h overlap
   * (consecutive h-step outcomes share h − 1 steps), so a window of n holds
   * only about n / h independent ones and its quantiles are too narrow. The
   * log-space band is multiplied by `1 + inflation · sqrt(h / n)`
   * (default 1).
   */
  readonly inflation?: number;
}

/** Defaults of {@link ErrorTrackerOptions}. */
export const DEFAULT_TRACKED_HORIZONS: readonly number[] = [1, 2, 5, 10, 30];

const Z80 = normalQuantile(0.9);
const RATIO_FLOOR = 1e-6;
/** Ratios are clamped to [RATIO_MIN, RATIO_MAX]: a forecast of ~0 must not make the interval unbounded. */
const RATIO_MIN = 1e-3;
const RATIO_MAX = 1e3;
/** Offset added to outcome and forecast, as a share of the series' running mean, so zeros do not make ratios explode. */
const OFFSET_SHARE = 0.05;
/** Smoothing of the running mean that sets the offset. */
const SCALE_ALPHA = 0.05;

/**
 * Scores a point forecaster on its own stream. After each observation it
 * remembers the forecasts made for the tracked horizons; when the targeted
 * observation arrives it records the ratio outcome/forecast (for the
 * prediction interval) and the absolute error (for ensemble weights).
 * Ratios rather than differences because throughput varies
 * multiplicatively: an interval of ×/÷ 1.5 fits a 1 Mbit/s and a 1 Gbit/s
 * link alike.
 *
 * Cost per observation: O(number of horizons); an interval costs a sort of
 * `window` numbers.
 */
export class ErrorTracker {
  readonly horizons: readonly number[];
  private readonly k: number;
  private readonly maxH: number;
  private readonly window: number;
  private readonly minRatios: number;
  /** Discount per tracked horizon. */
  private readonly decays: Float64Array;
  private readonly priorLogHalfWidth: number;
  /** Fitted prior band per tracked horizon (log space, 80%): lower and upper ends, or undefined. */
  private readonly priorLo: Float64Array | undefined;
  private readonly priorHi: Float64Array | undefined;
  private readonly growth: number;
  private readonly inflation: number;
  private scale = 0;
  private pending: Float64Array;
  private ratios: Float64Array;
  private ratioCount: Float64Array;
  private absErr: Float64Array;
  private errWeight: Float64Array;
  private n = 0;
  private scratch: Float64Array;

  constructor(options: ErrorTrackerOptions = {}) {
    const hs = options.horizons ?? DEFAULT_TRACKED_HORIZONS;
    this.horizons = [...hs];
    this.k = hs.length;
    this.maxH = Math.max(...hs);
    this.window = options.window ?? 100;
    this.minRatios = options.minRatios ?? 10;
    const decay = options.decay ?? 0.97;
    if (!(decay > 0 && decay <= 1)) throw invalidArgument('options.decay', 'a number in (0, 1]', decay);
    this.decays = Float64Array.from(hs, (h) => (options.horizonMemory === true ? decay ** (1 / h) : decay));
    this.priorLogHalfWidth = options.priorLogHalfWidth ?? 0.3;
    const pw = options.priorLogHalfWidths;
    const pb = options.priorLogBands;
    if (pb !== undefined) {
      const ok = (b: unknown): boolean =>
        Array.isArray(b) && b.length === 2 && Number.isFinite(b[0]) && Number.isFinite(b[1]) && b[0] < b[1];
      if (!Array.isArray(pb) || pb.length !== this.k || !pb.every(ok))
        throw invalidArgument('options.priorLogBands', `${this.k} pairs [lower, upper], lower < upper`, pb);
      this.priorLo = Float64Array.from(pb, (b) => b[0]);
      this.priorHi = Float64Array.from(pb, (b) => b[1]);
    } else if (pw !== undefined) {
      if (!Array.isArray(pw) || pw.length !== this.k || !pw.every((x) => Number.isFinite(x) && x > 0))
        throw invalidArgument('options.priorLogHalfWidths', `${this.k} numbers > 0 (one per tracked horizon)`, pw);
      this.priorLo = Float64Array.from(pw, (w) => -w);
      this.priorHi = Float64Array.from(pw);
    }
    this.growth = options.growth ?? 0.3;
    this.inflation = options.inflation ?? 1;
    this.pending = new Float64Array(this.maxH * this.k);
    this.ratios = new Float64Array(this.window * this.k);
    this.ratioCount = new Float64Array(this.k);
    this.absErr = new Float64Array(this.k);
    this.errWeight = new Float64Array(this.k);
    this.scratch = new Float64Array(this.window);
  }

  /** Scores the forecasts that targeted this observation. Call before the model learns `y`. */
  settle(y: number): void {
    const { k, maxH, n } = this;
    const eps = OFFSET_SHARE * this.scale;
    for (let j = 0; j < k; j++) {
      const h = this.horizons[j]!;
      if (n < h) continue;
      const f = this.pending[((n - h) % maxH) * k + j]!;
      const d = this.decays[j]!;
      this.absErr[j] = d * this.absErr[j]! + Math.abs(y - f);
      this.errWeight[j] = d * this.errWeight[j]! + 1;
      if (f + eps > 0) {
        const c = this.ratioCount[j]!;
        const ratio = (y + eps) / (f + eps);
        this.ratios[j * this.window + (c % this.window)] = Math.min(Math.max(ratio, RATIO_MIN), RATIO_MAX);
        this.ratioCount[j] = c + 1;
      }
    }
    this.scale = n === 0 ? y : SCALE_ALPHA * y + (1 - SCALE_ALPHA) * this.scale;
  }

  /** Remembers the forecasts made now (after the model learnt the latest observation). */
  record(point: (h: number) => number): void {
    const base = (this.n % this.maxH) * this.k;
    for (let j = 0; j < this.k; j++) this.pending[base + j] = point(this.horizons[j]!);
    this.n++;
  }

  /**
   * Discounted mean absolute error at tracked horizon index `j`; before
   * that horizon has outcomes, the error at the nearest shorter horizon
   * that has some; NaN before any outcome at all.
   */
  score(j: number): number {
    for (let i = j; i >= 0; i--) {
      const w = this.errWeight[i]!;
      if (w > 0) return this.absErr[i]! / w;
    }
    return Number.NaN;
  }

  /** The running mean of the observed series (sets the scale of errors). */
  level(): number {
    return this.scale;
  }

  /** Discounted sum of absolute errors at tracked horizon index `j`. */
  errorSum(j: number): number {
    return this.absErr[j]!;
  }

  /** Discounted count of outcomes at tracked horizon index `j` (0 before any). */
  errorCount(j: number): number {
    return this.errWeight[j]!;
  }

  /** Index of the tracked horizon closest to `h` on a log scale. */
  nearest(h: number): number {
    for (let j = 0; j < this.k; j++) if (this.horizons[j] === h) return j;
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    const lh = Math.log(h);
    for (let j = 0; j < this.k; j++) {
      const d = Math.abs(Math.log(this.horizons[j]!) - lh);
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    }
    return best;
  }

  /**
   * A central interval of coverage `level` around the point forecast
   * `mean` at horizon `h`: empirical quantiles of recent outcome/forecast
   * ratios at the nearest tracked horizon with enough of them, stretched
   * by `(h / that horizon)^growth` in log space; a prior band before there
   * are enough. Always contains `mean`; never below 0.
   */
  interval(h: number, level: number, mean: number): [number, number] {
    const eps = OFFSET_SHARE * this.scale;
    const [lo, hi] = this.band(h, level);
    const lower = Math.max(0, (mean + eps) * lo - eps);
    const upper = (mean + eps) * hi - eps;
    return [Math.min(lower, mean), Math.max(upper, mean)];
  }

  private band(h: number, level: number): [number, number] {
    let j = this.nearest(h);
    while (j >= 0 && Math.min(this.ratioCount[j]!, this.window) < this.minRatios) j--;
    const tail = (1 - level) / 2;
    if (j < 0) {
      const z = normalQuantile(1 - tail) / Z80;
      if (this.priorLo !== undefined && this.priorHi !== undefined) {
        const i = this.nearest(h);
        const hi = this.horizons[i]!;
        // As if log(outcome / forecast) were normal: centre ± spread, scaled by the level's z.
        const stretch = h > hi ? (h / hi) ** this.growth : 1;
        const mid = ((this.priorLo[i]! + this.priorHi[i]!) / 2) * stretch;
        const half = ((this.priorHi[i]! - this.priorLo[i]!) / 2) * stretch * z;
        return [Math.exp(mid - half), Math.exp(mid + half)];
      }
      const w = this.priorLogHalfWidth * h ** this.growth * z;
      return [Math.exp(-w), Math.exp(w)];
    }
    const count = Math.min(this.ratioCount[j]!, this.window);
    const s = this.scratch.subarray(0, count);
    s.set(this.ratios.subarray(j * this.window, j * this.window + count));
    s.sort();
    let lo = quantile(s, tail);
    let hi = quantile(s, 1 - tail);
    const hj = this.horizons[j]!;
    const scale = (h > hj ? (h / hj) ** this.growth : 1) * (1 + this.inflation * Math.sqrt(hj / count));
    if (scale !== 1) {
      lo = Math.exp(Math.log(Math.max(lo, RATIO_FLOOR)) * scale);
      hi = Math.exp(Math.log(Math.max(hi, RATIO_FLOOR)) * scale);
    }
    return [lo, hi];
  }

  /** Forgets everything. */
  reset(): void {
    this.pending.fill(0);
    this.ratios.fill(0);
    this.ratioCount.fill(0);
    this.absErr.fill(0);
    this.errWeight.fill(0);
    this.n = 0;
    this.scale = 0;
  }

  /** JSON snapshot. */
  state(): Record<string, unknown> {
    return {
      horizons: [...this.horizons],
      n: this.n,
      scale: this.scale,
      pending: Array.from(this.pending),
      ratios: Array.from(this.ratios),
      ratioCount: Array.from(this.ratioCount),
      absErr: Array.from(this.absErr),
      errWeight: Array.from(this.errWeight),
    };
  }

  /** Validates a snapshot taken by {@link state} (throws `CORE_PREDICTOR_STATE_INVALID`) and applies it. */
  restore(kind: string, obj: Readonly<Record<string, unknown>>): void {
    const r = new StateReader(kind, obj);
    const hs = r.numbers('horizons', this.k);
    if (hs.some((h, i) => h !== this.horizons[i])) throw r.fail('tracked horizons differ from this predictor');
    const n = r.number('n', { min: 0, integer: true });
    const scale = r.number('scale', { min: 0 });
    const pending = r.numbers('pending', this.pending.length, 0);
    const ratios = r.numbers('ratios', this.ratios.length, 0);
    const ratioCount = r.numbers('ratioCount', this.k, 0);
    const absErr = r.numbers('absErr', this.k, 0);
    const errWeight = r.numbers('errWeight', this.k, 0);
    if (ratioCount.some((c) => !Number.isSafeInteger(c) || c > n)) throw r.fail('ratioCount out of range');
    this.n = n;
    this.scale = scale;
    this.pending.set(pending);
    this.ratios.set(ratios);
    this.ratioCount.set(ratioCount);
    this.absErr.set(absErr);
    this.errWeight.set(errWeight);
  }
}

/** Linear-interpolated quantile of an ascending array. */
function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const frac = pos - i;
  const a = sorted[i]!;
  return i + 1 < sorted.length ? a + (sorted[i + 1]! - a) * frac : a;
}
