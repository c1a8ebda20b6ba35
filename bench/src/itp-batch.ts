/**
 * ITP batch mode against an exact optimum: random instances (VM count
 * uniform in 20-40, host count uniform in 6-12 identical hosts of 32 vCPU /
 * 128 GiB, VM sizes uniform 1-8 vCPU and 1-32 GiB, 10% of VMs in
 * host-anti-affinity groups of 2-3, seed fixed). `packBatch` gets a 100 ms
 * budget per instance; the exact optimum comes from a MILP solved by HiGHS
 * (the `highs` npm package, WebAssembly) in the same run. Targets: optimal
 * in >= 90% of instances, never worse than optimum + 1 host. The online
 * default policy (arrival order, one VM at a time) is reported on the same
 * instances.
 *
 * Prints a table and writes results/itp-batch.json.
 * Run: `npx tsx bench/src/itp-batch.ts [instances]` (default 1,000; a few minutes on 2 cores).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { type PlacementHost, type PlacementRequest, type Rng, seededRng, systemClock } from '@novacron/core';
import { packBatch, PlacementPipeline, resourceProfile } from '@novacron/itp';
import loadHighs from 'highs';

const SEED = 20_261_127;
const INSTANCES = Number(process.argv[2] ?? 1000);
const BUDGET_MS = 100;
const MILP_TIME_LIMIT_S = 20;
const CPU = 32_000;
const MEM = 128;

interface Instance {
  hosts: PlacementHost[];
  vms: PlacementRequest[];
}

function instance(rng: Rng, k: number): Instance {
  const nVm = rng.int(20, 40);
  const nHost = rng.int(6, 12);
  const hosts: PlacementHost[] = Array.from({ length: nHost }, (_, i) => ({
    id: `h${i}`,
    capacity: { cpuMillis: CPU, memoryBytes: MEM },
  }));
  const vms: PlacementRequest[] = Array.from({ length: nVm }, (_, i) => ({
    id: `i${k}v${i}`,
    resources: { cpuMillis: rng.int(1, 8) * 1000, memoryBytes: rng.int(1, 32) },
  }));
  // 10% of the VMs, in groups of 2-3 that must sit on distinct hosts.
  const members = rng.shuffle([...vms.keys()]).slice(0, Math.round(nVm / 10));
  let g = 0;
  for (let i = 0; i < members.length; ) {
    const size = Math.min(members.length - i, rng.int(2, 3));
    if (size < 2) break;
    for (let j = 0; j < size; j++) {
      const v = vms[members[i + j]!]!;
      vms[members[i + j]!] = { ...v, group: `g${g}`, antiAffinity: { required: [{ scope: 'host', group: `g${g}` }] } };
    }
    g++;
    i += size;
  }
  return { hosts, vms };
}

/** Bin packing with host anti-affinity as a MILP in CPLEX LP format. */
function milp(inst: Instance): string {
  const H = inst.hosts.length;
  const lines: string[] = ['Minimize', ` obj: ${inst.hosts.map((_, h) => `y${h}`).join(' + ')}`, 'Subject To'];
  for (let v = 0; v < inst.vms.length; v++)
    lines.push(` a${v}: ${inst.hosts.map((_, h) => `x${v}_${h}`).join(' + ')} = 1`);
  for (let h = 0; h < H; h++) {
    lines.push(
      ` c${h}: ${inst.vms.map((v, i) => `${v.resources.cpuMillis / 1000} x${i}_${h}`).join(' + ')} - ${CPU / 1000} y${h} <= 0`,
    );
    lines.push(
      ` m${h}: ${inst.vms.map((v, i) => `${v.resources.memoryBytes} x${i}_${h}`).join(' + ')} - ${MEM} y${h} <= 0`,
    );
    // Symmetry breaking: hosts are identical, use them in order.
    if (h > 0) lines.push(` s${h}: y${h} - y${h - 1} <= 0`);
  }
  const groups = new Map<string, number[]>();
  inst.vms.forEach((v, i) => {
    if (v.group) groups.set(v.group, [...(groups.get(v.group) ?? []), i]);
  });
  for (const [g, idx] of groups)
    for (let h = 0; h < H; h++) lines.push(` n${g}_${h}: ${idx.map((i) => `x${i}_${h}`).join(' + ')} <= 1`);
  lines.push('Binary');
  lines.push(` ${inst.hosts.map((_, h) => `y${h}`).join(' ')}`);
  lines.push(` ${inst.vms.flatMap((_, v) => inst.hosts.map((_, h) => `x${v}_${h}`)).join(' ')}`);
  lines.push('End');
  return lines.join('\n');
}

async function online(inst: Instance): Promise<number> {
  const p = new PlacementPipeline({ hosts: inst.hosts, profiles: [resourceProfile('most-allocated')] });
  const used = new Set<string>();
  for (const v of inst.vms) {
    const d = await p.place(v);
    if (d.hostId === undefined) return Number.POSITIVE_INFINITY;
    used.add(d.hostId);
  }
  return used.size;
}

