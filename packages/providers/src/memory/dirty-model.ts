import { type PageGeometry, type Rng, assertNumber } from '@novacron/core';

/** How a simulated guest writes its memory. */
export interface DirtyModelConfig {
  /** Bytes written per second of running time (page-granular: each write dirties one page). */
  readonly dirtyBytesPerSecond: number;
  /** Size of the region the guest writes, from the start of memory (default: all of it). */
  readonly workingSetBytes?: number | undefined;
}

/**
 * A seeded guest write pattern: while running, the guest dirties pages at
 * `min(rate, limit)` bytes per second, each write landing on a uniformly
 * drawn page of the working set. The model is lazy: it does nothing until
 * asked to `advance` to a clock time, then replays the writes of the
 * elapsed interval, so it costs no timers and the outcome depends only on
 * the seed and the times of the calls.
 */
export class DirtyModel {
  /** Dirty-rate throttle in bytes per second (`undefined`: none). */
  limit: number | undefined;
  /** Whether the guest is running (only a running guest writes). */
  running = false;
  readonly #rate: number;
  readonly #workingSetPages: number;
  readonly #pageSize: number;
  readonly #rng: Rng;
  #last: number;
  #carry = 0;
  #counter = 0;

  constructor(config: DirtyModelConfig, geometry: PageGeometry, rng: Rng, now: number) {
    assertNumber('dirtyBytesPerSecond', config.dirtyBytesPerSecond, { min: 0 });
    const ws = config.workingSetBytes ?? geometry.pageSize * geometry.pageCount;
    assertNumber('workingSetBytes', ws, { min: 0 });
    this.#rate = config.dirtyBytesPerSecond;
    this.#pageSize = geometry.pageSize;
    this.#workingSetPages = Math.max(1, Math.min(geometry.pageCount, Math.ceil(ws / geometry.pageSize)));
    this.#rng = rng;
    this.#last = now;
  }

  /** The rate in effect (bytes per second). */
  get effectiveRate(): number {
    return this.limit === undefined ? this.#rate : Math.min(this.#rate, this.limit);
  }

  /** Replays the writes between the previous call and `now`, calling `write(page, counter, word)` for each. */
  advance(now: number, write: (page: number, counter: number, word: number) => void): void {
    const elapsed = Math.max(0, now - this.#last);
    this.#last = Math.max(this.#last, now);
    if (!this.running || elapsed === 0) return;
    const pages = this.#carry + (elapsed / 1000) * (this.effectiveRate / this.#pageSize);
    let whole = Math.floor(pages);
    this.#carry = pages - whole;
    // Past a few passes over the working set every page is dirty anyway; bound the work.
    whole = Math.min(whole, this.#workingSetPages * 4);
    for (let i = 0; i < whole; i++) {
      const page = this.#rng.int(0, this.#workingSetPages - 1);
      write(page, ++this.#counter, this.#rng.nextUint32());
    }
  }
}
