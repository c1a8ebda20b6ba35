import type { PlacementContext, PlacementSnapshot, ScorePlugin } from '@novacron/core';

/**
 * Per-host resource scorers. Each looks at the dimensions the host has
 * (capacity > 0) and at utilisation after the VM lands. Scores are absolute
 * (0..100) so their normalisation is the identity: a weight means the same
 * whatever the feasible set.
 */

type Kernel = (used: number, demand: number, cap: number) => number;

function perDimension(
  name: string,
  kernel: Kernel,
  combine: 'mean' | 'sum',
  scale: (x: number) => number,
): ScorePlugin {
  return {
    name,
    score(ctx: PlacementContext, host: number): number {
      const s: PlacementSnapshot = ctx.snapshot;
      const demand = ctx.demand;
      let acc = 0;
      let n = 0;
      for (let d = 0; d < demand.length; d++) {
        const cap = s.capacity(host, d);
        if (cap <= 0) continue;
        acc += kernel(s.used(host, d), demand[d]!, cap);
        n++;
      }
      return scale(combine === 'mean' ? (n === 0 ? 0 : acc / n) : acc);
    },
    normalize() {},
  };
}

/** Best fit / most-allocated (bin packing): mean utilisation after placement, ×100. */
export function mostAllocated(): ScorePlugin {
  return perDimension(
    'most-allocated',
    (u, x, c) => (u + x) / c,
    'mean',
    (v) => 100 * v,
  );
}

/** Least-allocated (spread): mean free fraction after placement, ×100. */
export function leastAllocated(): ScorePlugin {
  return perDimension(
    'least-allocated',
    (u, x, c) => (c - u - x) / c,
    'mean',
    (v) => 100 * v,
  );
}

/**
 * Dot-product alignment (Tetris, Grandl et al., SIGCOMM 2014): the dot
 * product of the VM's demand and the host's free capacity, both as fractions
 * of capacity; large when the VM uses what the host has most of.
 */
export function dotProductAlignment(): ScorePlugin {
  return perDimension(
    'dot-product',
    (u, x, c) => (x / c) * ((c - u) / c),
    'mean',
    (v) => 100 * v,
  );
}

/**
 * L2 alignment (norm-based greedy, Panigrahy et al., "Heuristics for vector
 * bin packing", 2011): minimise the squared L2 norm of the free capacity left
 * after placement, so hosts end up evenly full across dimensions.
 */
export function l2Alignment(): ScorePlugin {
  return perDimension(
    'l2-alignment',
    (u, x, c) => {
      const f = (c - u - x) / c;
      return f * f;
    },
    'mean',
    (v) => 100 * (1 - v),
  );
}

/** First fit (baseline): the feasible host with the lowest index wins. */
export function firstFit(): ScorePlugin {
  return {
    name: 'first-fit',
    score: (_ctx, host) => -host,
    normalize(_ctx, _hosts, scores) {
      // Rank, not distance: only the first feasible host scores 100.
      let best = 0;
      for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
      scores.fill(0);
      if (scores.length > 0) scores[best] = 100;
    },
  };
}
