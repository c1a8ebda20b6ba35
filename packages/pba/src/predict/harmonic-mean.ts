import { assertInteger } from '@novacron/core';
import type { StateReader } from './state-fields.js';
import { TrackedPredictor, type TrackedPredictorOptions } from './tracked-predictor.js';

/** Options of {@link HarmonicMeanPredictor}. */
export interface HarmonicMeanOptions extends TrackedPredictorOptions {
  /** How many recent samples are averaged (integer 1..1024, default 5 as in MPC). */
  readonly k?: number;
}

/** Samples at or below this count as this, so one zero does not make the mean exactly 0 forever. */
export const HARMONIC_FLOOR = 1e-9;

/**
 * Harmonic mean of the last `k` samples, the throughput predictor of MPC
 * (Yin et al., SIGCOMM 2015): robust to single outliers upward, pulled
 * down by dips, which errs on the safe side for rate decisions.
 */
export class HarmonicMeanPredictor extends TrackedPredictor {
  readonly kind: string = 'harmonic-mean';
  protected readonly version: number = 1;
  /** Window length. */
  readonly k: number;
  protected window: number[] = [];
  private mean = 0;

  constructor(options: HarmonicMeanOptions = {}) {
    super(options);
    this.k = options.k ?? 5;
    assertInteger('options.k', this.k, { min: 1, max: 1024 });
  }

  /** The current harmonic mean (the forecast of {@link HarmonicMeanPredictor}). */
  protected harmonic(): number {
    return this.mean;
  }

  pointForecast(): number {
    return this.mean;
  }
  protected learn(value: number): void {
    this.window.push(value);
    if (this.window.length > this.k) this.window.shift();
    let inv = 0;
    for (const x of this.window) inv += 1 / Math.max(x, HARMONIC_FLOOR);
    this.mean = this.window.length / inv;
  }
  protected resetModel(): void {
    this.window = [];
    this.mean = 0;
  }
  protected modelState(): Record<string, unknown> {
    return { window: [...this.window] };
  }
  protected restoreModel(r: StateReader, observations: number): () => void {
    const w = r.numbers('window', undefined, 0);
    if (w.length > this.k || w.length !== Math.min(observations, this.k)) throw r.fail('window length does not fit');
    return () => {
      this.window = [];
      this.mean = 0;
      for (const x of w) this.learn(x);
    };
  }
}
