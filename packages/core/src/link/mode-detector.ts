import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import {
  assertInteger,
  assertNumber,
  assertObject,
  assertOneOf,
  describeReceived,
  invalidArgument,
} from '../validate.js';
import { LINK_MODES, type LinkMode, type LinkSample } from './link.js';

/**
 * The four numbers that separate the link modes. A measurement exactly on a
 * threshold falls on the side stated here. See docs/modes.md.
 */
export interface ModeThresholds {
  /** `datacenter` needs RTT strictly below this, in milliseconds (default 10). */
  readonly datacenterRttMs: number;
  /**
   * `datacenter` needs bandwidth, when known, at or above this, in bits per
   * second (default 0.9e9, so a 1 GbE link's ~0.94 Gbit/s goodput counts).
   */
  readonly datacenterBandwidthBps: number;
  /** `internet` when RTT is strictly above this, in milliseconds (default 50). */
  readonly internetRttMs: number;
  /** `internet` when bandwidth, when known, is strictly below this, in bits per second (default 100e6). */
  readonly internetBandwidthBps: number;
}

/** The thresholds DESIGN.md gives for the three link modes. */
export const DEFAULT_MODE_THRESHOLDS: ModeThresholds = Object.freeze({
  datacenterRttMs: 10,
  datacenterBandwidthBps: 0.9e9,
  internetRttMs: 50,
  internetBandwidthBps: 100e6,
});

/** Options for {@link ModeDetector}; every field is optional. */
export interface ModeDetectorOptions {
  /** Replaces some or all of {@link DEFAULT_MODE_THRESHOLDS}. */
  readonly thresholds?: Partial<ModeThresholds>;
  /**
   * Relative hysteresis margin in [0, 1) (default 0.15). Moving to a slower
   * mode needs a measurement this fraction past the threshold (RTT past
   * `threshold × (1 + margin)`, bandwidth below `threshold × (1 − margin)`);
   * moving to a faster mode needs only the threshold itself.
   */
  readonly margin?: number;
  /**
   * Number of samples whose medians are taken (odd, 1 to 255; default 5).
   * 1 disables smoothing.
   */
  readonly window?: number;
  /** Consecutive samples that must point the same way before a change fires (>= 1, default 3). */
  readonly confirmSamples?: number;
  /**
   * Minimum span of sample time, in milliseconds, between the first and the
   * latest sample of a confirming run before a change fires (>= 0, default 0).
   */
  readonly minDwellMs?: number;
  /** Mode reported before the first sample and without an override (default `hybrid`, which adapts either way). */
  readonly defaultMode?: LinkMode;
}

/** The measurement a {@link MeasurementReason} names. */
export type LinkMetric = 'rttMs' | 'bandwidthBps';

/** Why the measured mode moved: the measurement that decided it. */
export interface MeasurementReason {
  readonly kind: 'measurement';
  /** Which measurement decided the move. */
  readonly metric: LinkMetric;
  /** Its smoothed (window median) value at the sample that fired. */
  readonly value: number;
  /** The nominal threshold from {@link ModeThresholds}. */
  readonly threshold: number;
  /** The value the measurement actually had to pass: the threshold moved by the margin when moving to a slower mode. */
  readonly trigger: number;
  /**
   * The side of `threshold` the rule required: `above` for RTT rising or
   * bandwidth reaching a faster mode's floor, `below` for RTT falling or
   * bandwidth dropping.
   */
  readonly direction: 'above' | 'below';
  /** Length of the confirming run (1 for the first sample, which sets the mode at once). */
  readonly samples: number;
  /** True when this is the first sample's classification rather than a confirmed move. */
  readonly initial: boolean;
}

/** Why the effective mode moved: an override was set or cleared. */
export interface OverrideReason {
  readonly kind: 'override';
  /** The override now in force, or `undefined` when it was cleared. */
  readonly override: LinkMode | undefined;
}

/** Reason carried by a {@link ModeChange}. */
export type ModeChangeReason = MeasurementReason | OverrideReason;

