/**
 * Forecast capacity of a link for the next allocation period, in a rate
 * unit of the caller's choice (pba uses bits per second).
 */
export interface CapacityForecast {
  /** Expected capacity (finite, >= 0): the budget for best-effort traffic. */
  readonly mean: number;
  /**
   * Lower bound of the forecast interval (0 <= lower <= mean): the budget
   * for guaranteed traffic, so guarantees hold unless the link falls below
   * its forecast interval.
   */
  readonly lower: number;
}

/**
 * One flow asking for a share of the link. Only `id` is required; the rest
 * default to a best-effort flow of weight 1 with unbounded demand.
 */
export interface FlowRequest {
  /** Unique among the flows of one request. */
  readonly id: string;
  /** Share of the flow's priority class under weighted max-min fairness (> 0, default 1). */
  readonly weight?: number;
  /** Strict priority class: higher classes fill before lower ones (integer, default 0). */
  readonly priority?: number;
  /** Guaranteed rate (>= 0, default 0), granted out of the lower-bound forecast. */
  readonly minRate?: number;
  /** The most the flow can use (> 0, default unbounded): its demand. */
  readonly maxRate?: number;
  /**
   * A deadline: `remaining` units of data (same unit as the rate times
   * seconds, e.g. bits) to move within `withinMs` milliseconds. Turns into a
   * guarantee of `remaining / (withinMs / 1000)`; with `withinMs <= 0` the
   * flow is already late and asks for its `maxRate`, at most the whole
   * lower bound.
   */
  readonly deadline?: { readonly remaining: number; readonly withinMs: number };
}

/** What a {@link RateAllocator} decided for one flow. */
export interface FlowAllocation {
  /** The flow's id. */
  readonly id: string;
  /** Allocated rate (>= 0, <= the flow's maxRate). */
  readonly rate: number;
  /** The part of `rate` granted as a guarantee, out of the lower-bound forecast. */
  readonly guaranteed: number;
  /** The guarantee the flow asked for (max of minRate and its deadline rate, capped at maxRate). */
  readonly requestedGuarantee: number;
  /** Whether `guaranteed` covers `requestedGuarantee` in full. */
  readonly guaranteeMet: boolean;
}

/** The result of one allocation: one entry per flow, in request order. */
export interface RateAllocation {
  /** Per-flow decisions, in the order of the request's flows. */
  readonly flows: readonly FlowAllocation[];
  /** Sum of every flow's rate (<= capacity.mean). */
  readonly total: number;
  /** Sum of every flow's guaranteed part (<= capacity.lower). */
  readonly guaranteedTotal: number;
}

/**
 * Divides forecast link capacity among flows. pba implements it (weighted
 * max-min fairness with priorities, guarantees and deadlines); the
 * compliance suite is `@novacron/testkit/compliance/rate-allocator`.
 *
 * Contract, for every valid request:
 * - never over-allocates: `total <= capacity.mean`, `guaranteedTotal <=
 *   capacity.lower`, and no flow gets more than its `maxRate`;
 * - honours feasible guarantees: when the requested guarantees fit in
 *   `capacity.lower`, every one is met;
 * - work-conserving: either `total == capacity.mean` or every flow is at
 *   its `maxRate`;
 * - deterministic: the same request gives the same answer.
 *
 * A malformed request (duplicate ids, `lower > mean`, negative rates, ...)
 * raises `CORE_ALLOCATION_INVALID` or `CORE_INVALID_ARGUMENT`.
 */
export interface RateAllocator {
  /** Allocates `capacity` among `flows`. */
  allocate(capacity: CapacityForecast, flows: readonly FlowRequest[]): RateAllocation;
}
