import { assertNumber } from '@novacron/core';
import type { StateReader } from './state-fields.js';
import { TrackedPredictor, type TrackedPredictorOptions } from './tracked-predictor.js';

/** Options of {@link EwmaPredictor}. */
export interface EwmaOptions extends TrackedPredictorOptions {
  /** Weight of the newest sample in (0, 1] (default 0.3); 1 is last value. */
  readonly alpha?: number;
  /**
   * Start as a running mean (default false): the n-th sample gets weight
   * `max(α, 1/n)`, so a slow EWMA is the plain mean of a short stream
   * instead of leaning on its first sample.
   */
  readonly warmup?: boolean;
}

/**
 * Exponentially weighted moving average: `level ← α·y + (1 − α)·level`,
 * starting at the first sample; the forecast is the level at every horizon.
 */
export class EwmaPredictor extends TrackedPredictor {
  readonly kind = 'ewma';
  protected readonly version = 1;
  /** The smoothing weight. */
  readonly alpha: number;
  private readonly warmup: boolean;
  private level = 0;
  private started = false;

  constructor(options: EwmaOptions = {}) {
    super(options);
    this.alpha = options.alpha ?? 0.3;
    this.warmup = options.warmup ?? false;
    assertNumber('options.alpha', this.alpha, { min: Number.MIN_VALUE, max: 1 });
  }

  pointForecast(): number {
    return this.level;
  }
  protected learn(value: number): void {
    // observations counts the samples before this one.
    const a = this.warmup ? Math.max(this.alpha, 1 / (this.observations + 1)) : this.alpha;
    this.level = this.started ? a * value + (1 - a) * this.level : value;
    this.started = true;
  }
  protected resetModel(): void {
    this.level = 0;
    this.started = false;
  }
  protected modelState(): Record<string, unknown> {
    return { level: this.level, started: this.started };
  }
  protected restoreModel(r: StateReader, observations: number): () => void {
    const level = r.number('level', { min: 0 });
    return () => {
      this.level = level;
      this.started = observations > 0;
    };
  }
}
