/**
 * Lifeguard's dynamic suspicion timeout (memberlist `suspicion.go`): a
 * suspicion starts at `max` and shrinks towards `min` as independent
 * members confirm it, logarithmically in the number of confirmations:
 *
 * ```text
 * timeout = max(min, max - (max - min) * log(c + 1) / log(k + 1))
 * ```
 *
 * where `c` is the confirmations so far and `k` the confirmations expected.
 */
export class Suspicion {
  /** When the suspicion started (local time, ms). */
  readonly start: number;
  readonly #k: number;
  readonly #min: number;
  readonly #max: number;
  readonly #seen = new Set<string>();
  #confirmations = 0;

  /**
   * @param from the member whose accusation started the suspicion (does not count as a confirmation)
   * @param k confirmations expected; 0 makes the timeout `min` at once
   */
  constructor(from: string, k: number, min: number, max: number, start: number) {
    this.start = start;
    this.#k = k;
    this.#min = min;
    this.#max = max;
    this.#seen.add(from);
  }

  /** Independent confirmations so far. */
  get confirmations(): number {
    return this.#confirmations;
  }

  /** The current total timeout, measured from {@link Suspicion.start}. */
  get timeout(): number {
    return remainingSuspicionTimeout(this.#confirmations, this.#k, this.#min, this.#max);
  }

  /** When the suspicion expires (local time, ms). */
  get deadline(): number {
    return this.start + this.timeout;
  }

  /**
   * Records an accusation by `from`. True when it was a new, independent
   * confirmation (worth re-broadcasting); false for a repeat or once `k`
   * confirmations are in.
   */
  confirm(from: string): boolean {
    if (this.#confirmations >= this.#k || this.#seen.has(from)) return false;
    this.#seen.add(from);
    this.#confirmations++;
    return true;
  }
}

/** memberlist `remainingSuspicionTime` without the elapsed part: the total timeout after `c` of `k` confirmations. */
export function remainingSuspicionTimeout(c: number, k: number, min: number, max: number): number {
  if (k <= 0) return min;
  const frac = Math.log(c + 1) / Math.log(k + 1);
  const raw = max - frac * (max - min);
  return Math.max(min, Math.floor(raw));
}

/** memberlist `suspicionTimeout`: the shortest suspicion, `mult * max(1, log10(n)) * interval`. */
export function minSuspicionTimeout(mult: number, n: number, probeIntervalMs: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(mult * scale * probeIntervalMs);
}

/** memberlist `retransmitLimit`: `mult * ceil(log10(n + 1))`. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** memberlist `pushPullScale`: the interval grows with `log2(n)` past 32 members so the cluster-wide rate stays bounded. */
export function pushPullScale(intervalMs: number, n: number): number {
  if (n <= 32) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(32)) + 1;
  return intervalMs * multiplier;
}
