import {
  type Forecast,
  type Predictor,
  type PredictorSample,
  type PredictorState,
  assertPredictorSample,
  checkForecastArgs,
} from '@novacron/core';
import { ErrorTracker, type ErrorTrackerOptions } from './error-tracker.js';
import { StateReader } from './state-fields.js';

/** Options every pba predictor accepts: how its own errors are tracked. */
export interface TrackedPredictorOptions {
  /** Error tracking for the prediction interval (and ensemble weights). */
  readonly tracking?: ErrorTrackerOptions;
}

/**
 * Base of pba's predictors: a point model (subclass) plus an
 * {@link ErrorTracker} that turns the model's own recent errors into
 * prediction intervals. Subclasses implement the model only.
 */
export abstract class TrackedPredictor implements Predictor {
  abstract readonly kind: string;
  /** State format version of the subclass. */
  protected abstract readonly version: number;
  /** The model's own error record, per tracked horizon. */
  readonly tracker: ErrorTracker;
  private count = 0;
  private readonly pointFn = (h: number): number => this.pointForecast(h);

  protected constructor(options: TrackedPredictorOptions = {}) {
    this.tracker = new ErrorTracker(options.tracking);
  }

  /** Point forecast `h` steps ahead (>= 0); only called after at least one observation. */
  abstract pointForecast(h: number): number;
  /** Learns one value. */
  protected abstract learn(value: number): void;
  /** Forgets the model's state. */
  protected abstract resetModel(): void;
  /** The model's state as JSON fields. */
  protected abstract modelState(): Record<string, unknown>;
  /** Validates (throwing `CORE_PREDICTOR_STATE_INVALID`) and applies model fields; must not mutate before validating. */
  protected abstract restoreModel(r: StateReader, observations: number): () => void;

  get observations(): number {
    return this.count;
  }

  observe(sample: PredictorSample): void {
    assertPredictorSample(sample);
    this.observeValue(sample.value);
  }

  /** {@link observe} for an already validated value (the ensemble feeds its members this way). */
  observeValue(value: number): void {
    this.tracker.settle(value);
    this.learn(value);
    this.count++;
    this.tracker.record(this.pointFn);
  }

  forecast(horizon: number, level?: number): Forecast {
    const lv = checkForecastArgs(this.count, horizon, level);
    const mean = this.pointForecast(horizon);
    const [lower, upper] = this.tracker.interval(horizon, lv, mean);
    return { horizon, level: lv, mean, lower, upper };
  }

  reset(): void {
    this.count = 0;
    this.tracker.reset();
    this.resetModel();
  }

  state(): PredictorState {
    return {
      kind: this.kind,
      version: this.version,
      observations: this.count,
      model: this.modelState(),
      tracker: this.tracker.state(),
    };
  }

  restore(state: PredictorState): void {
    const r = StateReader.open(this.kind, this.version, state);
    const observations = r.number('observations', { min: 0, integer: true });
    const apply = this.restoreModel(new StateReader(this.kind, r.object('model')), observations);
    const backup = this.tracker.state();
    this.tracker.restore(this.kind, r.object('tracker'));
    try {
      apply();
    } catch (err) {
      this.tracker.restore(this.kind, backup);
      throw err;
    }
    this.count = observations;
  }
}
