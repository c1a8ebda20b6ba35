/**
 * Chooses between variants of the default predictor without touching the
 * held-out files: the TRAINING files of each set are split again by
 * {@link isValidation} (second byte of SHA-256 of the name); the prior is
 * fitted on the rest and every variant is scored on the validation part.
 * The LSTM member is the one `pba-lstm-train.ts --validation` trained on
 * the fitting files only (results/pba-lstm-validation.json); without that
 * file the script stops rather than score an LSTM on files it was trained on.
 *
 * Run: `npx tsx bench/src/pba-lstm-train.ts 15 --validation` once, then
 * `npx tsx bench/src/pba-validate.ts` (about 20 s).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Predictor } from '@novacron/core';
import {
  DEFAULT_PRIOR_WEIGHT,
  DEFAULT_SHARPNESS,
  EnsemblePredictor,
  type ErrorTrackerOptions,
  LstmPredictor,
  checkLstmModel,
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
const lstmFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'pba-lstm-validation.json');
if (!existsSync(lstmFile)) {
  console.error(`${lstmFile} missing: run npx tsx bench/src/pba-lstm-train.ts 15 --validation first`);
  process.exit(2);
}
const lstmModel = checkLstmModel(JSON.parse(readFileSync(lstmFile, 'utf8')));
/** The default's members with the LSTM trained on the fitting files only. */
const members = (tracking: ErrorTrackerOptions = { horizonMemory: true }, lstm = true) => [
  ...defaultMembers({ lstm: false, tracking }),
  ...(lstm ? [new LstmPredictor({ tracking: { horizonMemory: true, ...tracking }, model: lstmModel })] : []),
];
const prior = fitPrior(
  sets.flatMap((s) => s.fit),
  () => members(),
);
console.log('prior fitted on', sets.map((s) => `${s.name} ${s.fit.length}`).join(', '));
console.log('  symmetric half-widths', prior.logHalfWidths.join(' '));
console.log('  asymmetric bands     ', prior.logBands.map((b) => `[${b.join(', ')}]`).join(' '));

const ensemble =
  (
    tracking: ErrorTrackerOptions,
    sharpness: readonly number[] = DEFAULT_SHARPNESS,
    weight = DEFAULT_PRIOR_WEIGHT,
    lstm = true,
  ) =>
  () => {
    const ms = members(tracking, lstm);
    return new EnsemblePredictor({
      tracking,
      members: ms,
      sharpness: [...sharpness],
      prior: { scores: prior.scores.slice(0, ms.length), weight },
    });
  };
// The default's configuration (defaultMembers adds horizonMemory unless told otherwise), then the
// alternatives it was chosen over.
const chosen = { priorLogBands: prior.logBands, horizonMemory: true };
const variants: { name: string; make: () => Predictor }[] = [
  { name: 'default configuration', make: ensemble(chosen) },
  {
    name: 'symmetric prior band',
    make: ensemble({ ...chosen, priorLogHalfWidths: prior.logHalfWidths, priorLogBands: undefined }),
  },
  { name: 'plain memory (0.97 at all h)', make: ensemble({ ...chosen, horizonMemory: false }) },
  { name: 'long memory (0.999 at all h)', make: ensemble({ ...chosen, horizonMemory: false, decay: 0.999 }) },
  { name: 'sharpness 16,16,16,8,4', make: ensemble(chosen, [16, 16, 16, 8, 4]) },
  { name: 'sharpness 32', make: ensemble(chosen, [32, 32, 32, 32, 32]) },
  { name: 'sharpness 16 everywhere', make: ensemble(chosen, [16, 16, 16, 16, 16]) },
  { name: 'prior weight 100', make: ensemble(chosen, DEFAULT_SHARPNESS, 100) },
  { name: 'without the lstm', make: ensemble(chosen, DEFAULT_SHARPNESS, DEFAULT_PRIOR_WEIGHT, false) },
  ...members().map((m, i) => ({ name: `member ${i}: ${m.kind}`, make: () => members()[i]! })),
];

const HORIZONS = [1, 5, 30];
const results: Record<string, unknown>[] = [];
for (const s of sets) {
  console.log(`\n${s.name}: ${s.validation.length} validation files (${s.fit.length} fitting)`);
  console.log(
    `  ${'variant'.padEnd(30)} ${HORIZONS.map((h) => `rMAE h=${h}`.padStart(10)).join('')}${HORIZONS.map((h) => `cover h=${h}`.padStart(12)).join('')}`,
  );
  for (const v of variants) {
    const m = evaluatePredictor(v.make(), s.validation, { horizons: HORIZONS });
    results.push({ set: s.name, variant: v.name, metrics: m });
    console.log(
      `  ${v.name.padEnd(30)} ${m.map((x) => x.rmae.toFixed(3).padStart(10)).join('')}${m.map((x) => x.coverage.toFixed(3).padStart(12)).join('')}`,
    );
  }
}
const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'pba-validate.json'),
  JSON.stringify({ split: 'training files; validation = second byte of SHA-256(name) < 77', prior, results }, null, 2),
);
