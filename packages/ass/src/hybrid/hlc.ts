import { type Clock, invalidArgument } from '@novacron/core';

/**
 * A hybrid logical clock stamp: physical milliseconds, a logical counter
 * for events within one millisecond, and the node id breaking ties. Stamps
 * order every write a node makes after everything it has seen, so they
 * extend causality to a total order (Kulkarni et al., "Logical Physical
 * Clocks", 2014).
 */
export type Stamp = readonly [wall: number, counter: number, node: string];

/** Compares two stamps: negative, zero or positive like `Array.prototype.sort`. */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

/** True when `value` has the shape of a {@link Stamp}. */
export function isStamp(value: unknown): value is Stamp {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    Number.isSafeInteger(value[0]) &&
    value[0] >= 0 &&
    Number.isSafeInteger(value[1]) &&
    value[1] >= 0 &&
    typeof value[2] === 'string' &&
    value[2].length <= 1024
  );
}

/**
 * The clock issuing {@link Stamp}s for one node. `physical` defaults to the
 * injected clock's milliseconds; pass wall-clock time (`() => Date.now()`)
 * when nodes run in separate processes so that concurrent writes resolve
 * roughly by real time.
 */
export class HybridLogicalClock {
  readonly #node: string;
  readonly #physical: () => number;
  #wall = 0;
  #counter = 0;

  constructor(node: string, clock: Pick<Clock, 'now'>, physical?: () => number) {
    if (typeof node !== 'string' || node.length === 0) throw invalidArgument('node', 'a node id', node);
    this.#node = node;
    this.#physical = physical ?? (() => clock.now());
  }

  /** A new stamp after every stamp issued or observed so far. */
  now(): Stamp {
    const pt = Math.floor(this.#physical());
    if (pt > this.#wall) {
      this.#wall = pt;
      this.#counter = 0;
    } else {
      this.#counter++;
    }
    return [this.#wall, this.#counter, this.#node];
  }

  /** Moves past a stamp seen from elsewhere, so later stamps order after it. */
  observe(stamp: Stamp): void {
    if (stamp[0] > this.#wall || (stamp[0] === this.#wall && stamp[1] > this.#counter)) {
      this.#wall = stamp[0];
      this.#counter = stamp[1];
    }
  }
}
