import type { ErrorTrackerOptions } from './error-tracker.js';
import { EnsemblePredictor } from './ensemble.js';
import { EwmaPredictor } from './ewma.js';
import { HarmonicMeanPredictor } from './harmonic-mean.js';
import { HoltPredictor } from './holt.js';
import { LastValuePredictor } from './last-value.js';

/** Options of {@link defaultPredictor}. */
export interface DefaultPredictorOptions {
  /** Error tracking shared by the ensemble and its members. */
  readonly tracking?: ErrorTrackerOptions;
}

/**
 * pba's default forecaster: an {@link EnsemblePredictor} of last value,
 * EWMAs from fast to very slow (α = 0.5, 0.15, 0.05, 0.02), MPC's harmonic
 * mean and a damped Holt, weighted per horizon by their recent errors on
 * the stream (weight ∝ (best MAE / own MAE)^8). RobustMPC is left out: its
 * deliberate underestimate never wins on error. The members and the
 * sharpness were chosen once on the training files of all three trace
 * sets together (no per-set tuning); bench/src/pba.ts reports how it does
 * on the held-out files.
 */
export function defaultPredictor(options: DefaultPredictorOptions = {}): EnsemblePredictor {
  const t = options.tracking ? { tracking: options.tracking } : {};
  return new EnsemblePredictor({
    ...t,
    members: [
      new LastValuePredictor(t),
      new EwmaPredictor({ ...t, alpha: 0.5 }),
      new EwmaPredictor({ ...t, alpha: 0.15 }),
      new HarmonicMeanPredictor({ ...t, k: 5 }),
      new HoltPredictor({ ...t, alpha: 0.5, beta: 0.1, damping: 0.9 }),
      new EwmaPredictor({ ...t, alpha: 0.05 }),
      new EwmaPredictor({ ...t, alpha: 0.02 }),
    ],
    sharpness: 8,
  });
}
