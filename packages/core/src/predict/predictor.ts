import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { assertInteger, assertNumber, assertObject } from '../validate.js';

/**
 * One observation of a quantity a {@link Predictor} forecasts: a link's
 * throughput (bits per second), RTT, or any other non-negative series taken
 * at roughly regular steps. Horizons are counted in these steps.
 */
export interface PredictorSample {
  /** The measured value (finite, >= 0). */
  readonly value: number;
  /** When it was measured (`Clock.now()` milliseconds), when known; informational. */
  readonly at?: number;
}

/**
 * A forecast of the value `horizon` steps after the latest observation:
 * a point forecast and a central prediction interval.
 */
export interface Forecast {
  /** Steps ahead of the latest observation (integer >= 1). */
  readonly horizon: number;
  /** Point forecast (finite, >= 0). */
  readonly mean: number;
  /** Lower end of the prediction interval (0 <= lower <= mean). */
  readonly lower: number;
  /** Upper end of the prediction interval (upper >= mean). */
  readonly upper: number;
  /** Nominal coverage of `[lower, upper]` in (0, 1), e.g. 0.8. */
  readonly level: number;
}

/**
 * The serialisable state of a {@link Predictor}: a JSON value (no
 * `undefined`, functions, `NaN` or infinities) that `restore` accepts on a
 * predictor of the same `kind`. Stored by checkpoints and shipped between
 * nodes, so `restore` must treat it as untrusted input.
 */
export interface PredictorState {
  /** The predictor kind that wrote it (e.g. `"ewma"`). */
  readonly kind: string;
  /** Format version of the kind's state. */
  readonly version: number;
  /** Kind-specific fields (JSON values). */
  readonly [field: string]: unknown;
}

/**
 * An online forecaster of one non-negative series. pba's predictors
 * implement it; amst, hde and the node consume it. The compliance suite is
 * `@novacron/testkit/compliance/predictor`.
 *
 * Contract:
 * - `observe` validates its sample (`CORE_INVALID_ARGUMENT` for a missing,
 *   negative or non-finite value) and is O(1) amortised.
 * - `forecast(h)` needs at least one observation (`CORE_INVALID_STATE`
 *   before), an integer `h >= 1` and a `level` in (0, 1); it does not change
 *   the predictor (calling it twice gives the same answer).
 * - `reset()` returns the predictor to its freshly constructed state.
 * - `state()` is JSON-serialisable; `restore(state())` on a predictor built
 *   with the same options reproduces every later forecast exactly. A state
 *   that is malformed or of another kind raises
 *   `CORE_PREDICTOR_STATE_INVALID` and leaves the predictor unchanged.
 */
export interface Predictor {
  /** Kind name, also written into {@link PredictorState.kind}. */
  readonly kind: string;
  /** Number of samples observed since construction or the last reset. */
  readonly observations: number;
  /** Feeds one sample. */
  observe(sample: PredictorSample): void;
  /** Forecasts `horizon` steps ahead with a central interval of nominal coverage `level` (default 0.8). */
  forecast(horizon: number, level?: number): Forecast;
  /** Forgets every observation. */
  reset(): void;
  /** A JSON-serialisable snapshot. */
  state(): PredictorState;
  /** Replaces this predictor's state with a snapshot taken by `state()`. */
  restore(state: PredictorState): void;
}

/** The default nominal coverage of a {@link Forecast} interval. */
export const DEFAULT_FORECAST_LEVEL = 0.8;

/** Validates a sample given to {@link Predictor.observe}; throws `CORE_INVALID_ARGUMENT`. */
export function assertPredictorSample(sample: unknown): asserts sample is PredictorSample {
  assertObject('sample', sample);
  assertNumber('sample.value', sample.value, { min: 0 });
  if (sample.at !== undefined) assertNumber('sample.at', sample.at);
}

/**
 * Validates the arguments of {@link Predictor.forecast} and that the
 * predictor has data; returns the level to use.
 */
export function checkForecastArgs(observations: number, horizon: unknown, level: unknown): number {
  assertInteger('horizon', horizon, { min: 1 });
  const lv = level ?? DEFAULT_FORECAST_LEVEL;
  assertNumber('level', lv, { min: Number.MIN_VALUE, max: 1 - Number.EPSILON });
  if (observations === 0)
    throw new NovacronError(CoreErrorCode.INVALID_STATE, 'forecast before any observation', {
      details: { observations },
    });
  return lv;
}

/** Builds the `CORE_PREDICTOR_STATE_INVALID` error `restore` raises. */
export function invalidPredictorState(kind: string, reason: string): NovacronError {
  return new NovacronError(CoreErrorCode.PREDICTOR_STATE_INVALID, `${kind} state: ${reason}`, {
    details: { kind, reason },
  });
}
