import {
  type CapacityForecast,
  CoreErrorCode,
  type FlowAllocation,
  type FlowRequest,
  NovacronError,
  type RateAllocation,
  type RateAllocator,
  assertInteger,
  assertNumber,
  assertObject,
  assertString,
} from '@novacron/core';
import { waterFill } from './water-fill.js';

/** Most flows one request may carry: keeps a hostile request from costing unbounded time. */
export const MAX_FLOWS = 100_000;

interface Normalised {
  readonly index: number;
  readonly id: string;
  readonly weight: number;
  readonly priority: number;
  readonly cap: number;
  readonly requested: number;
}

/**
 * Weighted max-min fair allocation with strict priorities, guarantees and
 * deadlines. Two passes:
 *
 * 1. Guarantees, out of `capacity.lower`: each flow asks for
 *    `min(maxRate, max(minRate, remaining / time left))`. Priority classes
 *    are served from the highest; the class that no longer fits shares
 *    what is left by weighted max-min (each capped at its own request), and
 *    lower classes get no guarantee.
 * 2. The rest of `capacity.mean`, by class from the highest: weighted
 *    max-min water-filling above each flow's guarantee up to its
 *    `maxRate`; what a class cannot use passes to the next.
 *
 * The result is work-conserving, never exceeds either budget, and depends
 * only on the request (not on the order of flows).
 */
export class WeightedMaxMinAllocator implements RateAllocator {
  allocate(capacity: CapacityForecast, flows: readonly FlowRequest[]): RateAllocation {
    assertObject('capacity', capacity);
    assertNumber('capacity.mean', capacity.mean, { min: 0 });
    assertNumber('capacity.lower', capacity.lower, { min: 0 });
    if (capacity.lower > capacity.mean)
      throw new NovacronError(CoreErrorCode.ALLOCATION_INVALID, 'capacity.lower is above capacity.mean', {
        details: { mean: capacity.mean, lower: capacity.lower },
      });
    if (!Array.isArray(flows) || flows.length > MAX_FLOWS)
      throw new NovacronError(CoreErrorCode.ALLOCATION_INVALID, `flows must be an array of at most ${MAX_FLOWS}`, {
        details: { max: MAX_FLOWS },
      });
    const norm = flows.map((f, i) => normalise(f, i, capacity.lower));
    const seen = new Set<string>();
    for (const f of norm) {
      if (seen.has(f.id))
        throw new NovacronError(CoreErrorCode.ALLOCATION_INVALID, `duplicate flow id ${JSON.stringify(f.id)}`, {
          details: { id: f.id },
        });
      seen.add(f.id);
    }
    const classes = [...new Set(norm.map((f) => f.priority))].sort((a, b) => b - a);
    const byClass = new Map<number, Normalised[]>(classes.map((p) => [p, norm.filter((f) => f.priority === p)]));

    const guaranteed = new Array<number>(norm.length).fill(0);
    let budget = capacity.lower;
    for (const p of classes) {
      const members = byClass.get(p)!;
      const want = members.reduce((s, f) => s + f.requested, 0);
      if (want <= budget) {
        for (const f of members) guaranteed[f.index] = f.requested;
        budget -= want;
        continue;
      }
      const granted = waterFill(
        members.map((f) => ({ weight: f.weight, floor: 0, cap: f.requested })),
        budget,
      );
      members.forEach((f, i) => {
        guaranteed[f.index] = granted[i]!;
      });
      break;
    }

    const rates = [...guaranteed];
    let spare = Math.max(0, capacity.mean - guaranteed.reduce((s, g) => s + g, 0));
    for (const p of classes) {
      if (!(spare > 0)) break;
      const members = byClass.get(p)!;
      const filled = waterFill(
        members.map((f) => ({ weight: f.weight, floor: guaranteed[f.index]!, cap: f.cap })),
        spare,
      );
      let used = 0;
      members.forEach((f, i) => {
        used += filled[i]! - guaranteed[f.index]!;
        rates[f.index] = filled[i]!;
      });
      spare = Math.max(0, spare - used);
    }

    const out: FlowAllocation[] = norm.map((f) => ({
      id: f.id,
      rate: rates[f.index]!,
      guaranteed: guaranteed[f.index]!,
      requestedGuarantee: f.requested,
      guaranteeMet: guaranteed[f.index]! >= f.requested,
    }));
    return {
      flows: out,
      total: rates.reduce((s, r) => s + r, 0),
      guaranteedTotal: guaranteed.reduce((s, g) => s + g, 0),
    };
  }
}

function normalise(f: FlowRequest, index: number, lower: number): Normalised {
  const at = `flows[${index}]`;
  assertObject(at, f);
  assertString(`${at}.id`, f.id, { nonEmpty: true, maxLength: 1024 });
  const weight = f.weight ?? 1;
  assertNumber(`${at}.weight`, weight, { min: Number.MIN_VALUE });
  const priority = f.priority ?? 0;
  assertInteger(`${at}.priority`, priority);
  const minRate = f.minRate ?? 0;
  assertNumber(`${at}.minRate`, minRate, { min: 0 });
  const cap = f.maxRate ?? Number.POSITIVE_INFINITY;
  if (!(cap > 0) || Number.isNaN(cap))
    throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `${at}.maxRate: expected a number > 0`, {
      details: { argument: `${at}.maxRate` },
    });
  let deadlineRate = 0;
  if (f.deadline !== undefined) {
    assertObject(`${at}.deadline`, f.deadline);
    assertNumber(`${at}.deadline.remaining`, f.deadline.remaining, { min: 0 });
    assertNumber(`${at}.deadline.withinMs`, f.deadline.withinMs);
    const { remaining, withinMs } = f.deadline;
    // A late flow with data left asks for all it can use (at most the whole guaranteed budget).
    deadlineRate = remaining === 0 ? 0 : withinMs > 0 ? remaining / (withinMs / 1000) : Math.min(cap, lower);
  }
  return { index, id: f.id, weight, priority, cap, requested: Math.min(cap, Math.max(minRate, deadlineRate)) };
}

/** A {@link WeightedMaxMinAllocator}. */
export function weightedMaxMinAllocator(): RateAllocator {
  return new WeightedMaxMinAllocator();
}
