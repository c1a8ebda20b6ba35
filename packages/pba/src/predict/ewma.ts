import { assertNumber } from '@novacron/core';
import type { StateReader } from './state-fields.js';
import { TrackedPredictor, type TrackedPredictorOptions } from './tracked-predictor.js';

/** Options of {@link EwmaPredictor}. */
export interface EwmaOptions extends TrackedPredictorOptions {
  /** Weight of the newest sample in (0, 1] (default 0.3); 1 is last value. */
  readonly alpha?: number;
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
  private level = 0;
  private started = false;

  constructor(options: EwmaOptions = {}) {
    super(options);
    this.alpha = options.alpha ?? 0.3;
    assertNumber('options.alpha', this.alpha, { min: Number.MIN_VALUE, max: 1 });
  }

  pointForecast(): number {
    return this.level;
  }
  protected learn(value: number): void {
    this.level = this.started ? this.alpha * value + (1 - this.alpha) * this.level : value;
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
