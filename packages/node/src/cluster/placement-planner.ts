import type { PlacementHost, PlacementRequest, ResourceVector } from '@novacron/core';
import {
  geographicProfile,
  type ItpPlacementDecision,
  PlacementPipeline,
  type PlacementProfile,
  resourceProfile,
} from '@novacron/itp';
import type { HostRecord, VmRecord } from './records.js';

/** The placement policies a node can switch between (one per mode, see `mode.profiles`). */
export type PlacementPolicyName =
  | 'most-allocated'
  | 'least-allocated'
  | 'first-fit'
  | 'dot-product'
  | 'l2-alignment'
  | 'geographic';

/** Builds the profile for a policy; custom profiles can be registered by name. */
export type ProfileFactory = () => PlacementProfile;

const BUILT_IN: Record<PlacementPolicyName, ProfileFactory> = {
  'most-allocated': () => resourceProfile('most-allocated'),
  'least-allocated': () => resourceProfile('least-allocated'),
  'first-fit': () => resourceProfile('first-fit'),
  'dot-product': () => resourceProfile('dot-product'),
  'l2-alignment': () => resourceProfile('l2-alignment'),
  geographic: () => geographicProfile(),
};

/** The planner's input: the inventory and what is placed. */
export interface PlanningState {
  readonly hosts: readonly HostRecord[];
  readonly vms: readonly VmRecord[];
}

/**
 * Decides placements with itp's pipeline over the cluster state read from
 * the control log. A fresh pipeline per decision keeps it exactly in step
 * with the log (placed VMs, cordoned hosts); capacity is then claimed in
 * the capacity ledger, which is the authority against overcommit.
 */
export class PlacementPlanner {
  readonly #profiles = new Map<string, ProfileFactory>(Object.entries(BUILT_IN));

  /** Registers a custom placement profile under `name` (usable as a mode's `placementPolicy`). */
  register(name: string, factory: ProfileFactory): void {
    this.#profiles.set(name, factory);
  }

  /** Known policy names. */
  get policies(): string[] {
    return [...this.#profiles.keys()];
  }

  /** Decides a host for `request` under `policy`, with an explanation; changes nothing. */
  decide(state: PlanningState, request: PlacementRequest, policy: string, explain = true): ItpPlacementDecision {
    const pipeline = this.#pipeline(state, policy);
    return pipeline.decide(request, { explain });
  }

  #pipeline(state: PlanningState, policy: string): PlacementPipeline {
    const factory = this.#profiles.get(policy) ?? BUILT_IN['most-allocated'];
    const hosts: PlacementHost[] = state.hosts.map((h) => ({
      id: h.id,
      nodeId: h.nodeId,
      capacity: h.capacity,
      labels: h.labels,
      ...(h.zone ? { zone: h.zone } : {}),
      ...(h.region ? { region: h.region } : {}),
      unschedulable: !h.schedulable,
    }));
    const pipeline = new PlacementPipeline({ hosts, profiles: [factory()] });
    const snap = pipeline.snapshot;
    for (const vm of state.vms) {
      if (vm.hostId === null) continue;
      const host = snap.indexOf(vm.hostId);
      if (host < 0) continue;
      snap.assign(vm.request, demandVector(vm.request.resources, snap.dimensions), host);
    }
    return pipeline;
  }
}

/** A resource vector in the pipeline's dimension order. */
export function demandVector(r: ResourceVector, dimensions: readonly string[]): Float64Array {
  const out = new Float64Array(dimensions.length);
  dimensions.forEach((d, i) => {
    const base = (r as unknown as Record<string, number | undefined>)[d];
    out[i] = typeof base === 'number' ? base : (r.extended?.[d] ?? 0);
  });
  return out;
}
