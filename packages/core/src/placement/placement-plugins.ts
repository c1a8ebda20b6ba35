import type { ResourceVector } from '../resources.js';
import type { AffinityTerm, PlacementHost, PlacementRequest, TopologyScope } from './placement-model.js';

/**
 * The placement pipeline's extension points, modelled on the Kubernetes
 * scheduling framework: pre-filter → filter (per host) → score (per host) →
 * normalise (per plugin, over the feasible set) → select → reserve → bind,
 * with unreserve on any later failure. Hosts are addressed by their index in
 * {@link PlacementSnapshot.hosts} so per-host hooks stay allocation-free.
 */

/** A read-only view of the inventory and what is placed on it. */
export interface PlacementSnapshot {
  /** Every host, in index order. */
  readonly hosts: readonly PlacementHost[];
  /** Resource dimensions in index order: `cpuMillis`, `memoryBytes`, `diskBytes`, `networkBps`, then extended names. */
  readonly dimensions: readonly string[];
  /** Capacity of host `host` in dimension `dim`. */
  capacity(host: number, dim: number): number;
  /** Capacity already allocated on host `host` in dimension `dim`. */
  used(host: number, dim: number): number;
  /** Id of host `host`'s domain at `scope` (the host id itself at `host` scope; undefined when unknown). */
  domainOf(host: number, scope: TopologyScope): string | undefined;
  /** Number of placed VMs that are peers under `term` inside host `host`'s `term.scope` domain. */
  countPeers(term: AffinityTerm, host: number): number;
  /** Index of the host with id `id`, or -1. */
  indexOf(id: string): number;
}

/** Everything a plugin knows about the decision in progress. */
export interface PlacementContext {
  /** The request being placed (already validated). */
  readonly request: PlacementRequest;
  /** The request's demand, one entry per {@link PlacementSnapshot.dimensions}. */
  readonly demand: Float64Array;
  /** The inventory. */
  readonly snapshot: PlacementSnapshot;
  /** Scratch space shared by the plugins of one decision (pre-filter results, caches). */
  readonly cycle: Map<string, unknown>;
}

/** What a pre-filter returns: go on (optionally only with these host indexes), or give up. */
export type PreFilterResult =
  | { readonly ok: true; readonly candidates?: readonly number[] }
  | { readonly ok: false; readonly reason: string };

/** Runs once per decision, before any host is examined (precompute, narrow candidates, reject early). */
export interface PreFilterPlugin {
  /** Stable plugin name, used in explanations. */
  readonly name: string;
  /** Prepares the decision or rejects it outright. */
  preFilter(ctx: PlacementContext): PreFilterResult;
}

/** Decides whether one host can take the VM at all. */
export interface FilterPlugin {
  /** Stable plugin name, used in explanations. */
  readonly name: string;
  /** `undefined` when the host passes; otherwise a short human reason it was filtered out. */
  filter(ctx: PlacementContext, host: number): string | undefined;
}

/** Ranks feasible hosts; higher is better. */
export interface ScorePlugin {
  /** Stable plugin name, used in explanations. */
  readonly name: string;
  /** Raw score of one feasible host. */
  score(ctx: PlacementContext, host: number): number;
  /**
   * Rescales this plugin's raw scores in place to [0, 100] over the feasible
   * hosts (`hosts[i]` scored `scores[i]`). Without it the pipeline applies
   * min-max scaling; a plugin whose raw scores already mean something
   * absolute may keep them.
   */
  normalize?(ctx: PlacementContext, hosts: readonly number[], scores: Float64Array): void;
}

/** Holds resources for a chosen host until bind succeeds; releases them otherwise. */
export interface ReservePlugin {
  /** Stable plugin name, used in explanations. */
  readonly name: string;
  /** Claims the VM's demand on `host`; throws (a NovacronError) to abort the decision. */
  reserve(ctx: PlacementContext, host: number): void | Promise<void>;
  /** Releases what `reserve` claimed; must be idempotent and must not throw. */
  unreserve(ctx: PlacementContext, host: number): void | Promise<void>;
}

/** Makes the decision real (tell a provider, commit to a ledger). */
export interface BindPlugin {
  /** Stable plugin name, used in explanations. */
  readonly name: string;
  /** Binds the VM to `hostId`; a throw unreserves and fails the placement. */
  bind(ctx: PlacementContext, hostId: string): void | Promise<void>;
}

/** Why a host was filtered out. */
export interface FilteredHost {
  /** Host id. */
  readonly hostId: string;
  /** The filter (or pre-filter) that rejected it. */
  readonly plugin: string;
  /** Its reason, in words. */
  readonly reason: string;
}

/** One feasible host's scores. */
export interface ScoredHost {
  /** Host id. */
  readonly hostId: string;
  /** Weighted sum of the normalised plugin scores. */
  readonly total: number;
  /** Normalised score of each score plugin (before weighting). */
  readonly byPlugin: Readonly<Record<string, number>>;
}

/** A decision's account of itself. */
export interface PlacementExplanation {
  /** Profile (policy) that made the decision. */
  readonly profile: string;
  /** Hosts considered (after pre-filters narrowed the set). */
  readonly considered: number;
  /** Filtered-out count per `plugin: reason`, always present. */
  readonly filteredSummary: Readonly<Record<string, number>>;
  /** Every filtered host with its reason (only when asked for with `explain: true`). */
  readonly filtered?: readonly FilteredHost[];
  /** Every feasible host's scores, best first (only with `explain: true`). */
  readonly scores?: readonly ScoredHost[];
  /** A pre-filter's reason when it rejected the request outright. */
  readonly rejectedBy?: { readonly plugin: string; readonly reason: string };
}

/** The outcome of one placement decision. */
export interface PlacementDecision {
  /** The VM placed. */
  readonly vmId: string;
  /** Chosen host, or undefined when no host is feasible. */
  readonly hostId: string | undefined;
  /** Number of feasible hosts. */
  readonly feasible: number;
  /** Why this host (and why not the others). */
  readonly explanation: PlacementExplanation;
}

/** Anything that places VMs: the itp pipeline, a learned policy, a third-party scheduler. */
export interface Placer {
  /** Hosts known to the placer, for checking its decisions. */
  readonly snapshot: PlacementSnapshot;
  /** Decides a host and records the VM as placed there (nothing recorded when no host is feasible). */
  place(request: PlacementRequest, options?: { readonly explain?: boolean }): Promise<PlacementDecision>;
  /** Forgets a placed VM, freeing its capacity; unknown ids throw a NovacronError. */
  remove(vmId: string): void;
}

/** A resource vector together with the host it applies to, as ledgers and reservations use it. */
export interface HostClaim {
  /** Host id. */
  readonly hostId: string;
  /** Amount claimed on that host. */
  readonly resources: ResourceVector;
}
