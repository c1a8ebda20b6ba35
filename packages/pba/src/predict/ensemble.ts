import { assertNumber, invalidArgument } from '@novacron/core';
import type { ErrorTrackerOptions } from './error-tracker.js';
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
   */
  readonly sharpness?: number;
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
  private readonly sharpness: number;
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
    this.sharpness = options.sharpness ?? 2;
    assertNumber('options.sharpness', this.sharpness, { min: 0, max: 64 });
    this.weightBuf = new Float64Array(this.members.length);
  }

  /** Current member weights for horizon `h` (summing to 1), in member order. */
  weights(h: number): number[] {
    return Array.from(this.computeWeights(this.tracker.nearest(h)));
  }

  private computeWeights(j: number): Float64Array {
    const w = this.weightBuf;
    let best = Number.POSITIVE_INFINITY;
    for (let m = 0; m < this.members.length; m++) {
      const s = this.members[m]!.tracker.score(j);
      if (!Number.isNaN(s) && s < best) best = s;
    }
    let sum = 0;
    for (let m = 0; m < this.members.length; m++) {
      const s = this.members[m]!.tracker.score(j);
      // Relative to the best member, so the weights do not depend on the series' scale.
      const rel = Number.isNaN(s) || !(best > 0) ? (s === best ? 1 : Number.isNaN(s) ? 1 : 0) : best / s;
      w[m] = rel ** this.sharpness;
      sum += w[m]!;
    }
    for (let m = 0; m < w.length; m++) w[m] = sum > 0 ? w[m]! / sum : 1 / w.length;
    return w;
  }

  pointForecast(h: number): number {
    const w = this.computeWeights(this.tracker.nearest(h));
    let f = 0;
    for (let m = 0; m < this.members.length; m++) if (w[m]! > 0) f += w[m]! * this.members[m]!.pointForecast(h);
    return f;
  }
  protected learn(value: number): void {
    for (const m of this.members) m.observeValue(value);
  }
  protected resetModel(): void {
    for (const m of this.members) m.reset();
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
      } catch (err) {
        for (let i = 0; i < backups.length; i++) this.members[i]!.restore(backups[i]!);
        throw err;
      }
    };
  }
}
