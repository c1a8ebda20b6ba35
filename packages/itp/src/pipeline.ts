import {
  type BindPlugin,
  type Counter,
  type FilteredHost,
  type FilterPlugin,
  type Logger,
  type Metrics,
  NovacronError,
  type PlacementContext,
  type PlacementDecision,
  type PlacementHost,
  type PlacementRequest,
  type Placer,
  type PreFilterPlugin,
  type ReservePlugin,
  type ScoredHost,
  type ScorePlugin,
} from '@novacron/core';
import { ClusterState, type PlacedVm } from './cluster-state.js';
import { vectorInto } from './dimensions.js';
import { ItpErrorCode } from './errors.js';
import { type ItpPlacementDecision, proposePreemption } from './preemption.js';
import { validatePlacementRequest } from './validate-request.js';

/** A score plugin with its weight in the total. */
export interface WeightedScorer {
  /** The plugin. */
  readonly plugin: ScorePlugin;
  /** Multiplier of its normalised score (> 0; default 1). */
  readonly weight?: number;
}

/** One policy: the plugins at each extension point, like a Kubernetes scheduler profile. */
export interface PlacementProfile {
  /** Profile name, used by choosers and in explanations. */
  readonly name: string;
  /** Run once per decision, in order. */
  readonly preFilters?: readonly PreFilterPlugin[];
  /** Run per host, in order; the first to object wins. */
  readonly filters: readonly FilterPlugin[];
  /** Scored and normalised over the feasible hosts, then summed by weight. */
  readonly scorers: readonly WeightedScorer[];
  /** Claim the chosen host's capacity (e.g. in a capacity ledger). */
  readonly reservers?: readonly ReservePlugin[];
  /** Make the decision real once reserved. */
  readonly binders?: readonly BindPlugin[];
  /**
   * Examine hosts through the free-CPU index instead of all of them:
   * `tightest-first` (best fit) or `loosest-first` (spread) visits hosts
   * in that order and stops as soon as `minFeasible` hosts passed every
   * filter. If fewer pass, every host with
   * enough free CPU is visited, so "no host" still means none is feasible.
   * Default: a full scan.
   */
  readonly candidateOrder?: { readonly order: 'tightest-first' | 'loosest-first'; readonly minFeasible: number };
}

/** Picks the profile for a request (see {@link hybridChooser}). */
export type ProfileChooser = (request: PlacementRequest) => string;

/** Options of {@link PlacementPipeline}. */
export interface PlacementPipelineInit {
  /** The inventory. */
  readonly hosts: readonly PlacementHost[];
  /** At least one profile; the first is the default. */
  readonly profiles: readonly PlacementProfile[];
  /** Chooses a profile per request; default: always the first. */
  readonly chooseProfile?: ProfileChooser;
  /** Debug log of decisions (optional). */
  readonly logger?: Logger;
  /** `itp_placements_total`, `itp_unschedulable_total` counters (optional). */
  readonly metrics?: Metrics;
}

/** Options of one placement. */
export interface PlaceOptions {
  /** Record every filtered host and every score (costs an allocation per host). */
  readonly explain?: boolean;
  /**
   * When no host fits, evict the lower-priority VMs of the decision's
   * `preemption` proposal and place the VM there (`place`/`placeGang`
   * only). Without it a proposal is returned and nothing is evicted.
   */
  readonly preempt?: boolean;
}

/**
 * The placement pipeline: pre-filter → filter → score → normalise → select
 * → reserve → bind, with unreserve on failure. `decide` is pure (it
 * changes nothing); `place` decides, records the VM in the state, reserves
 * and binds, and undoes all of it if a reserve or bind plugin throws.
 * Selection takes the highest total, ties to the lowest host index, so a
 * run is deterministic.
 */
export class PlacementPipeline implements Placer {
  /** The inventory and placed VMs, with affinity indexes. */
  readonly snapshot: ClusterState;
  readonly #profiles = new Map<string, PlacementProfile>();
  readonly #choose: ProfileChooser;
  readonly #logger: Logger | undefined;
  readonly #placed: Counter | undefined;
  readonly #unschedulable: Counter | undefined;
  readonly #all: number[];

