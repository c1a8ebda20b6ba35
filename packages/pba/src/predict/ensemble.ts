import { assertNumber, invalidArgument } from '@novacron/core';
import type { ErrorTracker, ErrorTrackerOptions } from './error-tracker.js';
import type { StateReader } from './state-fields.js';
import { TrackedPredictor } from './tracked-predictor.js';

/** Options of {@link EnsemblePredictor}. */
export interface EnsembleOptions {
  /**
   * Member predictors, built fresh (no observations), all with the same
   * tracked horizons as the ensemble. The ensemble feeds them; do not
   * observe them from outside.
   */
  readonly members: readonly TrackedPredictor[];
  /**
   * How sharply weights favour the better member: weight ∝ (recent MAE)^−p
   * (default 2; 0 is a plain average, large values pick the best member).
   * One number for every horizon, or one per tracked horizon: long
   * horizons gain from averaging more, their errors being noisier.
   */
  readonly sharpness?: number | readonly number[];
  /**
   * Prior belief about the members' errors, fitted offline (on training
   * traces only): `scores[m][j]` is member m's mean absolute error at
   * tracked horizon j divided by the series' mean, and `weight` how many
   * observed errors it is worth. Blended with the stream's own errors, it
   * lets the ensemble start with sensible weights on a short trace instead
   * of equal ones. Without it, weights start equal.
   */
  readonly prior?: { readonly scores: readonly (readonly number[])[]; readonly weight: number };
  /** Error tracking of the ensemble itself (its interval); horizons must match the members'. */
  readonly tracking?: ErrorTrackerOptions;
}

/**
 * An online combination of predictors, per horizon: the forecast for
 * horizon h is the members' forecasts for h weighted by how well each
 * forecast h steps ahead on this very stream recently (discounted mean
 * absolute error at the nearest tracked horizon). Nothing is fitted per data
 * set: the weights are learnt from the stream as it arrives, so the same
 * ensemble follows last value on a jumpy 3G trace and a smoother on a noisy
 * broadband one. Its interval comes from its own errors, like every
 * {@link TrackedPredictor}.
 */
export class EnsemblePredictor extends TrackedPredictor {
  readonly kind = 'ensemble';
  protected readonly version = 1;
  /** The members, in the order given. */
  readonly members: readonly TrackedPredictor[];
  private readonly sharpness: Float64Array;
  /** The members' trackers, held directly: reading `.tracker` off mixed classes is a megamorphic lookup. */
  private readonly trackers: readonly ErrorTracker[];
  private readonly prior: { readonly scores: readonly (readonly number[])[]; readonly weight: number } | undefined;
  private readonly weightBuf: Float64Array;

