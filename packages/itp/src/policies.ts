import { type LinkMode, NovacronError, type PlacementRequest, type ScorePlugin } from '@novacron/core';
import { ItpErrorCode } from './errors.js';
import type { PlacementProfile, ProfileChooser, WeightedScorer } from './pipeline.js';
import { requiredAffinity } from './plugins/affinity-filter.js';
import { capacityFit } from './plugins/capacity-fit.js';
import { constraintsFilter } from './plugins/constraints-filter.js';
import { type GeoPreference, geoObjective } from './plugins/geo-objective.js';
import { preferredAffinity } from './plugins/preferred-affinity.js';
import {
  dotProductAlignment,
  firstFit,
  l2Alignment,
  leastAllocated,
  mostAllocated,
} from './plugins/resource-scorers.js';

/** The resource scorers a built-in profile can use. */
export type ResourcePolicy = 'first-fit' | 'most-allocated' | 'least-allocated' | 'dot-product' | 'l2-alignment';

const RESOURCE_SCORERS: Record<ResourcePolicy, () => ScorePlugin> = {
  'first-fit': firstFit,
  'most-allocated': mostAllocated,
  'least-allocated': leastAllocated,
  'dot-product': dotProductAlignment,
  'l2-alignment': l2Alignment,
};

/**
 * A datacenter profile: capacity, required affinity and constraint filters;
 * the chosen resource scorer plus preferred affinity (weight
 * `affinityWeight`, default 1, against a resource scorer of weight 1).
 * `most-allocated` is best fit / bin packing, `least-allocated` is spread.
 */
export function resourceProfile(policy: ResourcePolicy, options: ResourceProfileOptions = {}): PlacementProfile {
  const make = RESOURCE_SCORERS[policy];
  if (!make)
    throw new NovacronError(ItpErrorCode.INVALID_CONFIG, `unknown resource policy ${String(policy)}`, { details: {} });
  const affinity = requiredAffinity();
  const scorers: WeightedScorer[] = [
    { plugin: make(), weight: 1 },
    { plugin: preferredAffinity(), weight: options.affinityWeight ?? 1 },
  ];
  const order =
    policy === 'most-allocated' ? 'tightest-first' : policy === 'least-allocated' ? 'loosest-first' : undefined;
  const minFeasible = options.minFeasible ?? DEFAULT_MIN_FEASIBLE;
  if (!(Number.isInteger(minFeasible) && minFeasible >= 0))
    throw new NovacronError(ItpErrorCode.INVALID_CONFIG, 'minFeasible must be an integer >= 0', { details: {} });
  return {
    name: options.name ?? policy,
    preFilters: [affinity.preFilter],
    filters: [capacityFit(), affinity.filter, constraintsFilter()],
    scorers,
    ...(order !== undefined && minFeasible > 0 ? { candidateOrder: { order, minFeasible } } : {}),
  };
}

/** Feasible hosts the indexed profiles collect before scoring (see {@link ResourceProfileOptions.minFeasible}). */
export const DEFAULT_MIN_FEASIBLE = 32;

/** Options of {@link resourceProfile}. */
export interface ResourceProfileOptions {
  /** Profile name (default: the policy name). */
  readonly name?: string;
  /** Weight of preferred affinity against the resource scorer's 1 (default 1). */
  readonly affinityWeight?: number;
  /**
   * For `most-allocated` and `least-allocated`: visit hosts through the
   * free-CPU index, tightest (or loosest) first, and score once this many
   * feasible hosts are found (default {@link DEFAULT_MIN_FEASIBLE}); 0 scans
   * every host. Other policies always scan every host.
   */
  readonly minFeasible?: number;
}

/**
 * The internet profile: the same filters, then the geographic
 * multi-objective scorer (Pareto front over latency, unavailability and
 * cost, ranked by `preference`). Default preference: weighted, with
 * 100 ms, 1% unavailability and 1 currency/h counting alike.
 */
export function geographicProfile(
  preference: GeoPreference = {
    mode: 'weighted',
    weights: { latency: 1, unavailability: 1, cost: 1 },
    scales: { latency: 100, unavailability: 0.01, cost: 1 },
  },
  options: { readonly name?: string } = {},
): PlacementProfile {
  const affinity = requiredAffinity();
  return {
    name: options.name ?? 'geographic',
    preFilters: [affinity.preFilter],
    filters: [capacityFit(), affinity.filter, constraintsFilter()],
    scorers: [{ plugin: geoObjective(preference) }],
  };
}

/** Rules of {@link hybridChooser}. */
export interface HybridRules {
  /** VM class → profile name; checked first. */
  readonly byClass?: Readonly<Record<string, string>>;
  /** Network mode of the request → profile name. */
  readonly byMode?: Readonly<Partial<Record<LinkMode, string>>>;
  /** Profile when no rule applies. */
  readonly fallback: string;
}

/**
 * Chooses a profile by VM class, then by network mode, then the fallback,
 * e.g. `{ byClass: { 'latency-sensitive': 'geographic' }, byMode: { datacenter: 'most-allocated', internet: 'geographic' }, fallback: 'most-allocated' }`.
 */
export function hybridChooser(rules: HybridRules): ProfileChooser {
  return (request: PlacementRequest) => {
    const byClass = request.vmClass !== undefined ? rules.byClass?.[request.vmClass] : undefined;
    if (byClass !== undefined) return byClass;
    const byMode = request.networkMode !== undefined ? rules.byMode?.[request.networkMode] : undefined;
    return byMode ?? rules.fallback;
  };
}
