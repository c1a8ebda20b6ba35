/**
 * Fitting of the default ensemble's prior, shared by pba-fit.ts (on every
 * training file) and pba-validate.ts (on the fitting part of the training
 * files, scored on their validation part). Never given held-out files.
 */
import { createHash } from 'node:crypto';
import {
  DEFAULT_PRIOR_WEIGHT,
  DEFAULT_SHARPNESS,
  DEFAULT_TRACKED_HORIZONS,
  EnsemblePredictor,
  type TraceSeries,
  type TrackedPredictor,
  defaultMembers,
  evaluatePredictor,
} from '@novacron/pba';

/** Forecasts made in the first PRIOR_SAMPLES samples of a stream set the interval prior (the ensemble has no ratios of its own yet). */
export const PRIOR_SAMPLES = 10;

/** A fitted prior: member error scores and the 80% band per tracked horizon. */
export interface FittedPrior {
  readonly horizons: number[];
  /** scores[m][j]: member m's MAE at tracked horizon j over the mean outcome. */
  readonly scores: number[][];
  /** Symmetric band: 80th percentile of |log(outcome / forecast)|. */
  readonly logHalfWidths: number[];
  /** Asymmetric band: 10th and 90th percentiles of log(outcome / forecast). */
  readonly logBands: [number, number][];
}

/**
 * The validation part of the TRAINING files, for choosing between variants
 * without looking at held-out files: the second byte of SHA-256 of the file
 * name below 30% (the held-out split uses the first byte, so the two are
 * independent).
 */
export function isValidation(name: string): boolean {
  return createHash('sha256').update(name).digest()[1]! < Math.round(0.3 * 256);
}

const round = (x: number, d: number) => Number(x.toFixed(d));

function quantileOf(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

/**
 * Fits the prior on `files`: each member's MAE over the mean outcome per
 * tracked horizon; then the ensemble starting from those scores is replayed
 * over the first {@link PRIOR_SAMPLES} samples of each file and the
 * percentiles of log(outcome / forecast) give the band (offset like the
 * tracker's ratios, so zeros do not explode).
 */
export function fitPrior(
  files: readonly TraceSeries[],
  makeMembers: () => TrackedPredictor[] = () => defaultMembers(),
  log = false,
): FittedPrior {
  const horizons = [...DEFAULT_TRACKED_HORIZONS];
  const scores = makeMembers().map((m, i) => {
    const metrics = evaluatePredictor(makeMembers()[i]!, files, { horizons });
    if (log) console.log(m.kind.padEnd(14), metrics.map((x) => (x.mae / x.meanOutcome).toFixed(4)).join('  '));
    return metrics.map((x) => round(x.mae / x.meanOutcome, 5));
  });
  const logRatios = horizons.map(() => [] as number[]);
  const ens = new EnsemblePredictor({
    members: makeMembers(),
    sharpness: [...DEFAULT_SHARPNESS],
    prior: { scores, weight: DEFAULT_PRIOR_WEIGHT },
  });
  for (const trace of files) {
    ens.reset();
    const v = trace.values;
    let mean = 0;
    for (let t = 0; t < Math.min(v.length, PRIOR_SAMPLES); t++) {
      ens.observe({ value: v[t]! });
      mean = t === 0 ? v[t]! : 0.05 * v[t]! + 0.95 * mean;
      const eps = 0.05 * mean;
      horizons.forEach((h, j) => {
        if (t + h >= v.length) return;
        const f = ens.forecast(h).mean;
        if (f + eps > 0) logRatios[j]!.push(Math.log((v[t + h]! + eps) / (f + eps)));
      });
    }
  }
  const logHalfWidths = logRatios.map((r) =>
    round(
      quantileOf(
        r.map(Math.abs).sort((a, b) => a - b),
        0.8,
      ),
      4,
    ),
  );
  const logBands = logRatios.map((r) => {
    const s = [...r].sort((a, b) => a - b);
    return [round(quantileOf(s, 0.1), 4), round(quantileOf(s, 0.9), 4)] as [number, number];
  });
  return { horizons, scores, logHalfWidths, logBands };
}
