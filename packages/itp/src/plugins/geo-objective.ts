import {
  NovacronError,
  type PlacementContext,
  type PlacementHost,
  type PlacementRequest,
  type ScorePlugin,
} from '@novacron/core';
import { ItpErrorCode } from '../errors.js';

/** The three objectives of internet-mode placement, all to be minimised. */
export type GeoObjective = 'latency' | 'unavailability' | 'cost';

/** Objective values of one host for one request. */
export interface GeoPoint {
  /** Traffic-weighted mean latency to the request's user regions, ms (Infinity when a measurement is missing). */
  readonly latency: number;
  /** 1 − uptime ratio (1 when unknown). */
  readonly unavailability: number;
  /** Cost per hour (Infinity when unknown). */
  readonly cost: number;
}

/** How to choose on the Pareto front. */
export type GeoPreference =
  | {
      /** Minimise a weighted sum of objectives, each divided by its scale. */
      readonly mode: 'weighted';
      /** Weight per objective (>= 0). */
      readonly weights: Readonly<Record<GeoObjective, number>>;
      /** Unit of each objective (e.g. 100 ms, 0.01 unavailability, 1 currency/h); default 1. */
      readonly scales?: Readonly<Partial<Record<GeoObjective, number>>>;
    }
  | {
      /** Minimise the objectives in this order, later ones breaking ties of earlier ones. */
      readonly mode: 'lexicographic';
      /** Priority order of the objectives. */
      readonly order: readonly GeoObjective[];
    };

/** Objective values of `host` for `request`. */
export function geoPoint(request: PlacementRequest, host: PlacementHost): GeoPoint {
  const users = request.userRegions ?? {};
  let wsum = 0;
  let lat = 0;
  for (const [region, w] of Object.entries(users)) {
    const l = host.latencyMs?.[region];
    if (l === undefined) {
      lat = Number.POSITIVE_INFINITY;
      break;
    }
    lat += w * l;
    wsum += w;
  }
  return {
    latency: wsum > 0 && Number.isFinite(lat) ? lat / wsum : lat,
    unavailability: 1 - (host.uptime?.ratio ?? 0),
    cost: host.costPerHour ?? Number.POSITIVE_INFINITY,
  };
}

const OBJECTIVES: readonly GeoObjective[] = ['latency', 'unavailability', 'cost'];

/** True when `a` is no worse than `b` in every objective and better in one. */
export function dominates(a: GeoPoint, b: GeoPoint): boolean {
  let better = false;
  for (const k of OBJECTIVES) {
    if (a[k] > b[k]) return false;
    if (a[k] < b[k]) better = true;
  }
  return better;
}

/**
 * Indexes of the non-dominated points. Sorting by the first objective means
 * a point can only be dominated by one before it, and only front members
 * need checking: O(n log n + n·|front|).
 */
export function paretoFront(points: readonly GeoPoint[]): number[] {
  const order = points.map((_, i) => i);
  order.sort((a, b) => {
    const pa = points[a]!;
    const pb = points[b]!;
    return pa.latency - pb.latency || pa.unavailability - pb.unavailability || pa.cost - pb.cost || a - b;
  });
  const front: number[] = [];
  for (const i of order) if (!front.some((f) => dominates(points[f]!, points[i]!))) front.push(i);
  return front.sort((a, b) => a - b);
}

/** Compares two points under a preference: negative when `a` is preferred. */
export function comparePoints(pref: GeoPreference, a: GeoPoint, b: GeoPoint): number {
  if (pref.mode === 'lexicographic') {
    for (const k of pref.order) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
    return 0;
  }
  const va = weightedValue(pref, a);
  const vb = weightedValue(pref, b);
  return va === vb ? 0 : va < vb ? -1 : 1;
}

function weightedValue(pref: Extract<GeoPreference, { mode: 'weighted' }>, p: GeoPoint): number {
  let v = 0;
  for (const k of OBJECTIVES) {
    const w = pref.weights[k];
    if (w > 0) v += (w * p[k]) / (pref.scales?.[k] ?? 1);
  }
  return v;
}

/** Checks a preference from configuration. */
export function validateGeoPreference(pref: GeoPreference): void {
  const bad = (m: string) => new NovacronError(ItpErrorCode.INVALID_CONFIG, `geo preference: ${m}`, { details: {} });
  if (pref.mode === 'weighted') {
    for (const k of OBJECTIVES)
      if (!(pref.weights[k] >= 0) || !Number.isFinite(pref.weights[k])) throw bad(`weight of ${k} must be >= 0`);
    if (OBJECTIVES.every((k) => pref.weights[k] === 0)) throw bad('at least one weight must be > 0');
    for (const [k, s] of Object.entries(pref.scales ?? {}))
      if (!(typeof s === 'number' && s > 0 && Number.isFinite(s))) throw bad(`scale of ${k} must be > 0`);
  } else if (pref.mode === 'lexicographic') {
    if (pref.order.length === 0 || pref.order.some((k) => !OBJECTIVES.includes(k)))
      throw bad('order must list known objectives');
  } else throw bad('mode must be weighted or lexicographic');
}

/**
 * Geographic multi-objective scorer: computes the Pareto front of the
 * feasible hosts over (latency to the request's users, unavailability,
 * cost), then ranks the front by the configured preference. Front members
 * score 1..100 by rank (100 = preferred), dominated hosts 0, so the chosen
 * host is always on the front and, because weighted-sum and lexicographic
 * optima are never dominated, equals the exhaustive optimum of the
 * preference over all feasible hosts.
 */
export function geoObjective(preference: GeoPreference): ScorePlugin {
  validateGeoPreference(preference);
  return {
    name: 'geo-objective',
    score: () => 0,
    normalize(ctx: PlacementContext, hosts: readonly number[], scores: Float64Array) {
      const points = hosts.map((h) => geoPoint(ctx.request, ctx.snapshot.hosts[h]!));
      const front = paretoFront(points);
      // Ties keep host order, so the first host of equal preference wins deterministically.
      front.sort((a, b) => comparePoints(preference, points[a]!, points[b]!) || a - b);
      scores.fill(0);
      const n = front.length;
      for (const [rank, i] of front.entries()) {
        // Equal points share a score, so no arbitrary preference is invented between them.
        const prev = rank > 0 ? front[rank - 1]! : -1;
        scores[i] =
          prev >= 0 && comparePoints(preference, points[prev]!, points[i]!) === 0
            ? scores[prev]!
            : 100 - (99 * rank) / Math.max(1, n);
      }
    },
  };
}
