import { assertInteger, type PlacementContext } from '@novacron/core';
import type { ClusterState } from './cluster-state.js';
import { requiredAffinity } from './plugins/affinity-filter.js';
import { capacityFit } from './plugins/capacity-fit.js';
import { constraintsFilter } from './plugins/constraints-filter.js';

/** One proposed migration. */
export interface Migration {
  /** VM to move. */
  readonly vmId: string;
  /** Host it runs on now. */
  readonly from: string;
  /** Host to move it to. */
  readonly to: string;
}

/** A rebalancing plan: apply the migrations in order. */
export interface RebalancePlan {
  /** Migrations, each valid (capacity, required rules, constraints) given the ones before it. */
  readonly migrations: readonly Migration[];
  /** Hosts left empty by the plan. */
  readonly freedHosts: readonly string[];
}

/** Options of {@link planRebalance}. */
export interface RebalanceOptions {
  /** Upper bound on migrations in the plan. */
  readonly maxMigrations: number;
}

/**
 * Proposes at most `maxMigrations` migrations that empty as many hosts as
 * possible (greedy local search, in the spirit of consolidation planners):
 * the least-loaded non-empty hosts are tried first; a host is drained only
 * if every VM on it can move, best fit, onto another non-empty host that is
 * not itself being drained, checking each move with the same capacity,
 * required affinity/anti-affinity and constraint filters as placement,
 * against the state left by the moves before it. The state is restored
 * before returning: the plan is a proposal, not an action.
 */
export function planRebalance(state: ClusterState, options: RebalanceOptions): RebalancePlan {
  assertInteger('options.maxMigrations', options?.maxMigrations, { min: 0 });
  const nHosts = state.hosts.length;
  const count = new Int32Array(nHosts);
  const load = new Float64Array(nHosts);
  for (const vm of state.vms.values()) {
    count[vm.host]!++;
    load[vm.host]! += state.capacity(vm.host, 0) > 0 ? vm.demand[0]! / state.capacity(vm.host, 0) : 0;
  }
  const order = [...Array(nHosts).keys()].filter((h) => count[h]! > 0).sort((a, b) => load[a]! - load[b]! || a - b);
  const affinity = requiredAffinity();
  const filters = [capacityFit(), affinity.filter, constraintsFilter()];
  const draining = new Uint8Array(nHosts);
  const done: { vmId: string; from: number; to: number }[] = [];
  const freed: number[] = [];
  let budget = options.maxMigrations;

  const vmsOn = (h: number) => [...state.vms.values()].filter((v) => v.host === h);
  for (const src of order) {
    const vms = vmsOn(src);
    if (vms.length === 0 || vms.length > budget) continue;
    draining[src] = 1;
    const moves: { vmId: string; from: number; to: number }[] = [];
    let ok = true;
    for (const vm of vms) {
      state.release(vm.request.id);
      const ctx: PlacementContext = { request: vm.request, demand: vm.demand, snapshot: state, cycle: new Map() };
      let best = -1;
      let bestScore = Number.NEGATIVE_INFINITY;
      if (affinity.preFilter.preFilter(ctx).ok)
        for (let h = 0; h < nHosts; h++) {
          if (draining[h] || count[h] === 0) continue;
          if (filters.some((f) => f.filter(ctx, h) !== undefined)) continue;
          // Best fit on CPU: the fullest host that still takes the VM.
          const score = state.used(h, 0) / Math.max(1, state.capacity(h, 0));
          if (score > bestScore) {
            bestScore = score;
            best = h;
          }
        }
      if (best < 0) {
        state.assign(vm.request, vm.demand, src);
        ok = false;
        break;
      }
      state.assign(vm.request, vm.demand, best);
      count[best]!++;
      moves.push({ vmId: vm.request.id, from: src, to: best });
    }
    if (!ok) {
      for (const m of moves.reverse()) {
        const v = state.release(m.vmId);
        count[m.to]!--;
        state.assign(v.request, v.demand, m.from);
      }
      draining[src] = 0;
      continue;
    }
    count[src] = 0;
    budget -= moves.length;
    done.push(...moves);
    freed.push(src);
  }
  // Restore the state: the caller decides whether to carry the plan out.
  for (const m of [...done].reverse()) {
    const v = state.release(m.vmId);
    state.assign(v.request, v.demand, m.from);
  }
  return {
    migrations: done.map((m) => ({ vmId: m.vmId, from: state.hosts[m.from]!.id, to: state.hosts[m.to]!.id })),
    freedHosts: freed.map((h) => state.hosts[h]!.id),
  };
}