/** One change of a {@link ModeDetector}'s effective mode. */
export interface ModeChange {
  /** Effective mode before the change. */
  readonly from: LinkMode;
  /** Effective mode after the change. */
  readonly to: LinkMode;
  /**
   * `at` of the sample that caused it; for override changes, `at` of the
   * latest accepted sample (`undefined` before any).
   */
  readonly at: number | undefined;
  /** What caused it. */
  readonly reason: ModeChangeReason;
}

/** Receives {@link ModeChange} events. */
export type ModeChangeListener = (change: ModeChange) => void;

/** Details of a `CORE_LINK_SAMPLE_INVALID` error. */
export interface LinkSampleInvalidDetails {
  readonly [key: string]: unknown;
  /** The offending field (`rttMs`, `bandwidthBps`, `at`, ...), or `sample` for the whole value. */
  readonly field: string;
  /** What was expected, in words. */
  readonly expected: string;
  /** What was received, described (`number NaN`, `undefined`, ...). */
  readonly received: string;
}

/** Smoothed view of the window that the classification runs on. */
interface Smoothed {
  readonly rttMs: number;
  readonly bandwidthBps: number | undefined;
}

/** One condition of a mode rule, evaluated on smoothed values. */
interface Clause {
  readonly metric: LinkMetric;
  readonly value: number;
  readonly threshold: number;
  readonly trigger: number;
  readonly direction: 'above' | 'below';
  readonly holds: boolean;
}

const RANK: Readonly<Record<LinkMode, number>> = { datacenter: 0, hybrid: 1, internet: 2 };
const MAX_WINDOW = 255;

/**
 * Classifies one set of measurements with the nominal thresholds (no
 * hysteresis): `datacenter` when RTT < `datacenterRttMs` and bandwidth, if
 * known, >= `datacenterBandwidthBps`; `internet` when RTT > `internetRttMs`
 * or bandwidth, if known, < `internetBandwidthBps`; otherwise `hybrid`.
 * Inputs are not validated: pass measurements a {@link ModeDetector} would accept.
 */
export function classifyLinkMode(
  rttMs: number,
  bandwidthBps?: number,
  thresholds: ModeThresholds = DEFAULT_MODE_THRESHOLDS,
): LinkMode {
  const m = { rttMs, bandwidthBps };
  if (all(datacenterEnter(m, thresholds))) return 'datacenter';
  if (any(internetEnter(m, thresholds, 0))) return 'internet';
  return 'hybrid';
}

/**
 * Classifies a path from live {@link LinkSample}s into a {@link LinkMode},
 * with hysteresis, and honours a manual override.
 *
 * When a change fires (docs/modes.md has worked examples):
 *
 * 1. Every accepted sample joins a window of the last `window` samples; RTT
 *    is the median of the window's RTTs, bandwidth the median of the
 *    bandwidths the window's samples carry (unknown if none does).
 * 2. The first accepted sample sets the measured mode at once, by
 *    {@link classifyLinkMode}.
 * 3. After that, each sample points at a target relative to the current
 *    measured mode, or at none. Moving to a faster mode needs the nominal
 *    rule of that mode (`datacenter`: RTT < 10 ms and bandwidth ≥ 0.9
 *    Gbit/s; `hybrid` from `internet`: RTT ≤ 50 ms and bandwidth ≥ 100
 *    Mbit/s). Moving to a slower mode needs a measurement beyond the
 *    threshold by the margin (`internet`: RTT > 50·(1+m) ms or bandwidth <
 *    100·(1−m) Mbit/s; `hybrid` from `datacenter`: RTT ≥ 10·(1+m) ms or
 *    bandwidth < 0.9·(1−m) Gbit/s). From `datacenter` or `internet` the
 *    farthest satisfied target is taken.
 * 4. Consecutive samples whose targets lie on the same side (faster or
 *    slower) form a run; a sample with no target, or one on the other side,
 *    ends it. The change fires on the sample that makes the run
 *    `confirmSamples` long and at least `minDwellMs` of sample time from the
 *    run's first sample to this one. The new mode is the target nearest the
 *    current mode among the run's samples (every one of them supports at
 *    least that move).
 *
 * With a full window of a steady level and an odd `window` W, a step to a
 * level clearly in another mode fires on exactly the (⌊W/2⌋ + confirmSamples)-th
 * sample after the step (the 5th with the defaults), given the dwell.
 *
 * The effective {@link mode} is the override if one is set, else the
 * measured mode, else `defaultMode`. Listeners hear only changes of the
 * effective mode. Pure and deterministic: time comes from `sample.at`; there
 * are no timers.
 */
