import {
  type AffinityTerm,
  type LabelSelector,
  NovacronError,
  type PlacementHost,
  type PlacementRequest,
  type PlacementSnapshot,
  TOPOLOGY_SCOPES,
  type TopologyScope,
  validateResourceVector,
} from '@novacron/core';
import { BASE_DIMENSIONS, vectorInto } from './dimensions.js';
import { ItpErrorCode } from './errors.js';
import { matchesSelector, selectorKey } from './label-selector.js';
import type { InventoryKeys } from './validate-request.js';

/** Counts of VMs per topology domain, one sparse map per scope, plus the total. */
class DomainCounts {
  total = 0;
  readonly byScope: Map<number, number>[] = TOPOLOGY_SCOPES.map(() => new Map());

  add(domains: readonly Int32Array[], host: number, delta: number): void {
    this.total += delta;
    for (let s = 0; s < domains.length; s++) {
      const d = domains[s]![host]!;
      if (d < 0) continue;
      const m = this.byScope[s]!;
      const n = (m.get(d) ?? 0) + delta;
      if (n === 0) m.delete(d);
      else m.set(d, n);
    }
  }
}

/** A VM the state holds. */
export interface PlacedVm {
  /** The request it was placed with. */
  readonly request: PlacementRequest;
  /** Its demand in the state's dimension order. */
  readonly demand: Float64Array;
  /** Index of its host. */
  readonly host: number;
}

/** Resolution of the free-CPU index: 1/511 of the largest host's CPU per bucket. */
const FREE_BUCKETS = 512;

const SCOPE_INDEX: Record<TopologyScope, number> = { host: 0, rack: 1, zone: 2, region: 3 };

/**
 * The inventory and what is placed on it, with the indexes that make
 * affinity cheap: for every VM group and every label selector some term
 * has used, a count of member VMs per host, rack, zone and region; and for
 * every required anti-affinity term held by a placed VM, a count of its
 * holders per domain (so a newcomer that matches the term is kept out of
 * their domains, the rule's symmetric half). Checking a term on a host is
 * then one map lookup, not a scan of the VMs.
 *
 * Selector indexes are built on first use and then kept up to date; their
 * number is bounded by the distinct selectors the workload uses.
 */
export class ClusterState implements PlacementSnapshot {
  readonly hosts: readonly PlacementHost[];
  readonly dimensions: readonly string[];
  /** Inventory facts used to validate requests. */
  readonly keys: InventoryKeys;
  readonly #d: number;
  readonly #cap: Float64Array;
  readonly #used: Float64Array;
  readonly #ids = new Map<string, number>();
  /** Host → domain index, per scope in {@link TOPOLOGY_SCOPES} order (-1: host has no such domain). */
  readonly #domains: Int32Array[];
  readonly #domainNames: string[][];
  readonly #vms = new Map<string, PlacedVm>();
  /** Placed VMs per priority (absent = 0), so preemption knows at once whether anything is below. */
  readonly #priorities = new Map<number, number>();
  readonly #groups = new Map<string, DomainCounts>();
  readonly #selectors = new Map<string, { selector: LabelSelector; counts: DomainCounts }>();
  /** Required anti-affinity terms held by placed VMs: term key → holders per domain. */
  readonly #antiHolders = new Map<string, { term: AffinityTerm; counts: DomainCounts }>();
  /** Keys of #antiHolders whose term uses a selector (checked against every newcomer). */
  readonly #antiSelectorKeys = new Set<string>();
  /** Hosts bucketed by free CPU (dimension 0): bucket lists, each host's bucket and slot in it. */
  readonly #buckets: number[][];
  readonly #bucketOf: Int32Array;
  readonly #slotOf: Int32Array;
  readonly #bucketWidth: number;

