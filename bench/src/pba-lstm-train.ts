/**
 * Trains pba's LSTM forecaster offline on the TRAINING files of all three
 * trace sets together (Norway 3G, FCC 2016 cooked_traces, Oboe; never the
 * held-out files), with Adam on a Huber loss in log space, and writes the
 * model as JSON to bench/results/pba-lstm.json and as the module
 * packages/pba/src/lstm/default-lstm-model.ts that `defaultLstmModel`
 * loads. Inputs: the last WINDOW samples relative to their mean; outputs:
 * the log ratio of the sample 1, 5 and 30 steps ahead to that mean.
 *
 * Run: `npx tsx bench/src/pba-lstm-train.ts [epochs]` (8 s to a minute per
 * epoch, depending on the machine's load), then `npx biome check --write`.
 * With `--validation` it trains only on the fitting part of the training
 * files (see pba-prior.ts `isValidation`) and writes nothing but
 * bench/results/pba-lstm-validation.json, which pba-validate.ts uses so
 * that its LSTM has not seen the validation files either.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRng } from '@novacron/core';
import { LstmNetwork, type LstmModel, huberGrad, loadTraceSets, lstmFeatures } from '@novacron/pba';
import { isValidation } from './pba-prior.js';
import { tracesRoot } from './traces-root.js';

const WINDOW = 10;
const HIDDEN = 12;
const HORIZONS = [1, 5, 30];
const args = process.argv.slice(2);
const VALIDATION = args.includes('--validation');
const EPOCHS = Number(args.find((a) => !a.startsWith('--')) ?? 4);
const BATCH = 32;
const LR = 3e-3;

const sets = loadTraceSets(tracesRoot());
const train = sets.flatMap((s) => s.train).filter((t) => !VALIDATION || !isValidation(t.name));
interface Example {
  steps: Float64Array[];
  targets: (number | undefined)[];
}
const examples: Example[] = [];
for (const trace of train) {
  const v = Array.from(trace.values);
  for (let t = 0; t + 1 < v.length; t++) {
    const { steps, level, offset } = lstmFeatures(v.slice(Math.max(0, t + 1 - WINDOW), t + 1));
    const targets = HORIZONS.map((h) =>
      t + h < v.length ? Math.log((v[t + h]! + offset) / (level + offset)) : undefined,
    );
    examples.push({ steps, targets });
  }
}
console.log(`${examples.length} training windows from ${train.length} training files`);

const rng = seededRng('pba-lstm');
const net = new LstmNetwork({ inputs: 1, hidden: HIDDEN, outputs: HORIZONS.length });
net.initialise(rng.fork('init'));
const order = examples.map((_, i) => i);
const grad = new Float64Array(net.params.length);
const dOut = new Float64Array(HORIZONS.length);
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  const shuffle = rng.fork(`epoch-${epoch}`);
  for (let i = order.length - 1; i > 0; i--) {
    const j = shuffle.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const t0 = performance.now();
  let loss = 0;
  let count = 0;
  for (let b = 0; b < order.length; b += BATCH) {
    grad.fill(0);
    const end = Math.min(order.length, b + BATCH);
    for (let i = b; i < end; i++) {
      const ex = examples[order[i]!]!;
      const out = net.forward(ex.steps);
      for (let k = 0; k < HORIZONS.length; k++) {
        const target = ex.targets[k];
        if (target === undefined) {
          dOut[k] = 0;
          continue;
        }
        const d = out[k]! - target;
        loss += Math.abs(d);
        count++;
        dOut[k] = huberGrad(d) / (end - b);
      }
      net.backward(dOut, grad);
    }
    net.adamStep(grad, { learningRate: LR * (epoch === EPOCHS - 1 ? 0.3 : 1) });
  }
  console.log(
    `epoch ${epoch + 1}/${EPOCHS}: mean |log error| ${(loss / count).toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}

const model: LstmModel = {
  format: 'novacron-pba-lstm',
  version: 1,
  window: WINDOW,
  hidden: HIDDEN,
  horizons: HORIZONS,
  params: Array.from(net.params, (p) => Number(p.toPrecision(7))),
};
const here = dirname(fileURLToPath(import.meta.url));
mkdirSync(join(here, '..', 'results'), { recursive: true });
if (VALIDATION) {
  writeFileSync(join(here, '..', 'results', 'pba-lstm-validation.json'), JSON.stringify(model));
  console.log('wrote bench/results/pba-lstm-validation.json');
  process.exit(0);
}
writeFileSync(join(here, '..', 'results', 'pba-lstm.json'), JSON.stringify(model));
writeFileSync(
  join(here, '..', '..', 'packages', 'pba', 'src', 'lstm', 'default-lstm-model.ts'),
  `// Written by bench/src/pba-lstm-train.ts (${EPOCHS} epochs on ${train.length} training files of ${sets.map((s) => s.name).join(', ')}); do not edit.
import type { LstmModel } from './lstm-predictor.js';

/** pba's LSTM trained offline on the training traces (window ${WINDOW}, ${HIDDEN} hidden units, horizons ${HORIZONS.join(', ')}). */
export const DEFAULT_LSTM_MODEL: LstmModel = ${JSON.stringify(model)};
`,
);
console.log('wrote bench/results/pba-lstm.json and packages/pba/src/lstm/default-lstm-model.ts');
