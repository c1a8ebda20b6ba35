/** A scheduled callback; cancelling an already fired or cancelled timer is a no-op. */
export interface Timer {
  /** Prevents the callback from running (again, for intervals). */
  cancel(): void;
}

/**
 * Time as protocol code sees it. Protocol code never calls `Date.now`,
 * `setTimeout` or `performance.now` directly: it takes a `Clock`, so the
 * simulator can run it deterministically and faster than real time.
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin (may be fractional). Never decreases. */
  now(): number;
  /** Runs `callback` once after `delayMs` (clamped to >= 0). */
  setTimeout(callback: () => void, delayMs: number): Timer;
  /** Runs `callback` every `intervalMs` (> 0) until cancelled. */
  setInterval(callback: () => void, intervalMs: number): Timer;
  /**
   * Resolves after `ms`; rejects with `CORE_ABORTED` if `signal` aborts first
   * (the timer is then cancelled).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