export class ModeDetector {
  readonly #thresholds: ModeThresholds;
  readonly #margin: number;
  readonly #window: number;
  readonly #confirm: number;
  readonly #minDwellMs: number;
  readonly #defaultMode: LinkMode;

  readonly #rtts: number[] = [];
  // Parallel to #rtts; undefined where the sample had no bandwidth.
  readonly #bandwidths: (number | undefined)[] = [];
  #smoothed: Smoothed | undefined;
  #lastAt: number | undefined;
  #measured: LinkMode | undefined;
  #override: LinkMode | undefined;

  #runSide = 0; // -1 faster, +1 slower, 0 no run
  #runLength = 0;
  #runSince = 0;
  #runNearest: LinkMode | undefined;

  readonly #listeners = new Set<{ readonly listener: ModeChangeListener }>();
  readonly #queue: ModeChange[] = [];
  #dispatching = false;

  /** @throws NovacronError `CORE_INVALID_ARGUMENT` when an option is out of range or the thresholds are inconsistent. */
  constructor(options: ModeDetectorOptions = {}) {
    assertObject('options', options as unknown);
    const margin = options.margin ?? 0.15;
    assertNumber('options.margin', margin, { min: 0 });
    if (margin >= 1) throw invalidArgument('options.margin', 'a finite number >= 0 and < 1', margin);
    const window = options.window ?? 5;
    assertInteger('options.window', window, { min: 1, max: MAX_WINDOW });
    if (window % 2 === 0) throw invalidArgument('options.window', 'an odd integer', window);
    const confirm = options.confirmSamples ?? 3;
    assertInteger('options.confirmSamples', confirm, { min: 1 });
    const minDwellMs = options.minDwellMs ?? 0;
    assertNumber('options.minDwellMs', minDwellMs, { min: 0 });
    const defaultMode = options.defaultMode ?? 'hybrid';
    assertOneOf('options.defaultMode', defaultMode, LINK_MODES);

    this.#thresholds = validateThresholds(options.thresholds);
    this.#margin = margin;
    this.#window = window;
    this.#confirm = confirm;
    this.#minDwellMs = minDwellMs;
    this.#defaultMode = defaultMode;
  }

  /** The thresholds in force (defaults merged with the options). */
  get thresholds(): ModeThresholds {
    return this.#thresholds;
  }

  /** The effective mode: the override, else the measured mode, else `defaultMode`. */
  get mode(): LinkMode {
    return this.#override ?? this.#measured ?? this.#defaultMode;
  }

  /** The mode the samples support, or `undefined` before the first accepted sample. */
  get measuredMode(): LinkMode | undefined {
    return this.#measured;
  }

  /** The manual override in force, if any. */
  get override(): LinkMode | undefined {
    return this.#override;
  }

  /** Window-median RTT in milliseconds, or `undefined` before the first sample. */
  get smoothedRttMs(): number | undefined {
    return this.#smoothed?.rttMs;
  }

  /** Window-median bandwidth in bits per second, or `undefined` when no sample in the window carries one. */
  get smoothedBandwidthBps(): number | undefined {
    return this.#smoothed?.bandwidthBps;
  }