const highs = await loadHighs();
const rng = seededRng(SEED);
let optimal = 0;
let plusOne = 0;
let worse = 0;
let infeasible = 0;
let unproven = 0;
let onlineOptimal = 0;
let onlineGapSum = 0;
let onlineMaxGap = 0;
/** Instances where one-at-a-time placement in arrival order stranded a VM although a packing exists. */
let onlineFailed = 0;
let ourMs = 0;
let milpMs = 0;
let compared = 0;
const detail: { k: number; opt: number; batch: number; online: number; lowerBound: number; attempts: number }[] = [];
for (let k = 0; k < INSTANCES; k++) {
  const inst = instance(rng, k);
  const t0 = performance.now();
  const ours = packBatch(inst.hosts, inst.vms, {
    budgetMs: BUDGET_MS,
    clock: systemClock(),
    rng: rng.fork(`batch-${k}`),
  });
  ourMs += performance.now() - t0;
  const t1 = performance.now();
  const sol = highs.solve(milp(inst), { output_flag: false, time_limit: MILP_TIME_LIMIT_S });
  milpMs += performance.now() - t1;
  if (sol.Status === 'Infeasible') {
    infeasible++;
    continue;
  }
  if (sol.Status !== 'Optimal') {
    unproven++;
    continue;
  }
  const opt = Math.round(sol.ObjectiveValue);
  const on = await online(inst);
  compared++;
  detail.push({
    k,
    opt,
    batch: ours.hostsUsed,
    online: Number.isFinite(on) ? on : -1,
    lowerBound: ours.lowerBound,
    attempts: ours.attempts,
  });
  if (ours.hostsUsed === opt) optimal++;
  else if (ours.hostsUsed === opt + 1) plusOne++;
  else worse++;
  if (on === opt) onlineOptimal++;
  if (Number.isFinite(on)) {
    onlineGapSum += on - opt;
    onlineMaxGap = Math.max(onlineMaxGap, on - opt);
  } else onlineFailed++;
}
const pct = (x: number) => Number(((100 * x) / Math.max(1, compared)).toFixed(1));
const rows = [
  {
    solver: 'packBatch (100 ms budget)',
    'optimal %': pct(optimal),
    '+1 host': plusOne,
    'worse than +1': worse,
    'mean ms': Number((ourMs / INSTANCES).toFixed(2)),
  },
  {
    solver: 'online default (arrival order)',
    'optimal %': pct(onlineOptimal),
    '+1 host': detail.filter((d) => d.online === d.opt + 1).length,
    'worse than +1': detail.filter((d) => d.online > d.opt + 1 || d.online < 0).length,
    'mean ms': `- (${onlineFailed} stranded a VM)`,
  },
  {
    solver: 'HiGHS MILP (exact)',
    'optimal %': 100,
    '+1 host': 0,
    'worse than +1': 0,
    'mean ms': Number((milpMs / INSTANCES).toFixed(2)),
  },
];
console.log(
  `\nBatch vs exact MILP: ${INSTANCES} instances (seed ${SEED}); ${compared} compared, ${infeasible} infeasible, ${unproven} not proven optimal by HiGHS in ${MILP_TIME_LIMIT_S} s`,
);
console.table(rows);
const met = pct(optimal) >= 90 && worse === 0;
console.log(
  `target: optimal in ${pct(optimal)}% (need >= 90%) and ${worse} worse than optimum + 1 (need 0): ${met ? 'met' : 'MISSED'}; online default mean gap ${(onlineGapSum / Math.max(1, compared - onlineFailed)).toFixed(3)} hosts, max ${onlineMaxGap}, ${onlineFailed} instances with a VM left unplaced`,
);
const load = loadavg()[0]!;
const out = {
  benchmark: 'itp-batch',
  date: new Date().toISOString(),
  machine: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverage1m: load },
  seed: SEED,
  instances: INSTANCES,
  budgetMs: BUDGET_MS,
  compared,
  infeasible,
  unproven,
  batch: { optimal, optimalPercent: pct(optimal), plusOne, worse, meanMs: ourMs / INSTANCES },
  online: {
    optimal: onlineOptimal,
    optimalPercent: pct(onlineOptimal),
    meanGapHosts: onlineGapSum / Math.max(1, compared - onlineFailed),
    maxGapHosts: onlineMaxGap,
    strandedInstances: onlineFailed,
  },
  milp: { solver: 'highs (npm, WebAssembly)', meanMs: milpMs / INSTANCES, timeLimitS: MILP_TIME_LIMIT_S },
  target: { optimalPercentNeed: 90, worseThanPlusOneNeed: 0, met },
  detail,
};
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('itp-batch.json', dir), `${JSON.stringify(out, null, 2)}\n`);
console.log(`load average ${load.toFixed(2)} on ${cpus().length} cores; wrote bench/results/itp-batch.json`);
