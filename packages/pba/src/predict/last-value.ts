import type { StateReader } from './state-fields.js';
import { TrackedPredictor, type TrackedPredictorOptions } from './tracked-predictor.js';

/**
 * Forecasts the latest observation for every horizon: the baseline every
 * other predictor is measured against (rMAE = MAE / MAE of last value).
 */
export class LastValuePredictor extends TrackedPredictor {
  readonly kind = 'last-value';
  protected readonly version = 1;
  private last = 0;

  constructor(options: TrackedPredictorOptions = {}) {
    super(options);
  }

  pointForecast(): number {
    return this.last;
  }
  protected learn(value: number): void {
    this.last = value;
  }
  protected resetModel(): void {
    this.last = 0;
  }
  protected modelState(): Record<string, unknown> {
    return { last: this.last };
  }
  protected restoreModel(r: StateReader): () => void {
    const last = r.number('last', { min: 0 });
    return () => {
      this.last = last;
    };
  }
}
