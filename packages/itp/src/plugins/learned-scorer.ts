import { NovacronError, type PlacementContext, type ScorePlugin } from '@novacron/core';
import { ItpErrorCode } from '../errors.js';

/**
 * Names of the features a learned scorer receives for each (VM, host)
 * pair, in order: for each resource dimension d of the inventory, the VM's
 * demand / host capacity, then the host's utilisation before placement
 * (used / capacity); then 1 − uptime ratio, cost per hour, and the
 * traffic-weighted latency to the VM's users in ms (0 when unknown).
 */
export function learnedFeatureNames(dimensions: readonly string[]): string[] {
  return [
    ...dimensions.map((d) => `demand/${d}`),
    ...dimensions.map((d) => `util/${d}`),
    'unavailability',
    'costPerHour',
    'latencyMs',
  ];
}

/** Options of {@link learnedScorer}. */
export interface LearnedScorerOptions {
  /** Plugin name in explanations (default `learned`). */
  readonly name?: string;
  /**
   * The model: features (see {@link learnedFeatureNames}) → a score, higher
   * better. A plain synchronous function, so a model bridge (pba's, ONNX,
   * a linear model) plugs in without the pipeline knowing.
   */
  readonly model: (features: Float64Array) => number;
}

/**
 * A score plugin backed by a learned model. Non-finite model outputs are
 * refused with `ITP_INVALID_CONFIG` rather than silently ranking a host;
 * the pipeline min-max normalises the outputs over the feasible hosts.
 */
export function learnedScorer(options: LearnedScorerOptions): ScorePlugin {
  if (typeof options?.model !== 'function')
    throw new NovacronError(ItpErrorCode.INVALID_CONFIG, 'learnedScorer needs a model function', { details: {} });
  const name = options.name ?? 'learned';
  let buf = new Float64Array(0);
  return {
    name,
    score(ctx: PlacementContext, host: number): number {
      const s = ctx.snapshot;
      const nd = s.dimensions.length;
      if (buf.length !== 2 * nd + 3) buf = new Float64Array(2 * nd + 3);
      for (let d = 0; d < nd; d++) {
        const cap = s.capacity(host, d);
        buf[d] = cap > 0 ? ctx.demand[d]! / cap : 0;
        buf[nd + d] = cap > 0 ? s.used(host, d) / cap : 0;
      }
      const h = s.hosts[host]!;
      buf[2 * nd] = 1 - (h.uptime?.ratio ?? 0);
      buf[2 * nd + 1] = h.costPerHour ?? 0;
      let lat = 0;
      let w = 0;
      for (const [region, weight] of Object.entries(ctx.request.userRegions ?? {})) {
        const l = h.latencyMs?.[region];
        if (l !== undefined) {
          lat += weight * l;
          w += weight;
        }
      }
      buf[2 * nd + 2] = w > 0 ? lat / w : 0;
      const out = options.model(buf);
      if (!Number.isFinite(out))
        throw new NovacronError(ItpErrorCode.INVALID_CONFIG, `learned scorer ${name} returned a non-finite score`, {
          details: { plugin: name, hostId: h.id },
        });
      return out;
    },
  };
}
