import type { FilterPlugin, PlacementContext, PlacementDecision, PreFilterPlugin } from '@novacron/core';
import type { ClusterState, PlacedVm } from './cluster-state.js';

/** A VM a preemption would evict. */
export interface PreemptionVictim {
  /** The VM. */
  readonly vmId: string;
  /** Its priority (absent counts as 0); always strictly below the preemptor's. */
  readonly priority: number;
}

/** A proposed preemption: evict `victims` from `hostId` and the request fits there. */
export interface PreemptionProposal {
  /** The host to free room on. */
  readonly hostId: string;
  /** The VMs to evict, lowest priority first. */
  readonly victims: readonly PreemptionVictim[];
  /** Hosts on which some eviction of lower-priority VMs would have made room. */
  readonly candidateHosts: number;
  /** Why this host and these victims, in words. */
  readonly reason: string;
}

/** A placement decision of {@link PlacementPipeline}, with preemption when it applies. */
export interface ItpPlacementDecision extends PlacementDecision {
  /**
   * Present when no host fits as things are but evicting lower-priority
   * VMs from one host would make room. `decide` and `place` without
   * `preempt: true` only propose it; nothing is evicted.
   */
  readonly preemption?: PreemptionProposal;
  /** VMs evicted to place this one (`place` with `preempt: true` only); the caller must stop them. */
  readonly preempted?: readonly string[];
}

/** The plugins a preemption must satisfy on the target host after eviction. */
export interface PreemptionChecks {
  readonly preFilters: readonly PreFilterPlugin[];
  readonly filters: readonly FilterPlugin[];
}

const prio = (vm: PlacedVm) => vm.request.priority ?? 0;

/**
 * Finds the best preemption for `ctx.request`, Kubernetes-style: on each
 * host holding lower-priority VMs, evict all of them and check the request
 * passes every pre-filter and filter there (capacity, required affinity and
 * anti-affinity both halves, constraints); if it does, put victims back
 * highest priority first wherever the request still fits (the
 * "reprieve"), which leaves a minimal set. A host is refused if the
 * eviction would leave a remaining VM's required affinity with no peer
 * that it had before. Among the hosts that work, the choice minimises the
 * highest victim priority, then the number of victims, then the sum of
 * their priorities, then the host index. The state is restored exactly
 * (same VMs on the same hosts) before returning.
 */
export function proposePreemption(
  state: ClusterState,
  ctx: PlacementContext,
  checks: PreemptionChecks,
): PreemptionProposal | undefined {
  const p = ctx.request.priority ?? 0;
  if (!state.hasPriorityBelow(p)) return undefined;
  const byHost = new Map<number, PlacedVm[]>();
  for (const vm of state.vms.values()) {
    if (prio(vm) >= p) continue;
    const list = byHost.get(vm.host);
    if (list) list.push(vm);
    else byHost.set(vm.host, [vm]);
  }
  const fitsOn = (host: number): boolean => {
    const c: PlacementContext = { request: ctx.request, demand: ctx.demand, snapshot: state, cycle: new Map() };
    for (const pf of checks.preFilters) {
      const r = pf.preFilter(c);
      if (!r.ok) return false;
      if (r.candidates && !r.candidates.includes(host)) return false;
    }
    for (const f of checks.filters) if (f.filter(c, host) !== undefined) return false;
    return true;
  };
  const holders = [...state.vms.values()].filter((vm) => (vm.request.affinity?.required?.length ?? 0) > 0);
  const brokenBefore = brokenAffinity(state, holders);
  let best: { host: number; victims: PlacedVm[]; key: number[] } | undefined;
  let candidateHosts = 0;
  for (const host of [...byHost.keys()].sort((a, b) => a - b)) {
    // Highest priority first for the reprieve; bigger first among equals, so
    // the VMs kept are the ones that would cost most to evict.
    const lower = byHost
      .get(host)!
      .sort((a, b) => prio(b) - prio(a) || cpuOf(b) - cpuOf(a) || (a.request.id < b.request.id ? -1 : 1));
    for (const vm of lower) state.release(vm.request.id);
    const victims: PlacedVm[] = [];
    try {
      if (!fitsOn(host)) continue;
      for (const vm of lower) {
        state.assign(vm.request, vm.demand, host);
        if (!fitsOn(host)) {
          state.release(vm.request.id);
          victims.push(vm);
        }
      }
      if (introducesBrokenAffinity(state, holders, brokenBefore)) continue;
      candidateHosts++;
      const key = [Math.max(...victims.map(prio)), victims.length, victims.reduce((a, v) => a + prio(v), 0), host];
      if (!best || less(key, best.key)) best = { host, victims, key };
    } finally {
      // Restore exactly: whatever of `lower` is out goes back.
      for (const vm of lower) if (!state.vm(vm.request.id)) state.assign(vm.request, vm.demand, host);
    }
  }
  if (!best) return undefined;
  const victims = best.victims
    .map((v) => ({ vmId: v.request.id, priority: prio(v) }))
    .sort((a, b) => a.priority - b.priority || (a.vmId < b.vmId ? -1 : 1));
  const hostId = state.hosts[best.host]!.id;
  return {
    hostId,
    victims,
    candidateHosts,
    reason:
      `no host fits at priority ${p}; evicting ${victims.length} VM(s) of priority <= ${best.key[0]} on ${hostId} makes room ` +
      `(${candidateHosts} host(s) could; chosen by lowest highest-victim priority, then fewest victims, then lowest priority sum)`,
  };
}

const cpuOf = (vm: PlacedVm) => vm.demand[0] ?? 0;

function less(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** Placed VMs whose required affinity term has no peer in its domain (a VM that is its own peer counts). */
function brokenAffinity(state: ClusterState, holders: readonly PlacedVm[]): Set<string> {
  const out = new Set<string>();
  for (const vm of holders)
    if (state.vm(vm.request.id))
      for (const t of vm.request.affinity?.required ?? [])
        if (state.countPeers(t, vm.host) === 0) out.add(`${vm.request.id}\u0000${termKey(t)}`);
  return out;
}

function introducesBrokenAffinity(
  state: ClusterState,
  holders: readonly PlacedVm[],
  before: ReadonlySet<string>,
): boolean {
  if (holders.length === 0) return false;
  for (const k of brokenAffinity(state, holders)) if (!before.has(k)) return true;
  return false;
}

const termKey = (t: { scope: string; group?: string; selector?: unknown }) =>
  `${t.scope}|${t.group ?? ''}|${JSON.stringify(t.selector ?? null)}`;
