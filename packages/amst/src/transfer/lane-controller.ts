import type { LinkMode } from '@novacron/core';

/** Lane limits per link mode: where amst starts and how far it may go. */
export interface LanePreset {
  /** Lanes to start with. */
  readonly initial: number;
  /** Fewest lanes. */
  readonly min: number;
  /** Most lanes. */
  readonly max: number;
}

/**
 * Mode presets. Datacenter: one socket nearly fills loopback and a LAN, so
 * few lanes. Internet: loss-limited TCP windows make parallel lanes pay, up
 * to 64. Hybrid: in between.
 */
export const LANE_PRESETS: Readonly<Record<LinkMode, LanePreset>> = {
  datacenter: { initial: 1, min: 1, max: 4 },
  hybrid: { initial: 2, min: 1, max: 16 },
  internet: { initial: 2, min: 1, max: 64 },
};

/** One control interval's measurements. */
export interface ControlSample {
  /** Bytes acknowledged during the interval, per second. */
  readonly goodputBps: number;
  /** Latest RTT of the path itself, without amst's own buffering (ms). */
  readonly rttMs: number;
  /** Lowest path RTT seen in the transfer so far (ms). */
  readonly minRttMs: number;
  /** Lanes that died or chunks retransmitted during the interval, as a fraction of chunks sent. */
  readonly lossRate: number;
}

/** Options for {@link LaneController}. */
export interface LaneControllerOptions {
  /** Lane limits (see {@link LANE_PRESETS}). */
  readonly preset: LanePreset;
  /**
   * Path RTT above `minRtt × rttInflation` counts as a queue building up (default 2).
   */
  readonly rttInflation?: number;
  /** Relative goodput gain that justifies more lanes (default 0.1). */
  readonly minGain?: number;
  /** Polite: hold the preset's minimum lane count (a single flow's share against competing traffic). */
  readonly polite?: boolean;
}

/**
 * Hill-climbs the lane count on measured goodput. It probes with twice as
 * many lanes, waits one interval for them to ramp up, then compares the
 * next: a step that raised goodput by `minGain` is kept and followed by
 * another doubling, or by a fourfold step when goodput grew nearly in
 * proportion to the lanes (a loss-limited path, where each lane adds about
 * one TCP flow's share: getting to 64 lanes quickly is most of the gain);
 * a step that did not is undone and the count holds for a few intervals
 * before probing again. Starting low and probing up (rather than starting
 * high and probing down) keeps a path that one lane fills at one or two
 * lanes: on such paths goodput samples are too noisy for a downward probe to
 * tell a real loss from chance. RTT inflation or
 * loss above 5% with no goodput gain steps down. Decisions are pure
 * functions of the samples, so they replay exactly in the simulator.
 */
export class LaneController {
  private lanes: number;
  private readonly preset: LanePreset;
  private readonly rttInflation: number;
  private readonly minGain: number;
  private readonly polite: boolean;
  private baseline: { lanes: number; goodput: number } | undefined;
  private hold = 0;
  /** Samples still to skip after a change, while new lanes ramp up. */
  private settle = 0;
  /** Goodput seen at each lane count (best of recent samples). */
  private readonly seen = new Map<number, number>();

  constructor(options: LaneControllerOptions) {
    this.polite = options.polite ?? false;
    // Polite: no more lanes than the preset's minimum (one by default), so against each competing TCP
    // flow amst takes at most a single flow's fair share instead of multiplying it.
    const max = this.polite ? options.preset.min : options.preset.max;
    this.preset = { ...options.preset, max };
    // Polite starts from the fewest lanes and has to earn every extra one.
    const initial = this.polite ? options.preset.min : options.preset.initial;
    this.lanes = Math.min(max, Math.max(options.preset.min, initial));
    this.rttInflation = options.rttInflation ?? 2;
    this.minGain = options.minGain ?? 0.1;
  }

  /** The lane count currently wanted. */
  get target(): number {
    return this.lanes;
  }

  /** Feeds one interval's sample; returns the new target. */
  update(s: ControlSample): number {
    if (this.settle > 0) {
      this.settle--;
      return this.lanes;
    }
    const prev = this.seen.get(this.lanes) ?? 0;
    this.seen.set(this.lanes, Math.max(s.goodputBps, prev * 0.9));
    const inflated = s.minRttMs > 0 && s.rttMs > s.minRttMs * (this.polite ? 1.5 : this.rttInflation);
    const lossy = s.lossRate > 0.05;
    if (this.baseline) {
      const { lanes: before, goodput } = this.baseline;
      this.baseline = undefined;
      const gained = s.goodputBps > goodput * (1 + this.minGain);
      if (this.lanes > before) {
        if (gained && !(this.polite && inflated)) {
          const proportional = s.goodputBps / goodput - 1 >= 0.7 * (this.lanes / before - 1);
          return this.move(this.lanes * (proportional ? 4 : 2), s.goodputBps);
        }
        this.hold = 4;
        // A fourfold step that did not pay may still have overshot a gain: keep the doubling in between.
        this.lanes = this.lanes >= before * 4 ? before * 2 : before;
        return this.lanes;
      }
      if (this.lanes < before) {
        // Fewer lanes lost goodput: go back up unless that cost RTT too.
        if (s.goodputBps < goodput * (1 - this.minGain) && !inflated) this.lanes = before;
        this.hold = 4;
        return this.lanes;
      }
    }
    if (this.hold > 0) {
      this.hold--;
      return this.lanes;
    }
    // A deep buffer inflates RTT while more lanes still raise goodput (the step-up check above keeps
    // those); RTT this far above the floor means a standing queue we are filling for nothing.
    const severe = s.minRttMs > 0 && s.rttMs > s.minRttMs * (this.polite ? 1.5 : 2 * this.rttInflation);
    if ((severe || lossy) && this.lanes > this.preset.min) {
      return this.move(Math.max(this.preset.min, Math.floor(this.lanes * 0.75)), s.goodputBps);
    }
    if (inflated) return this.lanes;
    // Probe with twice the lanes: a multiplicative step makes a real gain stand out of the noise.
    if (this.lanes < this.preset.max) return this.move(this.lanes * 2, s.goodputBps);
    return this.lanes;
  }

  private move(to: number, goodput: number): number {
    const clamped = Math.min(this.preset.max, Math.max(this.preset.min, to));
    if (clamped !== this.lanes) {
      this.baseline = { lanes: this.lanes, goodput };
      // Many new lanes need longer to leave slow start than a few.
      this.settle = clamped >= this.lanes * 4 ? 2 : 1;
    }
    this.lanes = clamped;
    return this.lanes;
  }
}
