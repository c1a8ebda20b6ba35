/**
 * Chooses between variants of the default predictor without touching the
 * held-out files: the TRAINING files of each set are split again by
 * {@link isValidation} (second byte of SHA-256 of the name); the prior is
 * fitted on the rest and every variant is scored on the validation part.
 * (The LSTM member's weights were trained on all training files, so its
 * validation figures are optimistic; the variants compared here differ
 * only in the ensemble around it.)
 *
 * Run: `npx tsx bench/src/pba-validate.ts` (about a minute).
 */
import type { Predictor } from '@novacron/core';
import {
  DEFAULT_PRIOR_WEIGHT,
  DEFAULT_SHARPNESS,
  EnsemblePredictor,
  type ErrorTrackerOptions,
  defaultMembers,
  evaluatePredictor,
  loadTraceSets,
} from '@novacron/pba';
import { fitPrior, isValidation } from './pba-prior.js';
import { tracesRoot } from './traces-root.js';

const sets = loadTraceSets(tracesRoot()).map((s) => ({
  name: s.name,
  fit: s.train.filter((t) => !isValidation(t.name)),
  validation: s.train.filter((t) => isValidation(t.name)),
}));
const prior = fitPrior(sets.flatMap((s) => s.fit));
console.log('prior fitted on', sets.map((s) => `${s.name} ${s.fit.length}`).join(', '));
console.log('  symmetric half-widths', prior.logHalfWidths.join(' '));
console.log('  asymmetric bands     ', prior.logBands.map((b) => `[${b.join(', ')}]`).join(' '));

const ensemble = (tracking: ErrorTrackerOptions) => () =>
  new EnsemblePredictor({
    tracking,
    members: defaultMembers(),
    sharpness: [...DEFAULT_SHARPNESS],
    prior: { scores: prior.scores, weight: DEFAULT_PRIOR_WEIGHT },
  });
const variants: { name: string; make: () => Predictor }[] = [
  { name: 'symmetric prior band', make: ensemble({ priorLogHalfWidths: prior.logHalfWidths }) },
  { name: 'asymmetric prior band', make: ensemble({ priorLogBands: prior.logBands }) },
];

const HORIZONS = [1, 5, 30];
for (const s of sets) {
  console.log(`\n${s.name}: ${s.validation.length} validation files (${s.fit.length} fitting)`);
  console.log(
    `  ${'variant'.padEnd(24)} ${HORIZONS.map((h) => `rMAE h=${h}`.padStart(10)).join('')}${HORIZONS.map((h) => `cover h=${h}`.padStart(12)).join('')}`,
  );
  for (const v of variants) {
    const m = evaluatePredictor(v.make(), s.validation, { horizons: HORIZONS });
    console.log(
      `  ${v.name.padEnd(24)} ${m.map((x) => x.rmae.toFixed(3).padStart(10)).join('')}${m.map((x) => x.coverage.toFixed(3).padStart(12)).join('')}`,
    );
  }
}
