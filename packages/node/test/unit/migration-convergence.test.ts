import { describe, expect, it } from 'vitest';
import { ConvergenceController } from '../../src/migration/convergence.js';
import { MigrationRates } from '../../src/migration/migration-rates.js';

const cfg = {
  downtimeBudgetMs: 300,
  maxRounds: 10,
  autoConverge: true,
  throttleSteps: [0.5, 0.1],
  postCopy: true,
  switchoverCostMs: 10,
};
const MB = 1e6;

describe('convergence control', () => {
  it('switches over once the remaining dirty bytes fit the budget at the measured rate', () => {
    const c = new ConvergenceController(cfg);
    const d = c.decide({
      round: 2,
      dirtyBytes: 20 * MB,
      transferBytesPerSecond: 100 * MB,
      dirtyBytesPerSecond: 5 * MB,
    });
    expect(d.action).toBe('switchover');
    expect(d.predictedDowntimeMs).toBeCloseTo(210);
  });

  it('keeps copying while rounds shrink', () => {
    const c = new ConvergenceController(cfg);
    expect(
      c.decide({ round: 1, dirtyBytes: 200 * MB, transferBytesPerSecond: 100 * MB, dirtyBytesPerSecond: 50 * MB })
        .action,
    ).toBe('continue');
  });

  it('throttles step by step when the guest outpaces the link, then falls back to post-copy', () => {
    const c = new ConvergenceController(cfg);
    const o = { round: 2, dirtyBytes: 200 * MB, transferBytesPerSecond: 100 * MB, dirtyBytesPerSecond: 150 * MB };
    const a = c.decide(o);
    expect(a).toMatchObject({ action: 'throttle', throttleBytesPerSecond: 50 * MB });
    expect(c.decide({ ...o, round: 3 })).toMatchObject({ action: 'throttle', throttleBytesPerSecond: 10 * MB });
    expect(c.decide({ ...o, round: 4 }).action).toBe('postcopy');
  });

  it('without post-copy, gives up by switching over beyond the budget; the round limit ends pre-copy', () => {
    const c = new ConvergenceController({ ...cfg, postCopy: false, autoConverge: false });
    expect(
      c.decide({ round: 2, dirtyBytes: 200 * MB, transferBytesPerSecond: 100 * MB, dirtyBytesPerSecond: 150 * MB })
        .action,
    ).toBe('switchover');
    const d = new ConvergenceController(cfg);
    expect(
      d.decide({ round: 10, dirtyBytes: 200 * MB, transferBytesPerSecond: 100 * MB, dirtyBytesPerSecond: 1 * MB })
        .action,
    ).toBe('postcopy');
    expect(d.predictDowntimeMs(1, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('migration rates (pba allocation shared by concurrent migrations)', () => {
  it('splits the budget by weight and reallocates when a migration ends', () => {
    const r = new MigrationRates({ bytesPerSecond: 90 * MB });
    r.add('a', 2);
    r.add('b', 1);
    expect(r.rate('a')).toBeCloseTo(60 * MB);
    expect(r.rate('b')).toBeCloseTo(30 * MB);
    r.remove('a');
    expect(r.rate('b')).toBeCloseTo(90 * MB);
    expect(new MigrationRates({ bytesPerSecond: 0 }).rate('x')).toBeUndefined();
  });
});
