import { CoreErrorCode, type FlowRequest } from '@novacron/core';
import { LastValuePredictor, RateController, WeightedMaxMinAllocator, waterFill } from '@novacron/pba';
import { checkAllocation, rateAllocatorCompliance } from '@novacron/testkit/compliance/rate-allocator';
import { expectNovacronError } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

rateAllocatorCompliance('weighted max-min', { setup: () => ({ allocator: new WeightedMaxMinAllocator() }) });

const flowArb = (i: number) =>
  fc.record(
    {
      id: fc.constant(`f${i}`),
      weight: fc.double({ min: 0.01, max: 100, noNaN: true }),
      priority: fc.integer({ min: -2, max: 2 }),
      minRate: fc.double({ min: 0, max: 500, noNaN: true }),
      maxRate: fc.double({ min: 0.01, max: 1000, noNaN: true }),
      deadline: fc.record({
        remaining: fc.double({ min: 0, max: 1e4, noNaN: true }),
        withinMs: fc.double({ min: -100, max: 1e5, noNaN: true }),
      }),
    },
    { requiredKeys: ['id'] },
  );
const requestArb = fc
  .tuple(
    fc.double({ min: 0, max: 1e4, noNaN: true }),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.integer({ min: 0, max: 15 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => flowArb(i)))),
  )
  .map(([mean, share, flows]) => ({ capacity: { mean, lower: mean * share }, flows: flows as FlowRequest[] }));

describe('weighted max-min allocation properties (fast-check)', () => {
  const allocator = new WeightedMaxMinAllocator();

  it('never over-allocates, honours feasible guarantees and is work-conserving', () => {
    fc.assert(
      fc.property(requestArb, ({ capacity, flows }) => {
        checkAllocation(allocator, capacity, flows);
      }),
      { numRuns: 400 },
    );
  });

  it('is stable: repeated calls and reordered flows give the same rates', () => {
    fc.assert(
      fc.property(requestArb, fc.integer(), ({ capacity, flows }, seed) => {
        const a = allocator.allocate(capacity, flows);
        expect(allocator.allocate(capacity, flows)).toEqual(a);
        const rotated = flows.length
          ? [...flows.slice(seed % flows.length), ...flows.slice(0, seed % flows.length)]
          : [];
        const b = allocator.allocate(capacity, rotated);
        const byId = new Map(b.flows.map((f) => [f.id, f.rate]));
        for (const f of a.flows) expect(byId.get(f.id)).toBeCloseTo(f.rate, 6);
      }),
      { numRuns: 200 },
    );
  });

  it('a flow that gets less than its demand gets at least the weighted share of any same-class flow without a guarantee', () => {
    fc.assert(
      fc.property(requestArb, ({ capacity, flows }) => {
        const a = allocator.allocate(capacity, flows);
        for (let i = 0; i < flows.length; i++) {
          const fi = flows[i]!;
          const ri = a.flows[i]!.rate;
          if (ri >= (fi.maxRate ?? Number.POSITIVE_INFINITY) - 1e-6) continue;
          for (let j = 0; j < flows.length; j++) {
            const fj = flows[j]!;
            if ((fj.priority ?? 0) !== (fi.priority ?? 0) || a.flows[j]!.guaranteed > 0) continue;
            // Max-min: an unsatisfied flow's normalised rate is the class's highest.
            expect(ri / (fi.weight ?? 1)).toBeGreaterThanOrEqual(a.flows[j]!.rate / (fj.weight ?? 1) - 1e-6);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('waterFill', () => {
  it('fills by weight between floors and caps', () => {
    expect(
      waterFill(
        [
          { weight: 1, floor: 0, cap: Number.POSITIVE_INFINITY },
          { weight: 1, floor: 8, cap: Number.POSITIVE_INFINITY },
          { weight: 2, floor: 0, cap: 3 },
        ],
        11,
      ),
    ).toEqual([8, 8, 3]);
    expect(waterFill([{ weight: 1, floor: 1, cap: 2 }], 5)).toEqual([2]);
    expect(waterFill([{ weight: 1, floor: 1, cap: 2 }], 0)).toEqual([1]);
  });
});

describe('RateController', () => {
  it('reallocates when samples arrive and flows join, change or leave', () => {
    const controller = new RateController({ predictor: new LastValuePredictor() });
    const seen: number[] = [];
    const off = controller.onAllocation((a) => seen.push(a.total));
    controller.upsertFlow({ id: 'a' });
    expect(controller.rateOf('a')).toBe(0);
    controller.observe({ value: 100 });
    expect(controller.rateOf('a')).toBe(100);
    controller.upsertFlow({ id: 'b', weight: 3 });
    expect(controller.rateOf('a')).toBeCloseTo(25, 9);
    expect(controller.rateOf('b')).toBeCloseTo(75, 9);
    controller.observe({ value: 40 });
    expect(controller.rateOf('b')).toBeCloseTo(30, 9);
    controller.removeFlow('b');
    expect(controller.rateOf('a')).toBe(40);
    off();
    controller.observe({ value: 10 });
    expect(seen).toEqual([0, 100, 100, 40, 40]);
    expectNovacronError(() => controller.removeFlow('zzz'), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => controller.upsertFlow({ id: 'bad', weight: -1 }), CoreErrorCode.INVALID_ARGUMENT);
    expect(controller.current().flows.map((f) => f.id)).toEqual(['a']);
  });

  it('backs guarantees with the lower end of the forecast interval only', () => {
    const p = new LastValuePredictor();
    const controller = new RateController({ predictor: p });
    for (const v of [100, 60, 140, 80, 120, 100, 70, 130, 90, 110, 100, 95]) controller.observe({ value: v });
    const lower = p.forecast(1).lower;
    expect(lower).toBeLessThan(100);
    const a = controller.upsertFlow({ id: 'g', minRate: 1000 });
    expect(a.guaranteedTotal).toBeCloseTo(lower, 9);
    expect(a.flows[0]!.guaranteeMet).toBe(false);
  });
});