  constructor(hosts: readonly PlacementHost[]) {
    const extended = new Set<string>();
    for (const [i, h] of hosts.entries()) {
      if (typeof h?.id !== 'string' || h.id === '')
        throw new NovacronError(ItpErrorCode.INVALID_REQUEST, `hosts[${i}].id: expected a non-empty string`, {
          details: { argument: `hosts[${i}].id` },
        });
      if (this.#ids.has(h.id))
        throw new NovacronError(ItpErrorCode.DUPLICATE_ID, `host id ${h.id} appears twice`, {
          details: { hostId: h.id },
        });
      try {
        validateResourceVector(`hosts[${i}].capacity`, h.capacity);
      } catch (err) {
        throw new NovacronError(ItpErrorCode.INVALID_REQUEST, `hosts[${i}].capacity is invalid`, {
          details: { argument: `hosts[${i}].capacity` },
          cause: err,
        });
      }
      this.#ids.set(h.id, i);
      for (const k of Object.keys(h.capacity.extended ?? {})) extended.add(k);
    }
    this.hosts = [...hosts];
    this.dimensions = [...BASE_DIMENSIONS, ...[...extended].sort()];
    this.#d = this.dimensions.length;
    this.#cap = new Float64Array(hosts.length * this.#d);
    this.#used = new Float64Array(hosts.length * this.#d);
    const row = new Float64Array(this.#d);
    for (const [i, h] of hosts.entries()) {
      vectorInto(h.capacity, this.dimensions, row);
      this.#cap.set(row, i * this.#d);
    }
    let maxCpu = 0;
    for (const h of hosts) maxCpu = Math.max(maxCpu, h.capacity.cpuMillis);
    this.#bucketWidth = Math.max(1, maxCpu) / (FREE_BUCKETS - 1);
    this.#buckets = Array.from({ length: FREE_BUCKETS }, () => []);
    this.#bucketOf = new Int32Array(hosts.length);
    this.#slotOf = new Int32Array(hosts.length);
    for (let i = 0; i < hosts.length; i++) {
      const b = this.#bucketFor(i);
      this.#bucketOf[i] = b;
      this.#slotOf[i] = this.#buckets[b]!.length;
      this.#buckets[b]!.push(i);
    }
    const scopes = new Set<TopologyScope>(['host']);
    const regions = new Set<string>();
    const userRegions = new Set<string>();
    this.#domains = [];
    this.#domainNames = [];
    for (const scope of TOPOLOGY_SCOPES) {
      const ids = new Int32Array(hosts.length).fill(-1);
      const names: string[] = [];
      const byName = new Map<string, number>();
      for (const [i, h] of hosts.entries()) {
        // Racks and zones are only unique inside their zone and region.
        const name =
          scope === 'host'
            ? h.id
            : scope === 'rack'
              ? h.rack === undefined
                ? undefined
                : `${h.region ?? ''}/${h.zone ?? ''}/${h.rack}`
              : scope === 'zone'
                ? h.zone === undefined
                  ? undefined
                  : `${h.region ?? ''}/${h.zone}`
                : h.region;
        if (name === undefined) continue;
        scopes.add(scope);
        let d = byName.get(name);
        if (d === undefined) {
          d = names.length;
          names.push(name);
          byName.set(name, d);
        }
        ids[i] = d;
      }
      this.#domains.push(ids);
      this.#domainNames.push(names);
    }
    for (const h of hosts) {
      if (h.region !== undefined) regions.add(h.region);
      for (const r of Object.keys(h.latencyMs ?? {})) userRegions.add(r);
    }
    this.keys = { scopes, regions, userRegions };
  }

  #bucketFor(host: number): number {
    const free = this.#cap[host * this.#d]! - this.#used[host * this.#d]!;
    return Math.min(FREE_BUCKETS - 1, Math.max(0, Math.floor(free / this.#bucketWidth)));
  }

  #rebucket(host: number): void {
    const b = this.#bucketFor(host);
    const old = this.#bucketOf[host]!;
    if (b === old) return;
    const list = this.#buckets[old]!;
    const slot = this.#slotOf[host]!;
    const last = list.pop()!;
    if (last !== host) {
      list[slot] = last;
      this.#slotOf[last] = slot;
    }
    this.#bucketOf[host] = b;
    this.#slotOf[host] = this.#buckets[b]!.length;
    this.#buckets[b]!.push(host);
  }

  /**
   * Visits hosts bucket by bucket in order of free CPU: ascending from the
   * bucket holding `minFreeCpu` (tightest first, for best fit) or
   * descending down to it (loosest first, for spread). Hosts below that
   * bucket have less free CPU than asked and are skipped. `done` is asked
   * after each host; hosts inside one bucket differ by less than 1/511 of
   * the largest host's CPU, so stopping mid-bucket loses next to nothing.
   */
  scanByFreeCpu(minFreeCpu: number, ascending: boolean, onHost: (host: number) => void, done: () => boolean): void {
    const start = Math.min(FREE_BUCKETS - 1, Math.max(0, Math.floor(minFreeCpu / this.#bucketWidth)));
    if (ascending) {
      for (let b = start; b < FREE_BUCKETS; b++) {
        const list = this.#buckets[b]!;
        if (list.length === 0) continue;
        for (let i = 0; i < list.length; i++) {
          onHost(list[i]!);
          if (done()) return;
        }
      }
    } else {
      for (let b = FREE_BUCKETS - 1; b >= start; b--) {
        const list = this.#buckets[b]!;
        if (list.length === 0) continue;
        for (let i = 0; i < list.length; i++) {
          onHost(list[i]!);
          if (done()) return;
        }
      }
    }
  }

  capacity(host: number, dim: number): number {
    return this.#cap[host * this.#d + dim]!;
  }

  used(host: number, dim: number): number {
    return this.#used[host * this.#d + dim]!;
  }

  /** True when `demand` fits in what host `host` has left, in every dimension. */
  fits(host: number, demand: Float64Array): boolean {
    const base = host * this.#d;
    for (let d = 0; d < this.#d; d++) {
      const x = demand[d]!;
      if (x > 0 && this.#used[base + d]! + x > this.#cap[base + d]!) return false;
    }
    return true;
  }

  domainOf(host: number, scope: TopologyScope): string | undefined {
    const d = this.#domains[SCOPE_INDEX[scope]]![host]!;
    return d < 0 ? undefined : this.#domainNames[SCOPE_INDEX[scope]]![d];
  }

  indexOf(id: string): number {
    return this.#ids.get(id) ?? -1;
  }

  /** The placed VM with this id, if any. */
  vm(id: string): PlacedVm | undefined {
    return this.#vms.get(id);
  }

  /** True when some placed VM has a priority below `priority` (absent priorities count as 0). */
  hasPriorityBelow(priority: number): boolean {
    for (const p of this.#priorities.keys()) if (p < priority) return true;
    return false;
  }

  /** Every placed VM (live view, do not mutate). */
  get vms(): ReadonlyMap<string, PlacedVm> {
    return this.#vms;
  }

  #peerCounts(term: AffinityTerm): DomainCounts | undefined {
    if (term.group !== undefined) return this.#groups.get(term.group);
    const key = selectorKey(term.selector!);
    let entry = this.#selectors.get(key);
    if (!entry) {
      entry = { selector: term.selector!, counts: new DomainCounts() };
      for (const vm of this.#vms.values())
        if (matchesSelector(term.selector!, vm.request.labels)) entry.counts.add(this.#domains, vm.host, 1);
      this.#selectors.set(key, entry);
    }
    return entry.counts;
  }

  /** Number of placed peers of `term` anywhere (0 means the term's peers do not exist yet). */
  totalPeers(term: AffinityTerm): number {
    return this.#peerCounts(term)?.total ?? 0;
  }

  countPeers(term: AffinityTerm, host: number): number {
    const counts = this.#peerCounts(term);
    if (!counts || counts.total === 0) return 0;
    const s = SCOPE_INDEX[term.scope];
    const d = this.#domains[s]![host]!;
    return d < 0 ? 0 : (counts.byScope[s]!.get(d) ?? 0);
  }

  /**
   * A per-host probe for a term, resolved once per decision: returns the
   * count map and domain column so the per-host check is two array/map reads.
   */
  peerProbe(term: AffinityTerm): { counts: Map<number, number>; domains: Int32Array } | undefined {
    const c = this.#peerCounts(term);
    if (!c || c.total === 0) return undefined;
    const s = SCOPE_INDEX[term.scope];
    return { counts: c.byScope[s]!, domains: this.#domains[s]! };
  }

  /**
   * Probes for the required anti-affinity terms of placed VMs that a newcomer
   * with `request`'s group and labels would violate (the symmetric half of
   * anti-affinity).
   */
  holderProbes(request: PlacementRequest): { term: AffinityTerm; counts: Map<number, number>; domains: Int32Array }[] {
    const out: { term: AffinityTerm; counts: Map<number, number>; domains: Int32Array }[] = [];
    const push = (entry: { term: AffinityTerm; counts: DomainCounts } | undefined) => {
      if (!entry || entry.counts.total === 0) return;
      const s = SCOPE_INDEX[entry.term.scope];
      out.push({ term: entry.term, counts: entry.counts.byScope[s]!, domains: this.#domains[s]! });
    };
    if (request.group !== undefined)
      for (const scope of TOPOLOGY_SCOPES) push(this.#antiHolders.get(`${scope}|g:${request.group}`));
    for (const key of this.#antiSelectorKeys) {
      const entry = this.#antiHolders.get(key)!;
      if (matchesSelector(entry.term.selector!, request.labels)) push(entry);
    }
    return out;
  }

  /** Records `request` as running on host `host` (the caller has checked feasibility). */
  assign(request: PlacementRequest, demand: Float64Array, host: number): void {
    if (this.#vms.has(request.id))
      throw new NovacronError(ItpErrorCode.DUPLICATE_ID, `VM ${request.id} is already placed`, {
        details: { vmId: request.id },
      });
    const base = host * this.#d;
    for (let d = 0; d < this.#d; d++) this.#used[base + d]! += demand[d]!;
    this.#rebucket(host);
    this.#vms.set(request.id, { request, demand, host });
    this.#index(request, host, 1);
    const p = request.priority ?? 0;
    this.#priorities.set(p, (this.#priorities.get(p) ?? 0) + 1);
  }

  /** Forgets a placed VM and frees its capacity; returns it. */
  release(vmId: string): PlacedVm {
    const vm = this.#vms.get(vmId);
    if (!vm) throw new NovacronError(ItpErrorCode.UNKNOWN_VM, `VM ${vmId} is not placed`, { details: { vmId } });
    const base = vm.host * this.#d;
    for (let d = 0; d < this.#d; d++) {
      const v = this.#used[base + d]! - vm.demand[d]!;
      // Repeated float sums can leave dust below zero; capacity is never negative.
      this.#used[base + d] = v < 1e-9 ? 0 : v;
    }
    this.#rebucket(vm.host);
    this.#vms.delete(vmId);
    this.#index(vm.request, vm.host, -1);
    const p = vm.request.priority ?? 0;
    const n = (this.#priorities.get(p) ?? 0) - 1;
    if (n > 0) this.#priorities.set(p, n);
    else this.#priorities.delete(p);
    return vm;
  }

  #index(request: PlacementRequest, host: number, delta: number): void {
    if (request.group !== undefined) {
      let g = this.#groups.get(request.group);
      if (!g) {
        g = new DomainCounts();
        this.#groups.set(request.group, g);
      }
      g.add(this.#domains, host, delta);
      if (g.total === 0) this.#groups.delete(request.group);
    }
    for (const entry of this.#selectors.values())
      if (matchesSelector(entry.selector, request.labels)) entry.counts.add(this.#domains, host, delta);
    for (const term of request.antiAffinity?.required ?? []) {
      const isSelector = term.group === undefined;
      const key = `${term.scope}|${isSelector ? `s:${selectorKey(term.selector!)}` : `g:${term.group}`}`;
      let entry = this.#antiHolders.get(key);
      if (!entry) {
        entry = { term, counts: new DomainCounts() };
        this.#antiHolders.set(key, entry);
        if (isSelector) this.#antiSelectorKeys.add(key);
      }
      entry.counts.add(this.#domains, host, delta);
      if (entry.counts.total === 0) {
        this.#antiHolders.delete(key);
        this.#antiSelectorKeys.delete(key);
      }
    }
  }
}
