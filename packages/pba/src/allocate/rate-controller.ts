import {
  type CapacityForecast,
  CoreErrorCode,
  type FlowRequest,
  NovacronError,
  type Predictor,
  type PredictorSample,
  type RateAllocation,
  type RateAllocator,
  assertInteger,
  assertNumber,
} from '@novacron/core';
import { WeightedMaxMinAllocator } from './weighted-max-min.js';

/** Options of {@link RateController}. */
export interface RateControllerOptions {
  /** Forecasts the link's capacity from its samples (e.g. `defaultPredictor()`). */
  readonly predictor: Predictor;
  /** Divides the forecast (default {@link WeightedMaxMinAllocator}). */
  readonly allocator?: RateAllocator;
  /** Forecast horizon in samples the rates are meant to hold for (default 1). */
  readonly horizon?: number;
  /** Interval level whose lower end backs guarantees (default 0.8). */
  readonly level?: number;
}

/** Called with every new allocation. */
export type AllocationListener = (allocation: RateAllocation) => void;

/**
 * Keeps a link's flows at their fair rates: it owns the set of flows and
 * the link's predictor, and reallocates whenever a capacity sample arrives
 * or a flow joins, changes or leaves, telling listeners. Before the first
 * sample the capacity is unknown and every flow gets 0.
 */
export class RateController {
  private readonly predictor: Predictor;
  private readonly allocator: RateAllocator;
  private readonly horizon: number;
  private readonly level: number;
  private readonly flows = new Map<string, FlowRequest>();
  private readonly listeners = new Set<AllocationListener>();
  private last: RateAllocation = { flows: [], total: 0, guaranteedTotal: 0 };

  constructor(options: RateControllerOptions) {
    this.predictor = options.predictor;
    this.allocator = options.allocator ?? new WeightedMaxMinAllocator();
    this.horizon = options.horizon ?? 1;
    this.level = options.level ?? 0.8;
    assertInteger('options.horizon', this.horizon, { min: 1 });
    assertNumber('options.level', this.level, { min: Number.MIN_VALUE, max: 1 - Number.EPSILON });
  }

  /** The capacity the next allocation uses, or zero before any sample. */
  capacity(): CapacityForecast {
    if (this.predictor.observations === 0) return { mean: 0, lower: 0 };
    const f = this.predictor.forecast(this.horizon, this.level);
    return { mean: f.mean, lower: f.lower };
  }

  /** Feeds a capacity sample to the predictor and reallocates. */
  observe(sample: PredictorSample): RateAllocation {
    this.predictor.observe(sample);
    return this.reallocate();
  }

  /** Adds a flow, or replaces the flow with the same id, and reallocates. */
  upsertFlow(flow: FlowRequest): RateAllocation {
    const previous = this.flows.get(flow.id);
    this.flows.set(flow.id, flow);
    try {
      return this.reallocate();
    } catch (err) {
      if (previous) this.flows.set(flow.id, previous);
      else this.flows.delete(flow.id);
      throw err;
    }
  }

  /** Removes a flow (`CORE_INVALID_ARGUMENT` when unknown) and reallocates. */
  removeFlow(id: string): RateAllocation {
    if (!this.flows.delete(id))
      throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `no flow ${JSON.stringify(id)}`, {
        details: { argument: 'id', expected: 'a known flow id', received: 'string' },
      });
    return this.reallocate();
  }

  /** The latest allocation. */
  current(): RateAllocation {
    return this.last;
  }

  /** The rate of one flow in the latest allocation, or undefined. */
  rateOf(id: string): number | undefined {
    return this.last.flows.find((f) => f.id === id)?.rate;
  }

  /** Subscribes to allocations; returns the unsubscribe function. */
  onAllocation(listener: AllocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private reallocate(): RateAllocation {
    this.last = this.allocator.allocate(this.capacity(), [...this.flows.values()]);
    for (const l of this.listeners) l(this.last);
    return this.last;
  }
}
