import {
  type CapacityForecast,
  CoreErrorCode,
  type FlowRequest,
  type RateAllocation,
  type RateAllocator,
  type Rng,
  isNovacronError,
  seededRng,
} from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link rateAllocatorCompliance} tests. */
export interface RateAllocatorFixture {
  /** The implementation under test. */
  readonly allocator: RateAllocator;
}

/** Rounding slack: relative to the capacity, plus an absolute floor. */
const tol = (scale: number) => 1e-9 * Math.max(1, scale);

/** The guarantee the contract says a flow asks for. */
export function requestedGuarantee(f: FlowRequest, lower: number): number {
  const cap = f.maxRate ?? Number.POSITIVE_INFINITY;
  let deadline = 0;
  if (f.deadline && f.deadline.remaining > 0)
    deadline = f.deadline.withinMs > 0 ? f.deadline.remaining / (f.deadline.withinMs / 1000) : Math.min(cap, lower);
  return Math.min(cap, Math.max(f.minRate ?? 0, deadline));
}

/** A random valid request: mixed weights, classes, caps, guarantees and deadlines. */
export function randomAllocationRequest(rng: Rng): { capacity: CapacityForecast; flows: FlowRequest[] } {
  const mean = rng.chance(0.1) ? 0 : rng.next() * 1000;
  const lower = rng.chance(0.1) ? mean : mean * rng.next();
  const n = rng.int(0, 12);
  const flows: FlowRequest[] = [];
  for (let i = 0; i < n; i++) {
    const f: { -readonly [K in keyof FlowRequest]: FlowRequest[K] } = { id: `f${i}` };
    if (rng.chance(0.7)) f.weight = 0.1 + rng.next() * 10;
    if (rng.chance(0.5)) f.priority = rng.int(0, 2);
    if (rng.chance(0.5)) f.maxRate = 1 + rng.next() * 300;
    if (rng.chance(0.4)) f.minRate = rng.next() * 150;
    if (rng.chance(0.2))
      f.deadline = { remaining: rng.next() * 1000, withinMs: rng.chance(0.1) ? 0 : 1 + rng.next() * 20_000 };
    flows.push(f);
  }
  return { capacity: { mean, lower }, flows };
}

/** Asserts every contract property of one allocation; returns it. */
export function checkAllocation(
  allocator: RateAllocator,
  capacity: CapacityForecast,
  flows: readonly FlowRequest[],
): RateAllocation {
  const a = allocator.allocate(capacity, flows);
  const t = tol(capacity.mean);
  expect(a.flows.map((f) => f.id)).toEqual(flows.map((f) => f.id));
  let total = 0;
  let guaranteedTotal = 0;
  let allCapped = true;
  let wanted = 0;
  for (let i = 0; i < flows.length; i++) {
    const req = flows[i]!;
    const got = a.flows[i]!;
    const cap = req.maxRate ?? Number.POSITIVE_INFINITY;
    expect(got.rate).toBeGreaterThanOrEqual(0);
    expect(got.rate).toBeLessThanOrEqual(cap + t);
    expect(got.guaranteed).toBeGreaterThanOrEqual(0);
    expect(got.guaranteed).toBeLessThanOrEqual(got.rate + t);
    const want = requestedGuarantee(req, capacity.lower);
    expect(got.requestedGuarantee).toBeCloseTo(want, 6);
    expect(got.guaranteeMet).toBe(got.guaranteed >= got.requestedGuarantee);
    if (got.rate < cap - t) allCapped = false;
    total += got.rate;
    guaranteedTotal += got.guaranteed;
    wanted += want;
  }
  // Never over-allocates.
  expect(a.total).toBeCloseTo(total, 6);
  expect(a.guaranteedTotal).toBeCloseTo(guaranteedTotal, 6);
  expect(total).toBeLessThanOrEqual(capacity.mean + t);
  expect(guaranteedTotal).toBeLessThanOrEqual(capacity.lower + t);
  // Honours feasible guarantees.
  if (wanted <= capacity.lower)
    for (let i = 0; i < flows.length; i++)
      expect(a.flows[i]!.guaranteed).toBeGreaterThanOrEqual(requestedGuarantee(flows[i]!, capacity.lower) - t);
  // Work-conserving.
  if (!allCapped) expect(total).toBeGreaterThanOrEqual(capacity.mean - t * 10);
  return a;
}

/**
 * The `RateAllocator` contract as a vitest suite: never over-allocating
 * (neither the mean nor, for guarantees, the lower bound, nor any flow's
 * maxRate), honouring guarantees whenever they fit, work conservation,
 * weighted max-min fairness inside a class, strict priority between
 * classes, determinism and independence of flow order, over hundreds of
 * seeded random requests; and typed errors for malformed requests.
 *
 * ```ts
 * import { rateAllocatorCompliance } from '@novacron/testkit/compliance/rate-allocator';
 * rateAllocatorCompliance('wmm', { setup: () => ({ allocator: new WeightedMaxMinAllocator() }) });
 * ```
 */
