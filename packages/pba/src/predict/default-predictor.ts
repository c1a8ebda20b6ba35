import { DEFAULT_LSTM_MODEL } from '../lstm/default-lstm-model.js';
import { LstmPredictor } from '../lstm/lstm-predictor.js';
import { DEFAULT_PRIOR } from './default-prior.js';
import type { ErrorTrackerOptions } from './error-tracker.js';
import { EnsemblePredictor } from './ensemble.js';
import { EwmaPredictor } from './ewma.js';
import { HarmonicMeanPredictor } from './harmonic-mean.js';
import { HoltPredictor } from './holt.js';
import { LastValuePredictor } from './last-value.js';
import type { TrackedPredictor } from './tracked-predictor.js';

/** Options of {@link defaultPredictor}. */
export interface DefaultPredictorOptions {
  /** Error tracking shared by the ensemble and its members. */
  readonly tracking?: ErrorTrackerOptions;
  /**
   * Include the offline-trained LSTM ({@link DEFAULT_LSTM_MODEL}) as a
   * member (default true). It costs one small forward pass per observation
   * (tens of microseconds); without it every observe stays within a few
   * microseconds.
   */
  readonly lstm?: boolean;
}

/**
 * pba's default forecaster: an {@link EnsemblePredictor} of last value,
 * EWMAs from fast to very slow (α = 0.5, 0.15, 0.05, 0.02; the slow ones
 * start as a running mean, see `warmup`), MPC's harmonic
 * mean, a damped Holt and (unless `lstm: false`) the offline-trained LSTM,
 * weighted per horizon by their recent errors on the stream (weight ∝
 * (best MAE / own MAE)^p, p from {@link DEFAULT_SHARPNESS}), starting from a prior of their errors fitted
 * on training traces ({@link DEFAULT_PRIOR}); until the stream has its own
 * errors, its interval is a band per horizon fitted the same way. So the LSTM carries weight
 * only at the horizons and on the streams where it is winning. RobustMPC is left out: its
 * deliberate underestimate never wins on error. Members, sharpness and
 * error memory (`horizonMemory`) were chosen once on the training files of
 * all three trace sets together (no per-set tuning; the memory on a
 * validation part of them, bench/src/pba-validate.ts); bench/src/pba.ts
 * reports how it does on the held-out files.
 */
export function defaultPredictor(options: DefaultPredictorOptions = {}): EnsemblePredictor {
  const t = { tracking: defaultTracking(options) };
  const members = defaultMembers(options);
  const horizons = members[0]!.tracker.horizons;
  const usePrior =
    DEFAULT_PRIOR.scores.length >= members.length &&
    horizons.length === DEFAULT_PRIOR.horizons.length &&
    horizons.every((h, i) => h === DEFAULT_PRIOR.horizons[i]);
  // The prior's rows follow defaultMembers() with the LSTM last, so dropping it drops the last row.
  const scores = DEFAULT_PRIOR.scores.slice(0, members.length);
  // The fitted interval prior was measured on the full default (with the LSTM); without it the
  // ensemble's early errors are close enough that the same band is used.
  const tracking = usePrior ? { tracking: { ...t.tracking, priorLogBands: DEFAULT_PRIOR.logBands } } : t;
  return new EnsemblePredictor({
    ...tracking,
    members,
    sharpness: DEFAULT_SHARPNESS,
    ...(usePrior ? { prior: { scores, weight: DEFAULT_PRIOR_WEIGHT } } : {}),
  });
}

/**
 * Sharpness of the default ensemble's weights per tracked horizon (1, 2, 5,
 * 10, 30): close to picking the best member, more so at the short
 * horizons, where errors are least noisy. Chosen on the validation part of
 * the training files (bench/src/pba-validate.ts): 32 at horizons 1 and 2
 * lowered rMAE at horizon 1 on all three sets without costing elsewhere;
 * 32 at every horizon cost at horizon 30, softer long-horizon values
 * ([16, 16, 16, 8, 4]) helped nowhere consistently.
 */
export const DEFAULT_SHARPNESS: readonly number[] = [32, 32, 16, 16, 16];

/**
 * How many observed errors the fitted prior is worth: enough to steer the
 * first tens of samples, soon outweighed by the stream's own errors.
 */
export const DEFAULT_PRIOR_WEIGHT = 30;

/** Fresh instances of the default ensemble's members, in order (the prior's rows follow it). */
export function defaultMembers(options: DefaultPredictorOptions = {}): TrackedPredictor[] {
  const t = { tracking: defaultTracking(options) };
  return [
    new LastValuePredictor(t),
    new EwmaPredictor({ ...t, alpha: 0.5 }),
    new EwmaPredictor({ ...t, alpha: 0.15, warmup: true }),
    new HarmonicMeanPredictor({ ...t, k: 5 }),
    new HoltPredictor({ ...t, alpha: 0.5, beta: 0.1, damping: 0.9 }),
    new EwmaPredictor({ ...t, alpha: 0.05, warmup: true }),
    new EwmaPredictor({ ...t, alpha: 0.02, warmup: true }),
    ...(options.lstm === false ? [] : [new LstmPredictor({ ...t, model: DEFAULT_LSTM_MODEL })]),
  ];
}

/**
 * The default's error tracking: the caller's options over `horizonMemory`
 * (long-horizon weights remember errors about h times longer; chosen on
 * the validation part of the training files, see bench/src/pba-validate.ts).
 */
function defaultTracking(options: DefaultPredictorOptions): ErrorTrackerOptions {
  return { horizonMemory: true, ...options.tracking };
}
