import { type Clock, assertInteger, systemClock } from '@novacron/core';

/** Options of {@link AuthRateLimiter}. */
export interface AuthRateLimiterOptions {
  /** Failures from one source allowed within `windowMs` before it is locked out (default 10). */
  readonly maxFailures?: number;
  /** The window failures are counted over (default 60 s). */
  readonly windowMs?: number;
  /** First lockout; doubles with each further lockout of the same source, up to `maxLockoutMs` (default 30 s). */
  readonly lockoutMs?: number;
  /** Longest lockout (default 15 min). */
  readonly maxLockoutMs?: number;
  /** Sources tracked at once (default 10,000); the least recently failing are forgotten first. */
  readonly maxSources?: number;
  readonly clock?: Clock;
}

interface SourceState {
  failures: number[];
  lockedUntil: number;
  lockouts: number;
}

/**
 * Slows down credential guessing: counts failed authentications per source
 * (a client address) in a sliding window and locks the source out, for
 * exponentially longer each time, once it fails too often. Successful
 * requests of other sources are never affected; memory is bounded.
 */
export class AuthRateLimiter {
  private readonly sources = new Map<string, SourceState>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockoutMs: number;
  private readonly maxLockoutMs: number;
  private readonly maxSources: number;
  private readonly clock: Clock;

  constructor(options: AuthRateLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.lockoutMs = options.lockoutMs ?? 30_000;
    this.maxLockoutMs = options.maxLockoutMs ?? 15 * 60_000;
    this.maxSources = options.maxSources ?? 10_000;
    assertInteger('options.maxFailures', this.maxFailures, { min: 1 });
    assertInteger('options.windowMs', this.windowMs, { min: 1 });
    assertInteger('options.lockoutMs', this.lockoutMs, { min: 1 });
    assertInteger('options.maxLockoutMs', this.maxLockoutMs, { min: this.lockoutMs });
    assertInteger('options.maxSources', this.maxSources, { min: 1 });
    this.clock = options.clock ?? systemClock();
  }

  /** Milliseconds `source` must still wait, 0 when it may try now. */
  retryAfter(source: string): number {
    const s = this.sources.get(source);
    return s === undefined ? 0 : Math.max(0, s.lockedUntil - this.clock.now());
  }

  /** Records a failed authentication; returns the lockout now in force (0 if none). */
  fail(source: string): number {
    const now = this.clock.now();
    let s = this.sources.get(source);
    if (s === undefined) {
      if (this.sources.size >= this.maxSources) this.sources.delete(this.sources.keys().next().value as string);
      s = { failures: [], lockedUntil: 0, lockouts: 0 };
    } else {
      this.sources.delete(source);
    }
    this.sources.set(source, s);
    s.failures = s.failures.filter((t) => t > now - this.windowMs);
    s.failures.push(now);
    if (s.failures.length >= this.maxFailures) {
      const lock = Math.min(this.maxLockoutMs, this.lockoutMs * 2 ** s.lockouts);
      s.lockouts++;
      s.lockedUntil = now + lock;
      s.failures = [];
    }
    return Math.max(0, s.lockedUntil - now);
  }

  /** A success clears the source's failure count (not an active lockout's escalation history). */
  succeed(source: string): void {
    const s = this.sources.get(source);
    if (s !== undefined) s.failures = [];
  }
}