export function rateAllocatorCompliance(name: string, fixtures: ComplianceFixtures<RateAllocatorFixture>): void {
  describe(`RateAllocator compliance: ${name}`, () => {
    let f: RateAllocatorFixture;
    beforeEach(async () => {
      f = await fixtures.setup();
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    it('holds every property on 500 seeded random requests, the same answer twice and in any flow order', () => {
      const rng = seededRng('rate-allocator-compliance');
      for (let i = 0; i < 500; i++) {
        const { capacity, flows } = randomAllocationRequest(rng);
        const a = checkAllocation(f.allocator, capacity, flows);
        expect(f.allocator.allocate(capacity, flows)).toEqual(a);
        const shuffled = [...flows];
        for (let j = shuffled.length - 1; j > 0; j--) {
          const k = rng.int(0, j);
          [shuffled[j], shuffled[k]] = [shuffled[k]!, shuffled[j]!];
        }
        const b = f.allocator.allocate(capacity, shuffled);
        const rateOf = new Map(b.flows.map((x) => [x.id, x.rate]));
        for (const x of a.flows) expect(rateOf.get(x.id)).toBeCloseTo(x.rate, 6);
      }
    });

    it('is weighted max-min fair inside one class', () => {
      const flows: FlowRequest[] = [
        { id: 'a', weight: 1 },
        { id: 'b', weight: 2 },
        { id: 'c', weight: 1, maxRate: 5 },
        { id: 'd', weight: 4, maxRate: 1000 },
      ];
      const a = checkAllocation(f.allocator, { mean: 105, lower: 50 }, flows);
      const r = Object.fromEntries(a.flows.map((x) => [x.id, x.rate]));
      // c is capped at 5; the other 100 splits 1 : 2 : 4.
      expect(r.c).toBeCloseTo(5, 9);
      expect(r.a).toBeCloseTo(100 / 7, 9);
      expect(r.b).toBeCloseTo(200 / 7, 9);
      expect(r.d).toBeCloseTo(400 / 7, 9);
    });

    it('serves higher priority classes first, beyond their guarantees', () => {
      const a = checkAllocation(f.allocator, { mean: 100, lower: 60 }, [
        { id: 'bulk', priority: 0, minRate: 10 },
        { id: 'urgent', priority: 5, maxRate: 70 },
        { id: 'normal', priority: 1 },
      ]);
      const r = Object.fromEntries(a.flows.map((x) => [x.id, x.rate]));
      expect(r.bulk).toBeCloseTo(10, 9);
      expect(r.urgent).toBeCloseTo(70, 9);
      expect(r.normal).toBeCloseTo(20, 9);
    });

    it('grants guarantees only out of the lower bound, by priority, and meets deadlines that fit', () => {
      const a = checkAllocation(f.allocator, { mean: 100, lower: 30 }, [
        { id: 'vip', priority: 2, minRate: 20 },
        { id: 'deadline', priority: 1, deadline: { remaining: 40, withinMs: 4000 } },
        { id: 'other', priority: 1, minRate: 50 },
      ]);
      const g = Object.fromEntries(a.flows.map((x) => [x.id, x]));
      expect(g.vip!.guaranteed).toBeCloseTo(20, 9);
      expect(g.vip!.guaranteeMet).toBe(true);
      expect(g.deadline!.requestedGuarantee).toBeCloseTo(10, 9);
      expect(a.guaranteedTotal).toBeCloseTo(30, 9);
      expect(g.other!.guaranteeMet).toBe(false);
      expect(a.total).toBeCloseTo(100, 9);
    });

    it('gives nothing when capacity is zero and everything when demand is below it', () => {
      const zero = checkAllocation(f.allocator, { mean: 0, lower: 0 }, [{ id: 'a', minRate: 5 }, { id: 'b' }]);
      expect(zero.total).toBe(0);
      const plenty = checkAllocation(f.allocator, { mean: 1000, lower: 900 }, [
        { id: 'a', maxRate: 10 },
        { id: 'b', maxRate: 20, minRate: 5 },
      ]);
      expect(plenty.flows.map((x) => x.rate)).toEqual([10, 20]);
      expect(checkAllocation(f.allocator, { mean: 10, lower: 5 }, []).total).toBe(0);
    });

    it('rejects malformed requests with typed errors', () => {
      const codes = [CoreErrorCode.ALLOCATION_INVALID, CoreErrorCode.INVALID_ARGUMENT];
      const bad: [unknown, unknown][] = [
        [{ mean: 10, lower: 20 }, []],
        [{ mean: -1, lower: 0 }, []],
        [{ mean: Number.NaN, lower: 0 }, []],
        [null, []],
        [{ mean: 10, lower: 5 }, null],
        [{ mean: 10, lower: 5 }, [{ id: 'a' }, { id: 'a' }]],
        [{ mean: 10, lower: 5 }, [{ id: '' }]],
        [{ mean: 10, lower: 5 }, [{ id: 'a', weight: 0 }]],
        [{ mean: 10, lower: 5 }, [{ id: 'a', weight: -1 }]],
        [{ mean: 10, lower: 5 }, [{ id: 'a', minRate: -1 }]],
        [{ mean: 10, lower: 5 }, [{ id: 'a', maxRate: 0 }]],
        [{ mean: 10, lower: 5 }, [{ id: 'a', priority: 0.5 }]],
        [{ mean: 10, lower: 5 }, [{ id: 'a', deadline: { remaining: -1, withinMs: 10 } }]],
        [{ mean: 10, lower: 5 }, [{ id: 'a', deadline: { remaining: 1, withinMs: Number.NaN } }]],
        [{ mean: 10, lower: 5 }, [7]],
      ];
      for (const [capacity, flows] of bad) {
        let code: string | undefined;
        try {
          f.allocator.allocate(capacity as CapacityForecast, flows as FlowRequest[]);
        } catch (err) {
          code = isNovacronError(err) ? err.code : String(err);
        }
        expect(codes, JSON.stringify({ capacity, flows })).toContain(code);
      }
    });
  });
}
