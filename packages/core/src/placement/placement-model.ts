import type { LinkMode } from '../link/link.js';
import type { Host, VmSpec } from '../resources.js';

/**
 * The placement vocabulary shared by itp (which decides) and providers
 * (which describe hosts). It extends core's {@link Host} and {@link VmSpec}
 * rather than replacing them, so a provider's host list is already a valid
 * placement inventory.
 */

/** Failure-domain levels, from narrowest to widest. Affinity terms name one as their scope. */
export type TopologyScope = 'host' | 'rack' | 'zone' | 'region';

/** Every {@link TopologyScope}, narrowest first. */
export const TOPOLOGY_SCOPES: readonly TopologyScope[] = ['host', 'rack', 'zone', 'region'];

/** A host's observed availability: the fraction of the observation window it was up. */
export interface UptimeRecord {
  /** Fraction of time up in the window, in [0, 1]. */
  readonly ratio: number;
  /** Length of the observation window in seconds (a short record is weaker evidence). */
  readonly windowSeconds?: number;
}

/** A host as the placement pipeline sees it. */
export interface PlacementHost extends Host {
  /** Rack (or any failure domain below the zone). */
  readonly rack?: string;
  /** Availability record, for `minUptime` constraints and the geographic objective. */
  readonly uptime?: UptimeRecord;
  /** Price of running on this host, per hour, in the operator's currency. */
  readonly costPerHour?: number;
  /** Measured latency in ms from this host to each user region (`eu-west` → 24). */
  readonly latencyMs?: Readonly<Record<string, number>>;
  /** A cordoned host keeps its VMs but receives no new ones. */
  readonly unschedulable?: boolean;
}

/** Kubernetes-style set-based requirement on one label. */
export interface LabelRequirement {
  /** Label key. */
  readonly key: string;
  /** `In`/`NotIn` compare with `values`; `Exists`/`DoesNotExist` ignore them. */
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** Values for `In` and `NotIn` (non-empty for those). */
  readonly values?: readonly string[];
}

/** Selects VMs (or hosts) by labels: every `matchLabels` pair and every expression must hold. */
export interface LabelSelector {
  /** Exact key = value pairs. */
  readonly matchLabels?: Readonly<Record<string, string>>;
  /** Set-based requirements. */
  readonly matchExpressions?: readonly LabelRequirement[];
}

/**
 * One affinity or anti-affinity term: "with (or away from) the VMs of
 * `group`, or those matching `selector`, within the same `scope` domain".
 * Exactly one of `group` and `selector` is set.
 */
export interface AffinityTerm {
  /** The failure domain the rule is about (same host, same zone, ...). */
  readonly scope: TopologyScope;
  /** Peers are the placed VMs whose {@link PlacementRequest.group} equals this. */
  readonly group?: string;
  /** Peers are the placed VMs whose labels match this selector. */
  readonly selector?: LabelSelector;
  /** For preferred terms only: strength in [1, 100] (default 1). */
  readonly weight?: number;
}

/** Required terms must hold; preferred terms add to the score when they hold. */
export interface AffinityRules {
  /** Hard rules: a host that breaks one is filtered out. */
  readonly required?: readonly AffinityTerm[];
  /** Soft rules: summed by weight into a score. */
  readonly preferred?: readonly AffinityTerm[];
}

/** Hard limits on where a VM may run beyond capacity and affinity. */
export interface PlacementConstraints {
  /** Maximum latency in ms from the host to each named user region. */
  readonly maxLatencyMs?: Readonly<Record<string, number>>;
  /** Minimum {@link UptimeRecord.ratio} of the host. */
  readonly minUptime?: number;
  /** Maximum {@link PlacementHost.costPerHour}. */
  readonly maxCostPerHour?: number;
  /** Only these regions. */
  readonly regions?: readonly string[];
  /** Only hosts whose labels match. */
  readonly hostSelector?: LabelSelector;
}

/** A request to place one VM. */
export interface PlacementRequest extends VmSpec {
  /** Group the VM belongs to (a service, a replica set); group-based affinity terms refer to it. */
  readonly group?: string;
  /** Run near these peers. */
  readonly affinity?: AffinityRules;
  /** Run away from these peers. */
  readonly antiAffinity?: AffinityRules;
  /** Latency, uptime, budget and region limits. */
  readonly constraints?: PlacementConstraints;
  /** Where the VM's users are: user region → share of traffic (weights, any positive scale). */
  readonly userRegions?: Readonly<Record<string, number>>;
  /** Network mode of the request's site, for mode-aware policy choice. */
  readonly networkMode?: LinkMode;
}
