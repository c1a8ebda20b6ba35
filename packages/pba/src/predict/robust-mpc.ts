import { assertInteger } from '@novacron/core';
import { HARMONIC_FLOOR } from './harmonic-mean.js';
import type { StateReader } from './state-fields.js';
import { TrackedPredictor, type TrackedPredictorOptions } from './tracked-predictor.js';

/** Options of {@link RobustMpcPredictor}. */
export interface RobustMpcOptions extends TrackedPredictorOptions {
  /** Samples in the harmonic mean and in the error window (integer 1..1024, default 5). */
  readonly k?: number;
  /** Cap on one relative error, so a sample of 0 cannot zero the forecast (default 10). */
  readonly maxError?: number;
}

/**
 * RobustMPC's throughput predictor (Yin et al., SIGCOMM 2015): the harmonic
 * mean of the last `k` samples discounted by the largest relative error of
 * its own one-step forecasts over the last `k` steps,
 * `forecast = HM / (1 + max err)`. Deliberately conservative: it trades
 * accuracy for rarely overestimating.
 */
export class RobustMpcPredictor extends TrackedPredictor {
  readonly kind = 'robust-mpc';
  protected readonly version = 1;
  /** Window length. */
  readonly k: number;
  private readonly maxError: number;
  private window: number[] = [];
  private errors: number[] = [];
  private hm = 0;
  private discounted = 0;

  constructor(options: RobustMpcOptions = {}) {
    super(options);
    this.k = options.k ?? 5;
    this.maxError = options.maxError ?? 10;
    assertInteger('options.k', this.k, { min: 1, max: 1024 });
  }

  pointForecast(): number {
    return this.discounted;
  }
  protected learn(value: number): void {
    if (this.window.length > 0) {
      const err = value > 0 ? Math.abs(this.hm - value) / value : this.hm > 0 ? this.maxError : 0;
      this.errors.push(Math.min(err, this.maxError));
      if (this.errors.length > this.k) this.errors.shift();
    }
    this.window.push(value);
    if (this.window.length > this.k) this.window.shift();
    this.recompute();
  }
  private recompute(): void {
    let inv = 0;
    for (const x of this.window) inv += 1 / Math.max(x, HARMONIC_FLOOR);
    this.hm = this.window.length > 0 ? this.window.length / inv : 0;
    let maxErr = 0;
    for (const e of this.errors) if (e > maxErr) maxErr = e;
    this.discounted = this.hm / (1 + maxErr);
  }
  protected resetModel(): void {
    this.window = [];
    this.errors = [];
    this.hm = 0;
    this.discounted = 0;
  }
  protected modelState(): Record<string, unknown> {
    return { window: [...this.window], errors: [...this.errors] };
  }
  protected restoreModel(r: StateReader, observations: number): () => void {
    const w = r.numbers('window', undefined, 0);
    const e = r.numbers('errors', undefined, 0);
    if (w.length !== Math.min(observations, this.k)) throw r.fail('window length does not fit');
    if (e.length !== Math.min(Math.max(observations - 1, 0), this.k) || e.some((x) => x > this.maxError))
      throw r.fail('error window does not fit');
    return () => {
      this.window = [...w];
      this.errors = [...e];
      this.recompute();
    };
  }
}