  constructor(options: EnsembleOptions) {
    super({ ...(options.tracking ? { tracking: options.tracking } : {}) });
    if (!Array.isArray(options.members) || options.members.length === 0)
      throw invalidArgument('options.members', 'a non-empty array of predictors', options.members);
    for (const m of options.members) {
      if (!(m instanceof TrackedPredictor) || m.observations !== 0)
        throw invalidArgument('options.members', 'fresh pba predictors', m);
      const hs = m.tracker.horizons;
      if (hs.length !== this.tracker.horizons.length || hs.some((h, i) => h !== this.tracker.horizons[i]))
        throw invalidArgument('options.members', 'predictors tracking the same horizons as the ensemble', m.kind);
    }
    this.members = [...options.members];
    this.trackers = this.members.map((m) => m.tracker);
    const sh = options.sharpness ?? 2;
    const k = this.tracker.horizons.length;
    if (typeof sh !== 'number' && (!Array.isArray(sh) || sh.length !== k))
      throw invalidArgument('options.sharpness', `a number or ${k} numbers (one per tracked horizon)`, sh);
    this.sharpness = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      const v = typeof sh === 'number' ? sh : (sh[j] as number);
      assertNumber('options.sharpness', v, { min: 0, max: 64 });
      this.sharpness[j] = v;
    }
    this.weightBuf = new Float64Array(this.members.length);
    this.scoreBuf = new Float64Array(this.members.length);
    this.cache = new Float64Array(this.members.length * this.tracker.horizons.length);
    const prior = options.prior;
    if (prior !== undefined) {
      const k = this.tracker.horizons.length;
      const ok =
        Array.isArray(prior.scores) &&
        prior.scores.length === this.members.length &&
        prior.scores.every(
          (row) => Array.isArray(row) && row.length === k && row.every((x) => Number.isFinite(x) && x >= 0),
        );
      if (!ok)
        throw invalidArgument(
          'options.prior.scores',
          `a ${this.members.length} × ${k} array of numbers >= 0`,
          prior.scores,
        );
      assertNumber('options.prior.weight', prior.weight, { min: 0 });
    }
    this.prior = prior;
    this.priorScores = Float64Array.from(prior?.scores.flat() ?? []);
    this.priorWeight = prior?.weight ?? 0;
  }

  /** The prior's scores flattened member-major (`m * horizons + j`): no nested lookups per observe. */
  private readonly priorScores: Float64Array;
  private readonly priorWeight: number;

  private readonly scoreBuf: Float64Array;

  /** Member m's score at tracked horizon j: its discounted MAE, blended with the prior when there is one. */
  private memberScore(m: number, j: number, level: number): number {
    const t = this.trackers[m]!;
    if (this.prior === undefined) return t.score(j);
    // Fall back to the nearest shorter horizon with outcomes, as score() does.
    let i = j;
    while (i > 0 && t.errorCount(i) === 0) i--;
    const sum = t.errorSum(i);
    const count = t.errorCount(i);
    const w = this.priorWeight;
    const priorErr = this.priorScores[m * this.tracker.horizons.length + j]! * level;
    return count + w > 0 ? (sum + w * priorErr) / (count + w) : Number.NaN;
  }

  /** Current member weights for horizon `h` (summing to 1), in member order. */
  weights(h: number): number[] {
    return Array.from(this.computeWeights(this.tracker.nearest(h)));
  }

  /** Weights per tracked horizon, recomputed once per observation (they change only then). */
  private readonly cache: Float64Array;
  private cached = false;

  /** Offset of tracked horizon j's weights in the cache, filling it first when stale. */
  private cachedWeights(j: number): number {
    const m = this.members.length;
    if (!this.cached) {
      for (let i = 0; i < this.tracker.horizons.length; i++) this.cache.set(this.computeWeights(i), i * m);
      this.cached = true;
    }
    return j * m;
  }

  private computeWeights(j: number): Float64Array {
    const w = this.weightBuf;
    const scores = this.scoreBuf;
    const level = this.tracker.level();
    let best = Number.POSITIVE_INFINITY;
    for (let m = 0; m < this.members.length; m++) {
      const s = this.memberScore(m, j, level);
      scores[m] = s;
      if (!Number.isNaN(s) && s < best) best = s;
    }
    let sum = 0;
    for (let m = 0; m < this.members.length; m++) {
      const s = scores[m]!;
      // Relative to the best member, so the weights do not depend on the series' scale.
      const rel = Number.isNaN(s) || !(best > 0) ? (s === best ? 1 : Number.isNaN(s) ? 1 : 0) : best / s;
      w[m] = power(rel, this.sharpness[j]!);
      sum += w[m]!;
    }
    for (let m = 0; m < w.length; m++) w[m] = sum > 0 ? w[m]! / sum : 1 / w.length;
    return w;
  }

  pointForecast(h: number): number {
    const at = this.cachedWeights(this.tracker.nearest(h));
    const w = this.cache;
    let f = 0;
    for (let m = 0; m < this.members.length; m++)
      if (w[at + m]! > 0) f += w[at + m]! * this.members[m]!.pointForecast(h);
    return f;
  }
  protected learn(value: number): void {
    for (const m of this.members) m.observeValue(value);
    this.cached = false;
  }
  protected resetModel(): void {
    for (const m of this.members) m.reset();
    this.cached = false;
  }
  protected modelState(): Record<string, unknown> {
    return { members: this.members.map((m) => m.state()) };
  }
  protected restoreModel(r: StateReader): () => void {
    const states = r.array('members', this.members.length);
    return () => {
      const backups = this.members.map((m) => m.state());
      try {
        for (let i = 0; i < states.length; i++) this.members[i]!.restore(states[i] as never);
        this.cached = false;
      } catch (err) {
        for (let i = 0; i < backups.length; i++) this.members[i]!.restore(backups[i]!);
        throw err;
      }
    };
  }
}

/** `x ** p`, by repeated squaring when p is a small integer (the common case; several times faster). */
function power(x: number, p: number): number {
  if (!Number.isInteger(p)) return x ** p;
  let result = 1;
  let base = x;
  for (let e = p; e > 0; e >>= 1) {
    if (e & 1) result *= base;
    base *= base;
  }
  return result;
}
