// Compares the custom predictor with pba's default on a synthetic bandwidth
// trace (a 100 Mbit/s link with cross-traffic bursts and a capacity drop),
// using pba's own evaluation: same trace, same horizons, same metrics.
import { seededRng } from '@novacron/core';
import { defaultPredictor, evaluatePredictor, type TraceSeries } from '@novacron/pba';
import { SlidingMedianPredictor } from './sliding-median.js';

const rng = seededRng(42);
const n = process.argv.includes('--smoke') ? 600 : 3000;
const values = new Float64Array(n);
for (let i = 0; i < n; i++) {
  const capacity = i < n / 2 ? 100e6 : 60e6;
  const burst = rng.next() < 0.05 ? 0.5 : 1;
  values[i] = Math.max(0, capacity * burst * (0.9 + 0.1 * rng.next()));
}
const trace: TraceSeries = { name: 'synthetic', times: Float64Array.from({ length: n }, (_, i) => i), values };

const rows = [
  ['sliding-median', evaluatePredictor(new SlidingMedianPredictor(), [trace])],
  ['pba default', evaluatePredictor(defaultPredictor(), [trace])],
] as const;
console.log('predictor        horizon  MAE (Mbit/s)  within 20%');
for (const [name, metrics] of rows)
  for (const m of metrics)
    console.log(
      `${name.padEnd(16)} ${String(m.horizon).padStart(7)}  ${(m.mae / 1e6).toFixed(2).padStart(12)}  ${(m.within20 * 100).toFixed(1).padStart(9)}%`,
    );
if (!rows.every(([, ms]) => ms.every((m) => Number.isFinite(m.mae)))) process.exit(1);
