/** Settings of {@link ConvergenceController} (the `migration` config block). */
export interface ConvergenceConfig {
  /** Longest the VM may be paused at switchover, in ms. */
  readonly downtimeBudgetMs: number;
  /** Pre-copy rounds before giving up on convergence. */
  readonly maxRounds: number;
  /** Throttle the guest's dirty rate when rounds stop shrinking. */
  readonly autoConverge: boolean;
  /** Successive dirty-rate caps, as fractions of the measured transfer rate (e.g. 0.5, 0.25, 0.1). */
  readonly throttleSteps: readonly number[];
  /** Switch over early and pull the rest on demand when pre-copy cannot converge. */
  readonly postCopy: boolean;
  /** Fixed cost of a switchover (pause, final stream set-up, ownership commit), in ms. */
  readonly switchoverCostMs: number;
}

/** What one pre-copy round measured. */
export interface RoundObservation {
  /** Rounds done so far (1 after the first). */
  readonly round: number;
  /** Bytes dirtied since the last round started (what the next round must send). */
  readonly dirtyBytes: number;
  /** Raw bytes per second the last round moved. */
  readonly transferBytesPerSecond: number;
  /** Bytes per second the guest dirtied during the last round. */
  readonly dirtyBytesPerSecond: number;
}

/** What to do next, and why. */
export interface ConvergenceDecision {
  readonly action: 'continue' | 'throttle' | 'switchover' | 'postcopy';
  /** Downtime a switchover now would cost, in ms. */
  readonly predictedDowntimeMs: number;
  /** For `throttle`: the new dirty-rate cap in bytes per second. */
  readonly throttleBytesPerSecond?: number;
  /** One line for the log. */
  readonly reason: string;
}

/**
 * Decides, after each pre-copy round, whether to go on, throttle the
 * guest, switch over, or switch to post-copy. The downtime of a switchover
 * now is predicted as the remaining dirty bytes over the measured transfer
 * rate plus a fixed switchover cost; within budget, switch over. Otherwise
 * keep copying while rounds shrink (the guest dirties slower than we send);
 * when they do not, cap the guest's dirty rate step by step (auto-converge,
 * as QEMU throttles vCPUs), and once the steps are spent or the round limit
 * is hit, switch to post-copy (or, with post-copy off, switch over anyway
 * and exceed the budget rather than copy forever). Pure: no clock, no I/O.
 */
export class ConvergenceController {
  readonly #c: ConvergenceConfig;
  #step = 0;

  constructor(config: ConvergenceConfig) {
    this.#c = config;
  }

  /** Throttle steps applied so far. */
  get throttleStep(): number {
    return this.#step;
  }

  /** Predicted pause for `dirtyBytes` at `bytesPerSecond`, in ms. */
  predictDowntimeMs(dirtyBytes: number, bytesPerSecond: number): number {
    if (dirtyBytes === 0) return this.#c.switchoverCostMs;
    if (!(bytesPerSecond > 0)) return Number.POSITIVE_INFINITY;
    return this.#c.switchoverCostMs + (dirtyBytes / bytesPerSecond) * 1000;
  }

  decide(o: RoundObservation): ConvergenceDecision {
    const predictedDowntimeMs = this.predictDowntimeMs(o.dirtyBytes, o.transferBytesPerSecond);
    const budget = this.#c.downtimeBudgetMs;
    const ms = Math.round(predictedDowntimeMs);
    if (predictedDowntimeMs <= budget)
      return { action: 'switchover', predictedDowntimeMs, reason: `predicted downtime ${ms} ms within ${budget} ms` };
    const giveUp = (why: string): ConvergenceDecision =>
      this.#c.postCopy
        ? { action: 'postcopy', predictedDowntimeMs, reason: `${why}: post-copy` }
        : { action: 'switchover', predictedDowntimeMs, reason: `${why}: switching over beyond the budget` };
    if (o.round >= this.#c.maxRounds) return giveUp(`${o.round} rounds, predicted downtime ${ms} ms`);
    // Rounds shrink when the guest dirties clearly slower than we copy.
    const converging = o.dirtyBytesPerSecond < 0.8 * o.transferBytesPerSecond;
    if (converging)
      return { action: 'continue', predictedDowntimeMs, reason: `converging (predicted downtime ${ms} ms)` };
    if (this.#c.autoConverge && this.#step < this.#c.throttleSteps.length) {
      const cap = Math.max(0, Math.floor(this.#c.throttleSteps[this.#step]! * o.transferBytesPerSecond));
      this.#step++;
      return {
        action: 'throttle',
        predictedDowntimeMs,
        throttleBytesPerSecond: cap,
        reason: `not converging (dirty ${fmt(o.dirtyBytesPerSecond)}/s vs copy ${fmt(o.transferBytesPerSecond)}/s): auto-converge step ${this.#step}, cap ${fmt(cap)}/s`,
      };
    }
    return giveUp(`not converging after ${this.#step} throttle steps`);
  }
}

function fmt(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}
