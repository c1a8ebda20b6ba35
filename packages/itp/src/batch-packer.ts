import {
  assertInteger,
  assertNumber,
  type Clock,
  type PlacementHost,
  type PlacementRequest,
  type Rng,
} from '@novacron/core';
import { vectorInto } from './dimensions.js';
import { PlacementPipeline } from './pipeline.js';
import { resourceProfile } from './policies.js';

/** Options of {@link packBatch}. */
export interface BatchPackOptions {
  /** Time budget in ms of `clock`. */
  readonly budgetMs: number;
  /** Measures the budget. */
  readonly clock: Clock;
  /** Randomises orders after the deterministic ones. */
  readonly rng: Rng;
  /** Hard cap on attempts (default 100,000), so a frozen clock still ends. */
  readonly maxAttempts?: number;
}

/** The best packing found. */
export interface BatchPackResult {
  /** VM id → host id, or undefined when no attempt placed every VM. */
  readonly assignment: ReadonlyMap<string, string> | undefined;
  /** Hosts used by the assignment (Infinity when none). */
  readonly hostsUsed: number;
  /** A lower bound on the hosts any packing needs. */
  readonly lowerBound: number;
  /** Orders tried. */
  readonly attempts: number;
}

const frac = (r: PlacementRequest, h: PlacementHost) =>
  Math.max(r.resources.cpuMillis / h.capacity.cpuMillis, r.resources.memoryBytes / Math.max(1, h.capacity.memoryBytes));

/**
 * Batch placement: packs a known set of VMs onto as few hosts as possible
 * within a time budget. Each attempt places the VMs in some order through
 * the public pipeline (best fit, full scan, every filter: capacity,
 * required affinity and anti-affinity, constraints); the orders are
 * first-fit-decreasing by largest share, by CPU and by memory, then random
 * perturbations of the first; every order places higher-priority VMs
 * before lower ones. It stops early when an attempt meets the
 * lower bound (per-dimension volume, the largest host anti-affinity group,
 * and VMs too big to share a host in one dimension), which proves it optimal. Hosts are
 * assumed identical for the bound (the packing itself does not need that).
 */
export function packBatch(
  hosts: readonly PlacementHost[],
  requests: readonly PlacementRequest[],
  options: BatchPackOptions,
): BatchPackResult {
  assertNumber('options.budgetMs', options.budgetMs, { min: 0 });
  const maxAttempts = options.maxAttempts ?? 100_000;
  assertInteger('options.maxAttempts', maxAttempts, { min: 1 });
  const start = options.clock.now();
  const lowerBound = bound(hosts, requests);
  const h0 = hosts[0];
  // Higher priority always first (as in a gang), then decreasing size.
  const bySize = (key: (r: PlacementRequest) => number) =>
    [...requests].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || key(b) - key(a));
  const deterministic = h0
    ? [bySize((r) => frac(r, h0)), bySize((r) => r.resources.cpuMillis), bySize((r) => r.resources.memoryBytes)]
    : [[...requests]];
  let best: Map<string, string> | undefined;
  let bestUsed = Number.POSITIVE_INFINITY;
  let attempts = 0;
  while (attempts < maxAttempts) {
    const order = attempts < deterministic.length ? deterministic[attempts]! : perturb(deterministic[0]!, options.rng);
    attempts++;
    const result = attempt(hosts, order);
    if (result && result.used < bestUsed) {
      bestUsed = result.used;
      best = result.assignment;
    }
    if (bestUsed <= lowerBound) break;
    if (attempts >= deterministic.length && options.clock.now() - start >= options.budgetMs) break;
  }
  return { assignment: best, hostsUsed: bestUsed, lowerBound, attempts };
}

function attempt(
  hosts: readonly PlacementHost[],
  order: readonly PlacementRequest[],
): { used: number; assignment: Map<string, string> } | undefined {
  const p = new PlacementPipeline({ hosts, profiles: [resourceProfile('most-allocated', { minFeasible: 0 })] });
  const assignment = new Map<string, string>();
  const used = new Set<string>();
  for (const r of order) {
    const d = p.decide(r);
    if (d.hostId === undefined) return undefined;
    const h = p.snapshot.indexOf(d.hostId);
    const demand = new Float64Array(p.snapshot.dimensions.length);
    vectorInto(r.resources, p.snapshot.dimensions, demand);
    p.snapshot.assign(r, demand, h);
    assignment.set(r.id, d.hostId);
    used.add(d.hostId);
  }
  return { used: used.size, assignment };
}

/** Swaps a few neighbours of a size-sorted order: stays near-decreasing, explores ties and near-ties. */
function perturb(order: readonly PlacementRequest[], rng: Rng): PlacementRequest[] {
  const out = [...order];
  const swaps = 1 + rng.int(0, Math.max(1, Math.floor(out.length / 4)));
  for (let s = 0; s < swaps && out.length > 1; s++) {
    const i = rng.int(0, out.length - 2);
    const j = Math.min(out.length - 1, i + 1 + rng.int(0, 3));
    const t = out[i]!;
    // Never reorder across priorities.
    if ((t.priority ?? 0) !== (out[j]!.priority ?? 0)) continue;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}

function bound(hosts: readonly PlacementHost[], requests: readonly PlacementRequest[]): number {
  const h = hosts[0];
  if (!h || requests.length === 0) return 0;
  let cpu = 0;
  let mem = 0;
  // Two VMs above half a host in the same dimension can never share one.
  let bigCpu = 0;
  let bigMem = 0;
  const groups = new Map<string, number>();
  for (const r of requests) {
    cpu += r.resources.cpuMillis;
    mem += r.resources.memoryBytes;
    if (r.resources.cpuMillis > h.capacity.cpuMillis / 2) bigCpu++;
    if (r.resources.memoryBytes > h.capacity.memoryBytes / 2) bigMem++;
    for (const t of r.antiAffinity?.required ?? [])
      if (t.scope === 'host' && t.group !== undefined && r.group === t.group)
        groups.set(t.group, (groups.get(t.group) ?? 0) + 1);
  }
  return Math.max(
    1,
    Math.ceil(cpu / h.capacity.cpuMillis - 1e-9),
    Math.ceil(mem / Math.max(1, h.capacity.memoryBytes) - 1e-9),
    bigCpu,
    bigMem,
    ...groups.values(),
  );
}