  /**
   * Feeds one sample and returns the effective mode afterwards. Samples must
   * arrive in time order (`at` never decreasing).
   *
   * @throws NovacronError `CORE_LINK_SAMPLE_INVALID` when a field is missing,
   *   negative, non-finite or out of range, or `at` goes backwards; the
   *   detector is then left exactly as it was.
   */
  observe(sample: LinkSample): LinkMode {
    this.#validate(sample);
    const { at, rttMs, bandwidthBps } = sample;

    this.#rtts.push(rttMs);
    this.#bandwidths.push(bandwidthBps);
    if (this.#rtts.length > this.#window) {
      this.#rtts.shift();
      this.#bandwidths.shift();
    }
    this.#lastAt = at;
    const smoothed: Smoothed = {
      rttMs: median(this.#rtts) as number,
      bandwidthBps: median(this.#bandwidths.filter((b): b is number => b !== undefined)),
    };
    this.#smoothed = smoothed;

    const current = this.#measured;
    if (current === undefined) {
      const to = classifyLinkMode(smoothed.rttMs, smoothed.bandwidthBps, this.#thresholds);
      this.#setMeasured(to, at, explain(this.#defaultMode, to, smoothed, this.#thresholds, 0, 1, true));
      return this.mode;
    }

    const target = this.#target(current, smoothed);
    if (target === undefined) {
      this.#endRun();
      return this.mode;
    }
    const side = Math.sign(RANK[target] - RANK[current]);
    if (side !== this.#runSide) {
      this.#runSide = side;
      this.#runLength = 1;
      this.#runSince = at;
      this.#runNearest = target;
    } else {
      this.#runLength++;
      const nearest = this.#runNearest as LinkMode;
      if (Math.abs(RANK[target] - RANK[current]) < Math.abs(RANK[nearest] - RANK[current])) this.#runNearest = target;
    }
    if (this.#runLength >= this.#confirm && at - this.#runSince >= this.#minDwellMs) {
      const to = this.#runNearest as LinkMode;
      const reason = explain(current, to, smoothed, this.#thresholds, this.#margin, this.#runLength, false);
      this.#endRun();
      this.#setMeasured(to, at, reason);
    }
    return this.mode;
  }

  /**
   * Forces the effective mode to `mode` until {@link clearOverride},
   * whatever the samples say (they are still tracked). Emits a change when
   * the effective mode moves.
   *
   * @throws NovacronError `CORE_INVALID_ARGUMENT` when `mode` is not a {@link LinkMode}.
   */
  setOverride(mode: LinkMode): void {
    assertOneOf('mode', mode, LINK_MODES);
    const from = this.mode;
    this.#override = mode;
    this.#changed(from, { kind: 'override', override: mode }, this.#lastAt);
  }

  /**
   * Removes the override; the effective mode returns to the measured mode
   * (or `defaultMode` before any sample). Emits a change when the effective
   * mode moves. A no-op without an override.
   */
  clearOverride(): void {
    if (this.#override === undefined) return;
    const from = this.mode;
    this.#override = undefined;
    this.#changed(from, { kind: 'override', override: undefined }, this.#lastAt);
  }

  /**
   * Calls `listener` on every change of the effective mode, in order, after
   * the detector's state is updated. If a listener throws, the others still
   * run and the first error is rethrown from the call that caused the change
   * (`observe`, `setOverride`, `clearOverride`); the change itself stands.
   * A listener may call back into the detector: the events it causes are
   * delivered after the current one, to every listener.
   *
   * @returns a function that removes this registration (idempotent).
   */
  onChange(listener: ModeChangeListener): () => void {
    if (typeof listener !== 'function') throw invalidArgument('listener', 'a function', listener);
    const entry = { listener };
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** The target a sample's smoothed values point at from `current`, if any. */
  #target(current: LinkMode, s: Smoothed): LinkMode | undefined {
    const t = this.#thresholds;
    const m = this.#margin;
    switch (current) {
      case 'datacenter':
        if (any(internetEnter(s, t, m))) return 'internet';
        return any(datacenterLeave(s, t, m)) ? 'hybrid' : undefined;
      case 'hybrid':
        if (all(datacenterEnter(s, t))) return 'datacenter';
        return any(internetEnter(s, t, m)) ? 'internet' : undefined;
      case 'internet':
        if (all(datacenterEnter(s, t))) return 'datacenter';
        return all(internetLeave(s, t)) ? 'hybrid' : undefined;
    }
  }

  #endRun(): void {
    this.#runSide = 0;
    this.#runLength = 0;
    this.#runNearest = undefined;
  }

  #setMeasured(to: LinkMode, at: number, reason: MeasurementReason): void {
    const from = this.mode;
    this.#measured = to;
    this.#changed(from, reason, at);
  }

  #changed(from: LinkMode, reason: ModeChangeReason, at: number | undefined): void {
    const to = this.mode;
    if (to === from) return;
    this.#queue.push({ from, to, at, reason });
    if (this.#dispatching) return;
    this.#dispatching = true;
    let failed = false;
    let firstError: unknown;
    try {
      for (let change = this.#queue.shift(); change; change = this.#queue.shift()) {
        for (const entry of [...this.#listeners]) {
          try {
            entry.listener(change);
          } catch (err) {
            if (!failed) {
              failed = true;
              firstError = err;
            }
          }
        }
      }
    } finally {
      this.#dispatching = false;
    }
    if (failed) throw firstError;
  }

  #validate(sample: unknown): asserts sample is LinkSample {
    if (typeof sample !== 'object' || sample === null || Array.isArray(sample))
      throw sampleInvalid('sample', 'a LinkSample object', sample);
    const s = sample as Record<string, unknown>;
    if (!isFiniteNumber(s.at)) throw sampleInvalid('at', 'a finite number', s.at);
    if (this.#lastAt !== undefined && s.at < this.#lastAt)
      throw sampleInvalid('at', `a time >= the previous sample's ${this.#lastAt}`, s.at);
    if (!isFiniteNumber(s.rttMs) || s.rttMs < 0) throw sampleInvalid('rttMs', 'a finite number >= 0', s.rttMs);
    if (s.bandwidthBps !== undefined && (!isFiniteNumber(s.bandwidthBps) || s.bandwidthBps < 0))
      throw sampleInvalid('bandwidthBps', 'a finite number >= 0, or absent', s.bandwidthBps);
    if (s.lossRate !== undefined && (!isFiniteNumber(s.lossRate) || s.lossRate < 0 || s.lossRate > 1))
      throw sampleInvalid('lossRate', 'a number in [0, 1], or absent', s.lossRate);
    if (s.jitterMs !== undefined && (!isFiniteNumber(s.jitterMs) || s.jitterMs < 0))
      throw sampleInvalid('jitterMs', 'a finite number >= 0, or absent', s.jitterMs);
    if (s.source !== undefined && typeof s.source !== 'string')
      throw sampleInvalid('source', 'a string, or absent', s.source);
  }
}

function validateThresholds(partial: Partial<ModeThresholds> | undefined): ModeThresholds {
  if (partial !== undefined) assertObject('options.thresholds', partial);
  const t: ModeThresholds = { ...DEFAULT_MODE_THRESHOLDS, ...stripUndefined(partial ?? {}) };
  for (const key of Object.keys(DEFAULT_MODE_THRESHOLDS) as (keyof ModeThresholds)[]) {
    const v: unknown = t[key];
    if (!isFiniteNumber(v) || v <= 0) throw invalidArgument(`options.thresholds.${key}`, 'a finite number > 0', v);
  }
  // Equal thresholds are allowed: the hybrid band then shrinks to nothing on that metric.
  if (t.internetRttMs < t.datacenterRttMs)
    throw invalidArgument(
      'options.thresholds.internetRttMs',
      `>= datacenterRttMs (${t.datacenterRttMs})`,
      t.internetRttMs,
    );
  if (t.internetBandwidthBps > t.datacenterBandwidthBps)
    throw invalidArgument(
      'options.thresholds.internetBandwidthBps',
      `<= datacenterBandwidthBps (${t.datacenterBandwidthBps})`,
      t.internetBandwidthBps,
    );
  return Object.freeze(t);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// The four rules. "Enter" rules of faster modes use the nominal thresholds;
// rules that move to a slower mode push the threshold out by the margin, so
// a 1 GbE link (~0.94 Gbit/s) can always return to datacenter.

function datacenterEnter(s: Smoothed, t: ModeThresholds): Clause[] {
  const out = [clause('rttMs', s.rttMs, t.datacenterRttMs, t.datacenterRttMs, 'below', s.rttMs < t.datacenterRttMs)];
  if (s.bandwidthBps !== undefined) {
    const b = t.datacenterBandwidthBps;
    out.push(clause('bandwidthBps', s.bandwidthBps, b, b, 'above', s.bandwidthBps >= b));
  }
  return out;
}

function datacenterLeave(s: Smoothed, t: ModeThresholds, m: number): Clause[] {
  const r = t.datacenterRttMs * (1 + m);
  const out = [clause('rttMs', s.rttMs, t.datacenterRttMs, r, 'above', s.rttMs >= r)];
  if (s.bandwidthBps !== undefined) {
    const b = t.datacenterBandwidthBps * (1 - m);
    out.push(clause('bandwidthBps', s.bandwidthBps, t.datacenterBandwidthBps, b, 'below', s.bandwidthBps < b));
  }
  return out;
}

function internetEnter(s: Smoothed, t: ModeThresholds, m: number): Clause[] {
  const r = t.internetRttMs * (1 + m);
  const out = [clause('rttMs', s.rttMs, t.internetRttMs, r, 'above', s.rttMs > r)];
  if (s.bandwidthBps !== undefined) {
    const b = t.internetBandwidthBps * (1 - m);
    out.push(clause('bandwidthBps', s.bandwidthBps, t.internetBandwidthBps, b, 'below', s.bandwidthBps < b));
  }
  return out;
}

function internetLeave(s: Smoothed, t: ModeThresholds): Clause[] {
  const out = [clause('rttMs', s.rttMs, t.internetRttMs, t.internetRttMs, 'below', s.rttMs <= t.internetRttMs)];
  if (s.bandwidthBps !== undefined) {
    const b = t.internetBandwidthBps;
    out.push(clause('bandwidthBps', s.bandwidthBps, b, b, 'above', s.bandwidthBps >= b));
  }
  return out;
}

function clause(
  metric: LinkMetric,
  value: number,
  threshold: number,
  trigger: number,
  direction: 'above' | 'below',
  holds: boolean,
): Clause {
  return { metric, value, threshold, trigger, direction, holds };
}

function any(clauses: Clause[]): boolean {
  return clauses.some((c) => c.holds);
}

function all(clauses: Clause[]): boolean {
  return clauses.every((c) => c.holds);
}

/** Relative distance of a measurement from its nominal threshold. */
function distance(c: Clause): number {
  return Math.abs(c.value - c.threshold) / c.threshold;
}

/**
 * Names the measurement that decided a move from `from` to `to`. When any
 * one measurement suffices (entering a slower mode) it is the one farthest
 * beyond its threshold; when all must agree (entering a faster mode) it is
 * the one closest to its threshold, which on a gradual move crossed last.
 */
function explain(
  from: LinkMode,
  to: LinkMode,
  s: Smoothed,
  t: ModeThresholds,
  m: number,
  samples: number,
  initial: boolean,
): MeasurementReason {
  let clauses: Clause[];
  let anyOf: boolean;
  if (to === 'datacenter') [clauses, anyOf] = [datacenterEnter(s, t), false];
  else if (to === 'internet') [clauses, anyOf] = [internetEnter(s, t, m), true];
  else if (from === 'internet') [clauses, anyOf] = [internetLeave(s, t), false];
  else [clauses, anyOf] = [datacenterLeave(s, t, m), true];
  const holding = clauses.filter((c) => c.holds);
  const pool = holding.length > 0 ? holding : clauses;
  let chosen = pool[0] as Clause;
  for (const c of pool.slice(1)) {
    if (anyOf ? distance(c) > distance(chosen) : distance(c) < distance(chosen)) chosen = c;
  }
  return {
    kind: 'measurement',
    metric: chosen.metric,
    value: chosen.value,
    threshold: chosen.threshold,
    trigger: chosen.trigger,
    direction: chosen.direction,
    samples,
    initial,
  };
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function sampleInvalid(
  field: string,
  expected: string,
  value: unknown,
): NovacronError<typeof CoreErrorCode.LINK_SAMPLE_INVALID, LinkSampleInvalidDetails> {
  const received = describeReceived(value);
  return new NovacronError(
    CoreErrorCode.LINK_SAMPLE_INVALID,
    `link sample ${field}: expected ${expected}, received ${received}`,
    {
      details: { field, expected, received },
    },
  );
}
