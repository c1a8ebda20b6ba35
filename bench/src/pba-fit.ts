/**
 * Fits the default predictor's prior on the TRAINING files of all three
 * trace sets together (never the held-out ones): each member's mean
 * absolute error at each tracked horizon, divided by the mean outcome.
 * Writes packages/pba/src/predict/default-prior.ts, which the default
 * ensemble starts from (see DEFAULT_PRIOR_WEIGHT).
 *
 * Run: `npx tsx bench/src/pba-fit.ts` (about 20 s), then `npx biome check --write`.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_PRIOR_WEIGHT,
  DEFAULT_SHARPNESS,
  DEFAULT_TRACKED_HORIZONS,
  EnsemblePredictor,
  defaultMembers,
  evaluatePredictor,
  loadTraceSets,
} from '@novacron/pba';
import { tracesRoot } from './traces-root.js';

const sets = loadTraceSets(tracesRoot());
const train = sets.flatMap((s) => s.train);
const horizons = [...DEFAULT_TRACKED_HORIZONS];
const scores = defaultMembers().map((m, i) => {
  const metrics = evaluatePredictor(defaultMembers()[i]!, train, { horizons });
  console.log(m.kind.padEnd(14), metrics.map((x) => (x.mae / x.meanOutcome).toFixed(4)).join('  '));
  return metrics.map((x) => Number((x.mae / x.meanOutcome).toFixed(5)));
});
// The interval prior: the default ensemble (with the scores just fitted) replayed over the
// same training files; for each tracked horizon, the 80th percentile of |log(outcome/forecast)|
// over forecasts made in the first PRIOR_SAMPLES samples of each file (while the ensemble has
// too few ratios of its own and shows the prior band), offset like the tracker's ratios.
const PRIOR_SAMPLES = 10;
const logRatios = horizons.map(() => [] as number[]);
const setOf: number[][] = horizons.map(() => []);
const ens = new EnsemblePredictor({
  members: defaultMembers(),
  sharpness: [...DEFAULT_SHARPNESS],
  prior: { scores, weight: DEFAULT_PRIOR_WEIGHT },
});
for (const [si, trace] of sets.flatMap((s, i) => s.train.map((f) => [i, f] as const))) {
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
      if (f + eps > 0) {
        logRatios[j]!.push(Math.abs(Math.log((v[t + h]! + eps) / (f + eps))));
        setOf[j]!.push(si);
      }
    });
  }
}
for (const [si, s] of sets.entries())
  console.log(
    s.name,
    logRatios
      .map((r, j) => {
        const mine = r.filter((_, i) => setOf[j]![i] === si).sort((a, b) => a - b);
        return `${mine.length}:${mine[Math.floor(0.8 * (mine.length - 1))]?.toFixed(3)}`;
      })
      .join('  '),
  );
const logHalfWidths = logRatios.map((r) => {
  r.sort((a, b) => a - b);
  return Number(r[Math.floor(0.8 * (r.length - 1))]!.toFixed(4));
});
console.log('interval prior (log half-width per horizon)', logHalfWidths.join('  '));
const file = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'packages',
  'pba',
  'src',
  'predict',
  'default-prior.ts',
);
writeFileSync(
  file,
  `// Written by bench/src/pba-fit.ts from the training files of ${sets.map((s) => s.name).join(', ')} (${train.length} files); do not edit.
/**
 * Priors of the default ensemble, fitted on training traces only: \`scores\` are the members' errors
 * (MAE / mean outcome per tracked horizon); \`logHalfWidths\` the 80% interval's log-space
 * half-width per tracked horizon over the first ${PRIOR_SAMPLES} samples of a stream.
 */
export const DEFAULT_PRIOR: {
  readonly horizons: readonly number[];
  readonly scores: readonly (readonly number[])[];
  readonly logHalfWidths: readonly number[];
} = ${JSON.stringify({ horizons, scores, logHalfWidths })};
`,
);
console.log(`wrote ${file}`);
