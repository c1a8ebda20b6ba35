/**
 * Fits the default predictor's prior on the TRAINING files of all three
 * trace sets together (never the held-out ones): each member's mean
 * absolute error at each tracked horizon, divided by the mean outcome, and
 * the 80% band of the default's log errors over the first samples of each
 * stream (see pba-prior.ts). Writes packages/pba/src/predict/default-prior.ts,
 * which the default ensemble starts from (see DEFAULT_PRIOR_WEIGHT).
 *
 * Run: `npx tsx bench/src/pba-fit.ts` (about 20 s), then `npx biome check --write`.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTraceSets } from '@novacron/pba';
import { PRIOR_SAMPLES, fitPrior } from './pba-prior.js';
import { tracesRoot } from './traces-root.js';

const sets = loadTraceSets(tracesRoot());
const train = sets.flatMap((s) => s.train);
const { horizons, scores, logBands } = fitPrior(train, undefined, true);
console.log('interval prior (log band per horizon)', logBands.map((b) => `[${b.join(', ')}]`).join('  '));
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
 * (MAE / mean outcome per tracked horizon); \`logBands\` the 80% interval per tracked horizon, the 10th
 * and 90th percentiles of log(outcome / forecast) over the first ${PRIOR_SAMPLES} samples of a stream.
 */
export const DEFAULT_PRIOR: {
  readonly horizons: readonly number[];
  readonly scores: readonly (readonly number[])[];
  readonly logBands: readonly (readonly [number, number])[];
} = ${JSON.stringify({ horizons, scores, logBands })};
`,
);
console.log(`wrote ${file}`);
