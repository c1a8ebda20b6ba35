import { type Clock, assertInteger, assertNumber } from '@novacron/core';

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 3). */
  readonly failureThreshold?: number;
  /** How long an open circuit refuses calls before letting one trial through, in ms (default 5000). */
  readonly resetAfterMs?: number;
}

/** `closed`: calls go through; `open`: refused; `half-open`: one trial call is in flight or allowed. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * The classic circuit breaker (Nygard, "Release It!"): after
 * `failureThreshold` consecutive failures it opens and refuses calls for
 * `resetAfterMs`, so a dead service costs nothing; then it lets one trial
 * call through, closing on success and reopening on failure. Time comes
 * from the injected clock.
 */
export class CircuitBreaker {
  private readonly clock: Clock;
  private readonly threshold: number;
  private readonly resetAfterMs: number;
  private failures = 0;
  private openedAt = 0;
  private mode: CircuitState = 'closed';
  private trialInFlight = false;

  constructor(clock: Clock, options: CircuitBreakerOptions = {}) {
    this.clock = clock;
    this.threshold = options.failureThreshold ?? 3;
    this.resetAfterMs = options.resetAfterMs ?? 5000;
    assertInteger('options.failureThreshold', this.threshold, { min: 1 });
    assertNumber('options.resetAfterMs', this.resetAfterMs, { min: 0 });
  }

  /** The current state (an open circuit past its reset time reports `half-open`). */
  get state(): CircuitState {
    if (this.mode === 'open' && this.clock.now() - this.openedAt >= this.resetAfterMs) return 'half-open';
    return this.mode;
  }

  /** Whether a call may go out now; in half-open, only one trial at a time. */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.trialInFlight) return false;
    this.mode = 'half-open';
    this.trialInFlight = true;
    return true;
  }

  /** Records a successful call. */
  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
    this.mode = 'closed';
  }

  /** Records a failed call. */
  failure(): void {
    this.trialInFlight = false;
    this.failures++;
    if (this.mode === 'half-open' || this.failures >= this.threshold) {
      this.mode = 'open';
      this.openedAt = this.clock.now();
    }
  }
}