  constructor(init: PlacementPipelineInit) {
    if (!Array.isArray(init.profiles) || init.profiles.length === 0)
      throw new NovacronError(ItpErrorCode.INVALID_CONFIG, 'at least one placement profile is required', {
        details: {},
      });
    for (const p of init.profiles) {
      if (this.#profiles.has(p.name))
        throw new NovacronError(ItpErrorCode.INVALID_CONFIG, `profile ${p.name} is defined twice`, {
          details: { profile: p.name },
        });
      for (const s of p.scorers)
        if (s.weight !== undefined && !(s.weight > 0 && Number.isFinite(s.weight)))
          throw new NovacronError(
            ItpErrorCode.INVALID_CONFIG,
            `scorer ${s.plugin.name} in ${p.name}: weight must be > 0`,
            {
              details: { profile: p.name, plugin: s.plugin.name },
            },
          );
      this.#profiles.set(p.name, p);
    }
    this.snapshot = new ClusterState(init.hosts);
    const first = init.profiles[0]!.name;
    this.#choose = init.chooseProfile ?? (() => first);
    this.#logger = init.logger;
    this.#placed = init.metrics?.counter({ name: 'itp_placements_total', help: 'VMs placed by the pipeline' });
    this.#unschedulable = init.metrics?.counter({
      name: 'itp_unschedulable_total',
      help: 'placement requests no host could take',
    });
    this.#all = init.hosts.map((_, i) => i);
  }

  #profileFor(request: PlacementRequest): PlacementProfile {
    const name = this.#choose(request);
    const p = this.#profiles.get(name);
    if (!p)
      throw new NovacronError(ItpErrorCode.INVALID_CONFIG, `chooser picked unknown profile ${name}`, {
        details: { profile: name },
      });
    return p;
  }

  /** Validates `request` and builds its decision context. */
  #context(request: PlacementRequest): PlacementContext {
    const r = validatePlacementRequest(request, this.snapshot.keys);
    if (this.snapshot.vm(r.id))
      throw new NovacronError(ItpErrorCode.DUPLICATE_ID, `VM ${r.id} is already placed`, { details: { vmId: r.id } });
    const demand = new Float64Array(this.snapshot.dimensions.length);
    const unknown = vectorInto(r.resources, this.snapshot.dimensions, demand);
    if (unknown.length > 0)
      throw new NovacronError(ItpErrorCode.UNKNOWN_TOPOLOGY_KEY, `no host offers resource ${unknown.join(', ')}`, {
        details: { argument: 'request.resources.extended', key: unknown[0] },
      });
    return { request: r, demand, snapshot: this.snapshot, cycle: new Map() };
  }

  /** Decides a host for `request` without changing anything. Throws typed errors for bad requests. */
  decide(request: PlacementRequest, options: PlaceOptions = {}): ItpPlacementDecision {
    const ctx = this.#context(request);
    const profile = this.#profileFor(request);
    const { decision, host } = this.#decide(ctx, profile, options.explain === true);
    if (host >= 0) return decision;
    const preemption = this.#propose(ctx, profile);
    return preemption ? { ...decision, preemption } : decision;
  }

  #propose(ctx: PlacementContext, profile: PlacementProfile) {
    return proposePreemption(this.snapshot, ctx, { preFilters: profile.preFilters ?? [], filters: profile.filters });
  }

  #decide(
    ctx: PlacementContext,
    profile: PlacementProfile,
    explain: boolean,
    only?: number,
  ): { decision: PlacementDecision; host: number } {
    const vmId = ctx.request.id;
    let candidates: readonly number[] = this.#all;
    for (const pf of profile.preFilters ?? []) {
      const r = pf.preFilter(ctx);
      if (!r.ok) {
        return {
          host: -1,
          decision: {
            vmId,
            hostId: undefined,
            feasible: 0,
            explanation: {
              profile: profile.name,
              considered: 0,
              filteredSummary: { [`${pf.name}: ${r.reason}`]: candidates.length },
              rejectedBy: { plugin: pf.name, reason: r.reason },
            },
          },
        };
      }
      if (r.candidates) candidates = r.candidates;
    }
    if (only !== undefined) candidates = candidates.includes(only) ? [only] : [];
    const filters = profile.filters;
    const nf = filters.length;
    const reasonCounts: Map<string, number>[] = filters.map(() => new Map());
    const filtered: FilteredHost[] | undefined = explain ? [] : undefined;
    const feasible: number[] = [];
    let considered = 0;
    const examine = (h: number) => {
      considered++;
      for (let f = 0; f < nf; f++) {
        const why = filters[f]!.filter(ctx, h);
        if (why !== undefined) {
          const m = reasonCounts[f]!;
          m.set(why, (m.get(why) ?? 0) + 1);
          filtered?.push({ hostId: this.snapshot.hosts[h]!.id, plugin: filters[f]!.name, reason: why });
          return;
        }
      }
      feasible.push(h);
    };
    const order = profile.candidateOrder;
    if (order !== undefined && candidates === this.#all) {
      const min = order.minFeasible;
      this.snapshot.scanByFreeCpu(
        ctx.demand[0]!,
        order.order === 'tightest-first',
        examine,
        () => feasible.length >= min,
      );
    } else for (let i = 0; i < candidates.length; i++) examine(candidates[i]!);
    const filteredSummary: Record<string, number> = {};
    for (let f = 0; f < nf; f++)
      for (const [why, n] of reasonCounts[f]!) filteredSummary[`${filters[f]!.name}: ${why}`] = n;

    const n = feasible.length;
    let best = -1;
    let perPlugin: Float64Array[] | undefined;
    if (n > 0) {
      const total = new Float64Array(n);
      if (explain) perPlugin = [];
      for (const { plugin, weight = 1 } of profile.scorers) {
        const s = new Float64Array(n);
        for (let i = 0; i < n; i++) s[i] = plugin.score(ctx, feasible[i]!);
        if (plugin.normalize) plugin.normalize(ctx, feasible, s);
        else minMax(s);
        for (let i = 0; i < n; i++) total[i]! += weight * s[i]!;
        perPlugin?.push(s);
      }
      best = 0;
      for (let i = 1; i < n; i++) if (total[i]! > total[best]!) best = i;
      if (explain) {
        const scores: ScoredHost[] = feasible.map((h, i) => {
          const byPlugin: Record<string, number> = {};
          for (const [k, { plugin }] of profile.scorers.entries()) byPlugin[plugin.name] = perPlugin![k]![i]!;
          return { hostId: this.snapshot.hosts[h]!.id, total: total[i]!, byPlugin };
        });
        // Best first; ties keep host order, matching the selection rule.
        const order = scores.map((_, i) => i).sort((a, b) => total[b]! - total[a]! || a - b);
        const sorted = order.map((i) => scores[i]!);
        return {
          host: feasible[best]!,
          decision: {
            vmId,
            hostId: this.snapshot.hosts[feasible[best]!]!.id,
            feasible: n,
            explanation: {
              profile: profile.name,
              considered,
              filteredSummary,
              filtered: filtered!,
              scores: sorted,
            },
          },
        };
      }
    }
    const host = best >= 0 ? feasible[best]! : -1;
    return {
      host,
      decision: {
        vmId,
        hostId: host >= 0 ? this.snapshot.hosts[host]!.id : undefined,
        feasible: n,
        explanation: {
          profile: profile.name,
          considered,
          filteredSummary,
          ...(explain ? { filtered: filtered!, scores: [] } : {}),
        },
      },
    };
  }

  /**
   * Places `request`: decides, records it, reserves and binds. Resolves with
   * `hostId: undefined` (nothing recorded) when no host is feasible; rejects
   * with the plugin's error, after undoing everything, if reserve or bind
   * fails; throws typed `ITP_*` errors for bad requests.
   */
  async place(request: PlacementRequest, options: PlaceOptions = {}): Promise<ItpPlacementDecision> {
    const { decision, evicted } = await this.#place(request, options);
    if (evicted.length > 0) this.#logger?.debug('preempted', { vmId: decision.vmId, victims: decision.preempted });
    return decision;
  }

  async #place(
    request: PlacementRequest,
    options: PlaceOptions,
  ): Promise<{ decision: ItpPlacementDecision; evicted: PlacedVm[] }> {
    let ctx = this.#context(request);
    const profile = this.#profileFor(request);
    const explain = options.explain === true;
    let { decision, host } = this.#decide(ctx, profile, explain) as { decision: ItpPlacementDecision; host: number };
    const evicted: PlacedVm[] = [];
    if (host < 0) {
      const preemption = this.#propose(ctx, profile);
      if (preemption && options.preempt === true) {
        for (const v of preemption.victims) evicted.push(this.snapshot.release(v.vmId));
        ctx = { ...ctx, cycle: new Map() };
        ({ decision, host } = this.#decide(ctx, profile, explain, this.snapshot.indexOf(preemption.hostId)));
        if (host < 0) {
          // Cannot happen with deterministic plugins; put everything back rather than evict for nothing.
          this.#restore(evicted);
          evicted.length = 0;
        } else decision = { ...decision, preempted: preemption.victims.map((v) => v.vmId) };
      }
      if (preemption) decision = { ...decision, preemption };
    }
    if (host < 0) {
      this.#unschedulable?.inc();
      this.#logger?.debug('unschedulable', { vmId: decision.vmId, summary: decision.explanation.filteredSummary });
      return { decision, evicted };
    }
    this.snapshot.assign(ctx.request, ctx.demand, host);
    const done: ReservePlugin[] = [];
    try {
      for (const r of profile.reservers ?? []) {
        await r.reserve(ctx, host);
        done.push(r);
      }
      for (const b of profile.binders ?? []) await b.bind(ctx, decision.hostId!);
    } catch (err) {
      for (const r of done.reverse()) await r.unreserve(ctx, host);
      this.snapshot.release(ctx.request.id);
      this.#restore(evicted);
      throw err;
    }
    this.#placed?.inc();
    return { decision, evicted };
  }

  /** Puts evicted VMs back where they were (their room is free again). */
  #restore(evicted: readonly PlacedVm[]): void {
    for (const v of evicted) this.snapshot.assign(v.request, v.demand, v.host);
  }

  /**
   * Places every request or none (gang scheduling): members are placed
   * highest priority first (request order among equals), each seeing the
   * earlier ones (so intra-gang affinity works); if one cannot be placed,
   * those already placed are removed, any VMs they preempted are put back,
   * and `ITP_GANG_UNSCHEDULABLE` names the member that failed. Decisions
   * come back in request order.
   */
  async placeGang(requests: readonly PlacementRequest[], options: PlaceOptions = {}): Promise<ItpPlacementDecision[]> {
    const order = byPriority(requests);
    const placed: { index: number; decision: ItpPlacementDecision; evicted: PlacedVm[] }[] = [];
    try {
      for (const i of order) {
        const r = requests[i]!;
        const { decision: d, evicted } = await this.#place(r, options);
        if (d.hostId === undefined)
          throw new NovacronError(ItpErrorCode.GANG_UNSCHEDULABLE, `gang member ${r.id} has no feasible host`, {
            details: { vmId: r.id, placed: placed.length, summary: d.explanation.filteredSummary },
          });
        placed.push({ index: i, decision: d, evicted });
      }
    } catch (err) {
      for (const p of placed.reverse()) {
        this.remove(p.decision.vmId);
        this.#restore(p.evicted);
      }
      throw err;
    }
    const out: ItpPlacementDecision[] = new Array(requests.length);
    for (const p of placed) out[p.index] = p.decision;
    return out;
  }

  /** Removes a placed VM (a departure), freeing its capacity. */
  remove(vmId: string): void {
    this.snapshot.release(vmId);
  }
}

/** Indexes of `requests`, highest priority first, stable among equals. */
export function byPriority(requests: readonly PlacementRequest[]): number[] {
  return requests.map((_, i) => i).sort((a, b) => (requests[b]!.priority ?? 0) - (requests[a]!.priority ?? 0) || a - b);
}

/** Scales to [0, 100]; all-equal scores become 0 (they cannot tell hosts apart). */
function minMax(s: Float64Array): void {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of s) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const span = hi - lo;
  for (let i = 0; i < s.length; i++) s[i] = span > 0 ? (100 * (s[i]! - lo)) / span : 0;
}
