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
import { DEFAULT_TRACKED_HORIZONS, defaultMembers, evaluatePredictor, loadTraceSets } from '@novacron/pba';
import { tracesRoot } from './traces-root.js';

const sets = loadTraceSets(tracesRoot());
const train = sets.flatMap((s) => s.train);
const horizons = [...DEFAULT_TRACKED_HORIZONS];
const scores = defaultMembers().map((m, i) => {
  const metrics = evaluatePredictor(defaultMembers()[i]!, train, { horizons });
  console.log(m.kind.padEnd(14), metrics.map((x) => (x.mae / x.meanOutcome).toFixed(4)).join('  '));
  return metrics.map((x) => Number((x.mae / x.meanOutcome).toFixed(5)));
});
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
/** Prior member errors of the default ensemble (MAE / mean outcome per tracked horizon), fitted on training traces only. */
export const DEFAULT_PRIOR: { readonly horizons: readonly number[]; readonly scores: readonly (readonly number[])[] } = ${JSON.stringify({ horizons, scores })};
`,
);
console.log(`wrote ${file}`);
