import type { Clock } from '@novacron/core';

/**
 * A token bucket pacing bytes at a rate that may change at any time. Tokens
 * accrue at `rate` bytes/s up to `burstBytes`; `take(n)` waits on the
 * injected clock until `n` tokens are there (a request larger than the
 * burst drains the bucket into debt, so big chunks are not starved).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    /** Bytes per second; `Infinity` disables pacing. */
    public rate: number,
    private readonly burstBytes: number,
  ) {
    this.tokens = burstBytes;
    this.last = clock.now();
  }

  /** Waits until `n` bytes may be sent, then takes them. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (!Number.isFinite(this.rate)) return;
      this.refill();
      if (this.tokens > 0) {
        this.tokens -= n;
        return;
      }
      const waitMs = Math.max(1, (-this.tokens / Math.max(this.rate, 1)) * 1000);
      await this.clock.sleep(Math.min(waitMs, 100), signal);
    }
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}
