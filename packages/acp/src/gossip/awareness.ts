/**
 * Lifeguard's local health multiplier (memberlist `awareness`): a score in
 * `[0, max - 1]` that rises when this member shows signs of being the slow
 * one (missed nacks, having to refute a suspicion about itself) and falls
 * with each successful probe. Probe intervals and timeouts are scaled by
 * `score + 1`, so a struggling member probes less often and waits longer
 * before accusing anyone.
 */
export class LocalHealth {
  readonly #max: number;
  #score = 0;

  /** @param max the `awarenessMaxMultiplier`; 1 pins the score at 0. */
  constructor(max: number) {
    this.#max = max;
  }

  /** The current score (0 is healthy). */
  get score(): number {
    return this.#score;
  }

  /** Adds `delta` (may be negative), clamped to `[0, max - 1]`. */
  apply(delta: number): void {
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + delta));
  }

  /** `ms * (score + 1)`. */
  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
