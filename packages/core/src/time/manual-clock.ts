import { assertNumber } from '../validate.js';
import type { Clock, Timer } from './clock.js';
import { sleepOn } from './sleep.js';

interface Entry {
  at: number;
  seq: number;
  callback: () => void;
  interval: number | undefined;
  cancelled: boolean;
}

/**
 * A clock that moves only when told. Timers due at the same instant fire in
 * the order they were scheduled, so runs are reproducible. Used by unit tests
 * of timing logic (no sleeps) and as the time base of testkit's `SimWorld`.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  // Binary min-heap ordered by (at, seq).
  #heap: Entry[] = [];

  /** @param start initial value of `now()` in milliseconds. */
  constructor(start = 0) {
    assertNumber('start', start);
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): Timer {
    // NaN would otherwise become the timer's due time and then now() itself.
    return this.#schedule(callback, Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs), undefined);
  }

  setInterval(callback: () => void, intervalMs: number): Timer {
    assertNumber('intervalMs', intervalMs, { min: Number.MIN_VALUE });
    return this.#schedule(callback, intervalMs, intervalMs);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of timers still scheduled. */
  get pending(): number {
    let n = 0;
    for (const e of this.#heap) if (!e.cancelled) n++;
    return n;
  }

  /** Time of the next pending timer, or `undefined` if none. */
  nextTimerAt(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.at;
  }

  /**
   * Fires the earliest pending timer, moving `now()` to its due time.
   * Returns false when no timer is pending.
   */
  runNext(): boolean {
    this.#dropCancelled();
    const e = this.#pop();
    if (!e) return false;
    this.#now = Math.max(this.#now, e.at);
    if (e.interval !== undefined) {
      e.at += e.interval;
      e.seq = this.#seq++;
      this.#push(e);
    }
    e.callback();
    return true;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way (including
   * timers those callbacks schedule inside the window), then sets `now()` to
   * the end of the window.
   */
  advance(ms: number): void {
    assertNumber('ms', ms, { min: 0 });
    const end = this.#now + ms;
    for (;;) {
      const at = this.nextTimerAt();
      if (at === undefined || at > end) break;
      this.runNext();
    }
    this.#now = end;
  }

  /**
   * Like {@link advance}, but lets pending promise callbacks run after each
   * timer, so `await clock.sleep()` chains progress as they would in real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    assertNumber('ms', ms, { min: 0 });
    const end = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const at = this.nextTimerAt();
      if (at === undefined || at > end) break;
      this.runNext();
      await flushMicrotasks();
    }
    this.#now = end;
  }

  /** Sets `now()` forward to `time` (never backwards), firing due timers. */
  advanceTo(time: number): void {
    assertNumber('time', time, { min: this.#now });
    this.advance(time - this.#now);
  }

  #schedule(callback: () => void, delay: number, interval: number | undefined): Timer {
    const entry: Entry = { at: this.#now + delay, seq: this.#seq++, callback, interval, cancelled: false };
    this.#push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Entry | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Lets already-queued promise reactions run (several turns, for chained awaits). */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
