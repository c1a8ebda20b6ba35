import {
  assertPredictorSample,
  checkForecastArgs,
  type Forecast,
  invalidPredictorState,
  type Predictor,
  type PredictorSample,
  type PredictorState,
} from '@novacron/core';

/**
 * Forecasts the median of the last `window` samples at every horizon, with
 * an interval from the window's empirical quantiles: robust to the spikes a
 * shared link shows, and honest about its spread. Implements core's
 * `Predictor`, so pba's evaluation and the node can use it like their own.
 */
export class SlidingMedianPredictor implements Predictor {
  readonly kind = 'sliding-median';
  readonly #window: number;
  #values: number[] = [];
  #count = 0;

  constructor(window = 15) {
    this.#window = window;
  }

  get observations(): number {
    return this.#count;
  }

  observe(sample: PredictorSample): void {
    assertPredictorSample(sample);
    this.#values.push(sample.value);
    if (this.#values.length > this.#window) this.#values.shift();
    this.#count++;
  }

  forecast(horizon: number, level?: number): Forecast {
    const lv = checkForecastArgs(this.#count, horizon, level);
    const sorted = [...this.#values].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))]!;
    const mean = q(0.5);
    return {
      horizon,
      mean,
      lower: Math.min(mean, q((1 - lv) / 2)),
      upper: Math.max(mean, q(1 - (1 - lv) / 2)),
      level: lv,
    };
  }

  reset(): void {
    this.#values = [];
    this.#count = 0;
  }

  state(): PredictorState {
    return { kind: this.kind, version: 1, window: this.#window, values: [...this.#values], count: this.#count };
  }

  restore(state: PredictorState): void {
    if (state?.kind !== this.kind) throw invalidPredictorState(this.kind, 'wrong kind');
    if (state.version !== 1) throw invalidPredictorState(this.kind, 'unknown version');
    const values = state.values;
    const count = state.count;
    if (
      !Array.isArray(values) ||
      values.length > this.#window ||
      !values.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)
    )
      throw invalidPredictorState(this.kind, 'values must be finite numbers >= 0, at most one window');
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < values.length)
      throw invalidPredictorState(this.kind, 'count must be an integer >= the values kept');
    this.#values = [...(values as number[])];
    this.#count = count;
  }
}
