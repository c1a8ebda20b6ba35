import { assertNumber } from '@novacron/core';
import type { StateReader } from './state-fields.js';
import { TrackedPredictor, type TrackedPredictorOptions } from './tracked-predictor.js';

/** Options of {@link HoltPredictor}. */
export interface HoltOptions extends TrackedPredictorOptions {
  /** Level smoothing in (0, 1] (default 0.5). */
  readonly alpha?: number;
  /** Trend smoothing in [0, 1] (default 0.1). */
  readonly beta?: number;
  /**
   * Trend damping φ in (0, 1] (default 1: Holt's linear method). Below 1 the
   * trend fades with the horizon (Gardner's damped trend), which keeps long
   * forecasts from running away on noisy series.
   */
  readonly damping?: number;
}

/**
 * Holt's double exponential smoothing: a level and a trend, each smoothed;
 * the forecast is `level + (φ + φ² + … + φʰ)·trend`, floored at 0. The
 * first two samples initialise the level and trend exactly, so a straight
 * line is forecast without error from the second sample on.
 */
export class HoltPredictor extends TrackedPredictor {
  readonly kind = 'holt';
  protected readonly version = 1;
  private readonly alpha: number;
  private readonly beta: number;
  private readonly phi: number;
  private level = 0;
  private trend = 0;
  private seen = 0;

  constructor(options: HoltOptions = {}) {
    super(options);
    this.alpha = options.alpha ?? 0.5;
    this.beta = options.beta ?? 0.1;
    this.phi = options.damping ?? 1;
    assertNumber('options.alpha', this.alpha, { min: Number.MIN_VALUE, max: 1 });
    assertNumber('options.beta', this.beta, { min: 0, max: 1 });
    assertNumber('options.damping', this.phi, { min: Number.MIN_VALUE, max: 1 });
  }

  pointForecast(h: number): number {
    const { phi } = this;
    const steps = phi === 1 ? h : (phi * (1 - phi ** h)) / (1 - phi);
    return Math.max(0, this.level + steps * this.trend);
  }
  protected learn(value: number): void {
    if (this.seen === 0) {
      this.level = value;
      this.trend = 0;
    } else if (this.seen === 1) {
      this.trend = value - this.level;
      this.level = value;
    } else {
      const prev = this.level;
      this.level = this.alpha * value + (1 - this.alpha) * (prev + this.phi * this.trend);
      this.trend = this.beta * (this.level - prev) + (1 - this.beta) * this.phi * this.trend;
    }
    this.seen = Math.min(this.seen + 1, 2);
  }
  protected resetModel(): void {
    this.level = 0;
    this.trend = 0;
    this.seen = 0;
  }
  protected modelState(): Record<string, unknown> {
    return { level: this.level, trend: this.trend };
  }
  protected restoreModel(r: StateReader, observations: number): () => void {
    const level = r.number('level');
    const trend = r.number('trend');
    return () => {
      this.level = level;
      this.trend = trend;
      this.seen = Math.min(observations, 2);
    };
  }
}
