import type { Logger } from '@novacron/core';
import { learnedScorer, type PlacementProfile, resourceProfile } from '@novacron/itp';
import type { RemoteModel } from '@novacron/pba';

/** Options of {@link RemoteScoreModel}. */
export interface RemoteScoreModelInit {
  /** pba's bridge to the model service. */
  readonly bridge: RemoteModel;
  /** Model name asked for (docs/protocol/pba-bridge.md, "The `placement` model"). */
  readonly model?: string;
  /** Scores remembered, by feature vector (default 4096; the oldest go first). */
  readonly cacheSize?: number;
  readonly logger?: Logger;
}

/**
 * pba's model bridge behind itp's learned-scorer hook. itp scores
 * synchronously and the bridge is asynchronous, so the model is a cache of
 * the service's scores by feature vector: a vector not in the cache gets a
 * local score (free capacity after placement, as `least-allocated` ranks)
 * and is queued for the service. The node decides in two passes: when the
 * first left queued vectors, it waits for {@link RemoteScoreModel.settle}
 * (bounded by the bridge's deadline, 80 ms by default, and its circuit
 * breaker) and decides again, now on the service's scores; a vector the
 * service could not score keeps the local one. So a decision never waits
 * longer than one bridge call and is never lost to the service.
 */
export class RemoteScoreModel {
  readonly #init: RemoteScoreModelInit;
  readonly #cache = new Map<string, number>();
  readonly #queued = new Map<string, Float64Array>();
  /** Scores that came from the service / from the local fallback. */
  readonly counts = { remote: 0, local: 0, failed: 0 };

  constructor(init: RemoteScoreModelInit) {
    this.#init = init;
  }

  /** The synchronous model itp's learned scorer calls. */
  readonly score = (features: Float64Array): number => {
    const key = keyOf(features);
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.counts.remote++;
      return hit;
    }
    if (!this.#queued.has(key)) this.#queued.set(key, Float64Array.from(features));
    this.counts.local++;
    return localScore(features);
  };

  /** Vectors waiting for the service. */
  get pending(): number {
    return this.#queued.size;
  }

  /** Asks the service for every queued vector at once; resolves when each answered or failed (never rejects). */
  async settle(): Promise<void> {
    const batch = [...this.#queued];
    this.#queued.clear();
    const model = this.#init.model ?? 'placement';
    await Promise.all(
      batch.map(async ([key, f]) => {
        const features = Object.fromEntries(Array.from(f, (x, i) => [`x${i}`, x]));
        let r: Awaited<ReturnType<RemoteModel['predictOr']>>;
        try {
          r = await this.#init.bridge.predictOr(model, features, () => ({ score: localScore(f) }));
        } catch (err) {
          this.counts.failed++;
          this.#init.logger?.debug('placement model refused the features', { error: (err as Error).message });
          return;
        }
        const s = r.outputs.score;
        if (r.source !== 'remote' || s === undefined || !Number.isFinite(s)) {
          this.counts.failed++;
          if (r.error) this.#init.logger?.debug('placement model fell back', { error: r.error.message });
          return;
        }
        this.#remember(key, s);
      }),
    );
  }

  #remember(key: string, score: number): void {
    this.#cache.delete(key);
    this.#cache.set(key, score);
    const max = this.#init.cacheSize ?? 4096;
    while (this.#cache.size > max) this.#cache.delete(this.#cache.keys().next().value!);
  }

  /** The `learned` placement profile: itp's capacity and affinity filters, scored by this model. */
  profile(): PlacementProfile {
    const base = resourceProfile('least-allocated');
    return { ...base, name: 'learned', scorers: [{ plugin: learnedScorer({ name: 'learned', model: this.score }) }] };
  }
}

/** Feature vectors repeat exactly for the same host state and request, so the key is the exact values. */
function keyOf(f: Float64Array): string {
  return Array.from(f, (x) => x.toString()).join(',');
}

/**
 * The local score: 1 minus the mean utilisation after placement (features
 * are demand/d then util/d per dimension, then three geo features; see
 * itp's `learnedFeatureNames`).
 */
function localScore(f: Float64Array): number {
  const nd = (f.length - 3) / 2;
  if (!(nd >= 1)) return 0;
  let u = 0;
  for (let d = 0; d < nd; d++) u += f[d]! + f[nd + d]!;
  return 1 - u / nd;
}
