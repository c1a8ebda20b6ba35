import { CoreErrorCode } from '@novacron/core';
import {
  EnsemblePredictor,
  EwmaPredictor,
  HarmonicMeanPredictor,
  HoltPredictor,
  LastValuePredictor,
  RobustMpcPredictor,
  defaultPredictor,
} from '@novacron/pba';
import { expectNovacronError } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

const feed = (p: { observe(s: { value: number }): void }, values: readonly number[]) => {
  for (const value of values) p.observe({ value });
};
const ramp = (n: number, a = 10, b = 0.5) => Array.from({ length: n }, (_, i) => a + b * i);

describe('synthetic series with known answers', () => {
  it('constant: every predictor forecasts the constant with a zero-width interval once errors are known', () => {
    for (const p of [
      new LastValuePredictor(),
      new EwmaPredictor(),
      new HarmonicMeanPredictor(),
      new RobustMpcPredictor(),
      new HoltPredictor(),
      defaultPredictor({ lstm: false }),
    ]) {
      feed(p, new Array(100).fill(3));
      for (const h of [1, 5, 30]) {
        const f = p.forecast(h);
        expect(f.mean, p.kind).toBeCloseTo(3, 12);
        expect(f.lower, p.kind).toBeCloseTo(3, 9);
        expect(f.upper, p.kind).toBeCloseTo(3, 9);
      }
    }
  });

  it('constant: the default with its LSTM stays close (the learned model carries a small bias)', () => {
    const p = defaultPredictor();
    feed(p, new Array(300).fill(3));
    for (const h of [1, 5, 30]) expect(Math.abs(p.forecast(h).mean - 3)).toBeLessThan(0.1);
  });

  it('ramp: Holt extrapolates it exactly, last value lags by h steps, EWMA by a known amount', () => {
    const holt = new HoltPredictor();
    const lv = new LastValuePredictor();
    const ewma = new EwmaPredictor({ alpha: 0.5 });
    const values = ramp(200);
    for (const p of [holt, lv, ewma]) feed(p, values);
    const last = values.at(-1)!;
    for (const h of [1, 5, 30]) {
      expect(holt.forecast(h).mean).toBeCloseTo(last + 0.5 * h, 9);
      expect(lv.forecast(h).mean).toBe(last);
      // EWMA of a ramp of slope b settles at b(1 − α)/α below the latest value.
      expect(ewma.forecast(h).mean).toBeCloseTo(last - 0.5, 9);
    }
  });

  it('damped Holt on a ramp adds the damped sum of the trend', () => {
    const p = new HoltPredictor({ damping: 0.5 });
    feed(p, [10, 12]);
    // level 12, trend 2: 12 + (0.5 + 0.25 + 0.125) · 2
    expect(p.forecast(3).mean).toBeCloseTo(12 + 0.875 * 2, 12);
  });

  it('step: last value follows at once; EWMA closes (1 − α)^n of the gap; harmonic mean after k samples', () => {
    const values = [...new Array(50).fill(10), ...new Array(4).fill(20)];
    const lv = new LastValuePredictor();
    const ewma = new EwmaPredictor({ alpha: 0.25 });
    const hm = new HarmonicMeanPredictor({ k: 5 });
    for (const p of [lv, ewma, hm]) feed(p, values);
    expect(lv.forecast(1).mean).toBe(20);
    expect(ewma.forecast(1).mean).toBeCloseTo(20 - 10 * 0.75 ** 4, 12);
    expect(hm.forecast(1).mean).toBeCloseTo(5 / (1 / 10 + 4 / 20), 12);
    hm.observe({ value: 20 });
    expect(hm.forecast(1).mean).toBeCloseTo(20, 12);
  });

  it('periodic: the harmonic mean of a two-step cycle is 2ab/(a+b); RobustMPC discounts it by its worst error', () => {
    const values = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 2 : 6));
    const hm = new HarmonicMeanPredictor({ k: 2 });
    const rmpc = new RobustMpcPredictor({ k: 2 });
    feed(hm, values);
    feed(rmpc, values);
    expect(hm.forecast(1).mean).toBeCloseTo(3, 12);
    // Its one-step forecasts are 3 against outcomes 2 and 6: errors 0.5 and 0.5.
    expect(rmpc.forecast(1).mean).toBeCloseTo(3 / 1.5, 12);
  });

  it('periodic: the ensemble learns that last value is wrong at h = 1 and right at h = 2 on a 2-cycle', () => {
    const e = new EnsemblePredictor({
      members: [new LastValuePredictor(), new EwmaPredictor({ alpha: 0.5 })],
      sharpness: 8,
    });
    feed(
      e,
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 2 : 6)),
    );
    // Last value is exact two steps ahead, so it takes (almost) all the weight there.
    expect(e.weights(2)[0]).toBeGreaterThan(0.99);
    expect(e.forecast(2).mean).toBeCloseTo(6, 3);
    // One step ahead the EWMA (settled at 10/3 and 14/3) errs by 8/3, last value by 4:
    // weights ∝ (best / own)^8 = 1 and (2/3)^8.
    const r = (2 / 3) ** 8;
    expect(e.weights(1)[1]).toBeCloseTo(1 / (1 + r), 4);
    expect(e.weights(1)[0]).toBeCloseTo(r / (1 + r), 4);
  });

  it('the interval of a noisy series covers about its nominal share of outcomes', () => {
    const p = new EwmaPredictor({ alpha: 0.3 });
    let state = 1;
    const next = () => {
      state = (state * 48271) % 2147483647;
      return state / 2147483647;
    };
    let covered = 0;
    let total = 0;
    let pending: { lower: number; upper: number } | undefined;
    for (let i = 0; i < 3000; i++) {
      const y = 10 * (0.5 + next());
      if (pending && i > 200) {
        total++;
        if (pending.lower <= y && y <= pending.upper) covered++;
      }
      p.observe({ value: y });
      pending = p.forecast(1, 0.8);
    }
    expect(covered / total).toBeGreaterThan(0.72);
    expect(covered / total).toBeLessThan(0.88);
  });
});

