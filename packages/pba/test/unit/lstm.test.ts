import { CoreErrorCode, seededRng } from '@novacron/core';
import { LstmNetwork, type LstmModel, LstmPredictor, checkLstmModel, huberGrad, lstmFeatures } from '@novacron/pba';
import { predictorCompliance } from '@novacron/testkit/compliance/predictor';
import { expectNovacronError } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

function randomModel(seed: string, window = 6, hidden = 5, horizons = [1, 5, 30]): LstmModel {
  const net = new LstmNetwork({ inputs: 1, hidden, outputs: horizons.length });
  net.initialise(seededRng(seed));
  return { format: 'novacron-pba-lstm', version: 1, window, hidden, horizons, params: Array.from(net.params) };
}

describe('LstmNetwork', () => {
  it('backward matches numerical gradients of every parameter', () => {
    const net = new LstmNetwork({ inputs: 2, hidden: 3, outputs: 2 });
    net.initialise(seededRng('grad-check'));
    const rng = seededRng('grad-input');
    const steps = Array.from({ length: 4 }, () => Float64Array.of(rng.next() - 0.5, rng.next() - 0.5));
    const w = Float64Array.of(0.7, -1.3);
    const loss = () => {
      const out = net.forward(steps);
      return w[0]! * out[0]! + w[1]! * out[1]!;
    };
    loss();
    const grad = new Float64Array(net.params.length);
    net.backward(w, grad);
    const eps = 1e-6;
    for (let i = 0; i < net.params.length; i++) {
      const keep = net.params[i]!;
      net.params[i] = keep + eps;
      const up = loss();
      net.params[i] = keep - eps;
      const down = loss();
      net.params[i] = keep;
      expect(grad[i]).toBeCloseTo((up - down) / (2 * eps), 6);
    }
  });

  it('Adam fits a small sequence task', () => {
    // Output the mean of the sequence: learnable by a tiny LSTM.
    const net = new LstmNetwork({ inputs: 1, hidden: 4, outputs: 1 });
    const rng = seededRng('adam');
    net.initialise(rng);
    const data = Array.from({ length: 64 }, () => {
      const xs = Array.from({ length: 5 }, () => rng.next() * 2 - 1);
      return { steps: xs.map((x) => Float64Array.of(x)), y: xs.reduce((a, b) => a + b, 0) / xs.length };
    });
    const mse = () => data.reduce((s, d) => s + (net.forward(d.steps)[0]! - d.y) ** 2, 0) / data.length;
    const before = mse();
    const grad = new Float64Array(net.params.length);
    for (let epoch = 0; epoch < 150; epoch++) {
      grad.fill(0);
      for (const d of data) {
        const out = net.forward(d.steps);
        net.backward(Float64Array.of((2 * (out[0]! - d.y)) / data.length), grad);
      }
      net.adamStep(grad, { learningRate: 0.02 });
    }
    expect(mse()).toBeLessThan(before / 10);
  });

  it('rejects parameter arrays of the wrong size', () => {
    expectNovacronError(
      () => new LstmNetwork({ inputs: 1, hidden: 2, outputs: 1 }, new Float64Array(3)),
      CoreErrorCode.INVALID_ARGUMENT,
    );
  });
});

describe('LstmPredictor', () => {
  it('validates models', () => {
    const good = randomModel('m');
    expect(checkLstmModel(good)).toBe(good);
    for (const bad of [
      null,
      {},
      { ...good, version: 2 },
      { ...good, params: good.params.slice(1) },
      { ...good, horizons: [5, 1, 30] },
    ])
      expectNovacronError(() => new LstmPredictor({ model: bad as LstmModel }), CoreErrorCode.INVALID_ARGUMENT);
  });

  it('features are log ratios to the window mean, so scaling the series scales the forecast', () => {
    const f = lstmFeatures([1, 2, 3]);
    expect(f.level).toBe(2);
    expect(f.steps[1]![0]).toBeCloseTo(0, 12);
    const a = new LstmPredictor({ model: randomModel('scale') });
    const b = new LstmPredictor({ model: randomModel('scale') });
    for (const v of [3, 5, 2, 8, 4, 4, 6]) {
      a.observe({ value: v });
      b.observe({ value: v * 1000 });
    }
    for (const h of [1, 3, 5, 17, 30, 60]) expect(b.forecast(h).mean).toBeCloseTo(a.forecast(h).mean * 1000, 6);
  });

  it('online learning moves the forecast towards what the stream does', () => {
    const fixed = new LstmPredictor({ model: randomModel('online') });
    const online = new LstmPredictor({ model: randomModel('online'), onlineLearningRate: 0.01 });
    // A level that alternates 1, 9: the future is predictable from the window.
    const values = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 1 : 9));
    let errFixed = 0;
    let errOnline = 0;
    for (let i = 0; i < values.length - 1; i++) {
      fixed.observe({ value: values[i]! });
      online.observe({ value: values[i]! });
      if (i > 300) {
        errFixed += Math.abs(fixed.forecast(1).mean - values[i + 1]!);
        errOnline += Math.abs(online.forecast(1).mean - values[i + 1]!);
      }
    }
    expect(errOnline).toBeLessThan(errFixed / 2);
    expect(huberGrad(5)).toBe(1);
  });
});

predictorCompliance('lstm', {
  setup: () => ({
    predictor: new LstmPredictor({ model: randomModel('compliance') }),
    create: () => new LstmPredictor({ model: randomModel('compliance') }),
  }),
});

predictorCompliance('lstm with online learning', {
  setup: () => {
    const make = () => new LstmPredictor({ model: randomModel('compliance-online'), onlineLearningRate: 0.005 });
    return { predictor: make(), create: make };
  },
});
