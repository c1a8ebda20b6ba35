import type { FlowRequest, RateAllocation, RateAllocator } from '@novacron/core';
import { weightedMaxMinAllocator } from '@novacron/pba';

/**
 * The node's migration bandwidth, shared by its concurrent outgoing
 * migrations through pba's allocator (weighted max-min with priorities):
 * each migration is a flow; the allocation is recomputed whenever one
 * starts, ends or changes weight, and each migration's amst transfers pace
 * at their flow's rate. With no configured bandwidth (`0`) transfers run
 * unpaced and the allocator is not consulted.
 */
export class MigrationRates {
  readonly #allocator: RateAllocator;
  readonly #flows = new Map<string, FlowRequest>();
  #capacity: number;
  #allocation: RateAllocation = { flows: [], total: 0, guaranteedTotal: 0 };

  constructor(init: { bytesPerSecond: number; allocator?: RateAllocator }) {
    this.#capacity = init.bytesPerSecond;
    this.#allocator = init.allocator ?? weightedMaxMinAllocator();
  }

  /** The budget in bytes per second (0: unlimited). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Changes the budget (e.g. from a measured link estimate). */
  setCapacity(bytesPerSecond: number): void {
    this.#capacity = bytesPerSecond;
    this.#recompute();
  }

  /** Adds (or updates) a migration's flow. */
  add(id: string, weight = 1, priority = 0): void {
    this.#flows.set(id, { id, weight, priority });
    this.#recompute();
  }

  /** Removes a migration's flow. */
  remove(id: string): void {
    if (this.#flows.delete(id)) this.#recompute();
  }

  /** The pacing rate of a migration in bytes per second (`undefined`: unpaced). */
  rate(id: string): number | undefined {
    if (this.#capacity <= 0) return undefined;
    return this.#allocation.flows.find((f) => f.id === id)?.rate;
  }

  /** The current allocation (what the test compares measured rates with). */
  allocation(): RateAllocation {
    return this.#allocation;
  }

  #recompute(): void {
    if (this.#capacity <= 0 || this.#flows.size === 0) {
      this.#allocation = { flows: [], total: 0, guaranteedTotal: 0 };
      return;
    }
    this.#allocation = this.#allocator.allocate({ mean: this.#capacity, lower: this.#capacity }, [
      ...this.#flows.values(),
    ]);
  }
}