describe('options and errors', () => {
  it('rejects invalid options with CORE_INVALID_ARGUMENT', () => {
    expectNovacronError(() => new EwmaPredictor({ alpha: 0 }), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => new HarmonicMeanPredictor({ k: 0 }), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => new HoltPredictor({ beta: 2 }), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => new EnsemblePredictor({ members: [] }), CoreErrorCode.INVALID_ARGUMENT);
    const used = new LastValuePredictor();
    used.observe({ value: 1 });
    expectNovacronError(() => new EnsemblePredictor({ members: [used] }), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(
      () => new EnsemblePredictor({ members: [new LastValuePredictor({ tracking: { horizons: [1, 3] } })] }),
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expectNovacronError(
      () => new EnsemblePredictor({ members: [new LastValuePredictor()], sharpness: [1, 2] }),
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expectNovacronError(
      () => new LastValuePredictor({ tracking: { priorLogHalfWidths: [0.1, 0.2, 0.3, 0.4, -1] } }),
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expectNovacronError(
      () => new LastValuePredictor({ tracking: { priorLogHalfWidths: [0.1] } }),
      CoreErrorCode.INVALID_ARGUMENT,
    );
    for (const bad of [[[0.1, -0.1]], [[0.1, 0.1]], [[0, Number.NaN]], 'x'])
      expectNovacronError(
        () =>
          new LastValuePredictor({
            tracking: {
              horizons: bad.length === 1 ? [1] : [1, 2],
              priorLogBands: bad as unknown as [number, number][],
            },
          }),
        CoreErrorCode.INVALID_ARGUMENT,
      );
  });

  it('EWMA with warmup is the running mean until 1/n falls below α, then a plain EWMA', () => {
    const p = new EwmaPredictor({ alpha: 0.25, warmup: true });
    feed(p, [2, 4, 6]);
    expect(p.forecast(1).mean).toBeCloseTo(4, 12);
    feed(p, [8]);
    expect(p.forecast(1).mean).toBeCloseTo(5, 12);
    feed(p, [10]);
    // n = 5: 1/5 < α, so α weighs the newest sample.
    expect(p.forecast(1).mean).toBeCloseTo(0.25 * 10 + 0.75 * 5, 12);
    const plain = new EwmaPredictor({ alpha: 0.25 });
    feed(plain, [2, 4]);
    expect(plain.forecast(1).mean).toBeCloseTo(2.5, 12);
  });

  it('a fitted prior band sets the interval per horizon before errors are known, stretched between horizons', () => {
    const p = new LastValuePredictor({ tracking: { priorLogHalfWidths: [0.1, 0.2, 0.3, 0.4, 0.5], growth: 0.5 } });
    p.observe({ value: 100 });
    // Offset share 0.05 of the level (100) is added to mean and bounds in ratio space.
    const at = (h: number, w: number) => {
      const f = p.forecast(h, 0.8);
      expect(f.upper).toBeCloseTo(105 * Math.exp(w) - 5, 9);
      expect(f.lower).toBeCloseTo(105 * Math.exp(-w) - 5, 9);
    };
    at(1, 0.1);
    at(5, 0.3);
    at(30, 0.5);
    at(60, 0.5 * Math.sqrt(2));
  });

  it('an asymmetric prior band keeps its centre and scales its spread with the level and the horizon', () => {
    const p = new LastValuePredictor({
      tracking: {
        horizons: [1, 10],
        priorLogBands: [
          [-0.2, 0.4],
          [-0.5, 0.7],
        ],
        growth: 0.5,
      },
    });
    p.observe({ value: 100 });
    const check = (h: number, level: number, lo: number, hi: number) => {
      const f = p.forecast(h, level);
      expect(f.lower).toBeCloseTo(105 * Math.exp(lo) - 5, 6);
      expect(f.upper).toBeCloseTo(105 * Math.exp(hi) - 5, 6);
    };
    check(1, 0.8, -0.2, 0.4);
    check(10, 0.8, -0.5, 0.7);
    // 95%: centre 0.1, half-width 0.3 × z(0.975) / z(0.9).
    const z = 1.959963984540054 / 1.2815515655446004;
    check(1, 0.95, 0.1 - 0.3 * z, 0.1 + 0.3 * z);
    // Beyond the longest tracked horizon both centre and spread stretch by (h / 10)^growth.
    check(40, 0.8, -0.5 * 2, 0.7 * 2);
  });

  it('horizonMemory discounts horizon h by decay^(1/h), so long horizons remember more errors', () => {
    const tracking = { horizons: [1, 4], decay: 0.5 };
    const scaled = new LastValuePredictor({ tracking: { ...tracking, horizonMemory: true } });
    const plain = new LastValuePredictor({ tracking });
    feed(scaled, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    feed(plain, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const weight = (d: number, n: number) => (1 - d ** n) / (1 - d);
    // 9 outcomes at horizon 1, 6 at horizon 4.
    expect(plain.tracker.errorCount(0)).toBeCloseTo(weight(0.5, 9), 12);
    expect(scaled.tracker.errorCount(0)).toBeCloseTo(weight(0.5, 9), 12);
    expect(plain.tracker.errorCount(1)).toBeCloseTo(weight(0.5, 6), 12);
    expect(scaled.tracker.errorCount(1)).toBeCloseTo(weight(0.5 ** 0.25, 6), 12);
    // Every error of last value on a ramp is h, so the score is h whatever the memory.
    expect(scaled.tracker.score(1)).toBeCloseTo(4, 12);
    expectNovacronError(() => new LastValuePredictor({ tracking: { decay: 1.5 } }), CoreErrorCode.INVALID_ARGUMENT);
  });

  it('restoring a state of another kind fails with CORE_PREDICTOR_STATE_INVALID', () => {
    const a = new EwmaPredictor();
    a.observe({ value: 1 });
    expectNovacronError(() => new HoltPredictor().restore(a.state()), CoreErrorCode.PREDICTOR_STATE_INVALID);
  });
});
