import type { AffinityTerm, FilterPlugin, PlacementContext, PreFilterPlugin } from '@novacron/core';
import { ClusterState } from '../cluster-state.js';
import { matchesSelector } from '../label-selector.js';

interface Probe {
  readonly counts: Map<number, number>;
  readonly domains: Int32Array;
  /** Builds the rejection reason; only called for hosts that are rejected, so the hot path allocates no strings. */
  readonly reason: () => string;
}

interface AffinityCycle {
  /** Host must have peers in its domain for each of these. */
  readonly need: Probe[];
  /** Host must have none in its domain for each of these. */
  readonly avoid: Probe[];
}

const KEY = 'itp/required-affinity';
const NOTHING: AffinityCycle = { need: [], avoid: [] };

function selfMatches(ctx: PlacementContext, term: AffinityTerm): boolean {
  const r = ctx.request;
  return term.group !== undefined ? r.group === term.group : matchesSelector(term.selector!, r.labels);
}

const describe = (t: AffinityTerm) => (t.group !== undefined ? `group ${t.group}` : 'selector');

/**
 * Required affinity and anti-affinity, both halves: the newcomer's own
 * terms, and the required anti-affinity terms of placed VMs that the
 * newcomer matches. The pre-filter resolves each term to an index probe
 * once, so the per-host filter costs one map lookup per term rather than a
 * scan of placed VMs. As in Kubernetes, a required affinity term whose
 * peers do not exist yet is satisfied anywhere if the VM is its own peer
 * (the first replica of a co-located group).
 */
export function requiredAffinity(): { preFilter: PreFilterPlugin; filter: FilterPlugin } {
  const preFilter: PreFilterPlugin = {
    name: 'required-affinity',
    preFilter(ctx) {
      const state = ctx.snapshot;
      if (!(state instanceof ClusterState)) return { ok: true };
      const need: Probe[] = [];
      const avoid: Probe[] = [];
      for (const term of ctx.request.affinity?.required ?? []) {
        const probe = state.peerProbe(term);
        if (!probe) {
          if (selfMatches(ctx, term)) continue;
          return { ok: false, reason: `no placed VM matches required affinity to ${describe(term)} (${term.scope})` };
        }
        need.push({
          counts: probe.counts,
          domains: probe.domains,
          reason: () => `no ${describe(term)} peer in this ${term.scope}`,
        });
      }
      for (const term of ctx.request.antiAffinity?.required ?? []) {
        const probe = state.peerProbe(term);
        if (probe)
          avoid.push({
            counts: probe.counts,
            domains: probe.domains,
            reason: () => `${describe(term)} peer already in this ${term.scope}`,
          });
      }
      for (const h of state.holderProbes(ctx.request))
        avoid.push({
          counts: h.counts,
          domains: h.domains,
          reason: () => `a placed VM requires no ${describe(h.term)} peer in its ${h.term.scope}`,
        });
      const cycle: AffinityCycle = { need, avoid };
      ctx.cycle.set(KEY, need.length === 0 && avoid.length === 0 ? NOTHING : cycle);
      return { ok: true };
    },
  };
  const filter: FilterPlugin = {
    name: 'required-affinity',
    filter(ctx, host) {
      const c = ctx.cycle.get(KEY) as AffinityCycle | undefined;
      if (c === undefined) {
        // A snapshot without indexes: fall back to its generic count.
        for (const t of ctx.request.affinity?.required ?? [])
          if (ctx.snapshot.countPeers(t, host) === 0 && !selfMatches(ctx, t))
            return `no ${describe(t)} peer in this ${t.scope}`;
        for (const t of ctx.request.antiAffinity?.required ?? [])
          if (ctx.snapshot.countPeers(t, host) > 0) return `${describe(t)} peer already in this ${t.scope}`;
        return undefined;
      }
      for (const p of c.need) {
        const d = p.domains[host]!;
        if (d < 0 || !p.counts.has(d)) return p.reason();
      }
      for (const p of c.avoid) {
        const d = p.domains[host]!;
        if (d >= 0 && p.counts.has(d)) return p.reason();
      }
      return undefined;
    },
  };
  return { preFilter, filter };
}
