/**
 * ITP placement benchmark, always through the public pipeline
 * (`PlacementPipeline.place`):
 *
 * 1. Speed: 10,000 hosts x 3 resources (cpu, memory, disk), cluster
 *    pre-filled to ~70% CPU with Huawei-East-1-mix VMs, then steady churn
 *    (each timed placement is followed by one untimed departure). Rows: the
 *    default policy (best fit through the free-CPU index), the same with
 *    required host anti-affinity on 10% of VMs (groups of 5), and the
 *    full-scan best-fit baseline (every host filtered and scored). Targets:
 *    >= 10,000 placements/s and p99 <= 2 ms for the default; anti-affinity
 *    <= 2x slower. Scenarios run interleaved (one placement each in turn)
 *    so bursts of load on a shared machine hit them alike.
 * 2. Quality under churn, pinned: Huawei-like preset, seed 1, 1,000 hosts of
 *    64 vCPU / 256 GiB, Poisson arrivals sized (Little's law) for a mean 70%
 *    CPU utilisation at steady state, 50,000 arrivals, no migration. Metric:
 *    time-weighted mean active hosts over the time-weighted mean of the
 *    instantaneous lower bound (max over dimensions of ceil(sum of demand /
 *    host capacity)), both over the arrival window (the drain after the
 *    last arrival is left out). Target for the default: <= 3% above.
 *    The rate is sized by Little's law for 70% at steady state, and the
 *    run STARTS at steady state: the generator's `steadyStart` puts at
 *    time 0 exactly the VMs that would still be alive had the stream run
 *    for the 30-day lifetime cap (~26,800 VMs, ~70% CPU), placed by the
 *    policy under test in their arrival order. Then 25,000 arrivals (about
 *    one mean lifetime, seven median ones) run unmeasured so the policy's
 *    own fragmentation builds up, and the 50,000 measured arrivals follow.
 *    Why not just a higher rate: with heavy-tailed lifetimes (mean ~7.4 h,
 *    cap 30 days) an empty cluster needs weeks of simulated time to fill,
 *    so 50,000 arrivals from empty average ~20% CPU; inflating the rate to
 *    force a 70% mean would measure a cluster still filling, not one in
 *    steady churn. First fit, best fit (indexed and full scan), spread,
 *    dot-product and L2 side by side; the table prints the measured mean
 *    CPU so the 70% condition is checked, not assumed.
 *
 * 3. Rebalancing: 200 hosts filled to ~30% CPU by the spread policy (a
 *    fragmented cluster), then `planRebalance` with budgets of 50, 200 and
 *    1,000 migrations: hosts freed, and hosts freed per migration.
 *
 * Prints tables and writes results/itp.json.
 * Run: `npx tsx bench/src/itp.ts` (about 1-2 minutes).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { type PlacementHost, type PlacementRequest, type Rng, seededRng } from '@novacron/core';
import {
  arrivalRateFor,
  generateWorkload,
  HUAWEI_EAST_1,
  PlacementPipeline,
  type PlacementProfile,
  planRebalance,
  type ResourcePolicy,
  resourceProfile,
} from '@novacron/itp';

const GiB = 2 ** 30;

// ---------------------------------------------------------------- speed

const SPEED_HOSTS = 10_000;
const SPEED_PLACEMENTS = 20_000;
const BASELINE_PLACEMENTS = 1_000;
const FILL = 0.7;

function huaweiRequest(rng: Rng, id: string): PlacementRequest {
  const u = rng.next();
  let acc = 0;
  const types = HUAWEI_EAST_1.types;
  let t = types[types.length - 1]!;
  for (const x of types) {
    acc += x.share;
    if (u < acc) {
      t = x;
      break;
    }
  }
  return {
    id,
    resources: { cpuMillis: t.vcpus * 1000, memoryBytes: t.memoryGiB * GiB, diskBytes: (20 + 10 * t.vcpus) * GiB },
  };
}

function speedHosts(): PlacementHost[] {
  return Array.from({ length: SPEED_HOSTS }, (_, i) => ({
    id: `h${i}`,
    region: `r${i % 4}`,
    zone: `r${i % 4}-z${Math.floor(i / 4) % 5}`,
    rack: `k${Math.floor(i / 20) % 100}`,
    capacity: { cpuMillis: 64_000, memoryBytes: 256 * GiB, diskBytes: 4096 * GiB },
  }));
}

interface SpeedRow {
  scenario: string;
  placements: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  unplaced: number;
  meanConsidered: number;
}

interface SpeedRun {
  scenario: string;
  /** One timed placement followed by one untimed departure; returns the decision time in ms. */
  step(i: number): Promise<number>;
  lat: number[];
  unplaced: number;
  considered: number;
}

/** Builds a pre-filled pipeline for a scenario (setup is untimed). */
async function speedRun(scenario: string, profile: PlacementProfile, antiShare: number): Promise<SpeedRun> {
  const rng = seededRng(`itp-speed-${antiShare}`);
  const hosts = speedHosts();
  const p = new PlacementPipeline({ hosts, profiles: [profile] });
  const live: string[] = [];
  let group = 0;
  let inGroup = 0;
  const withRule = (r: PlacementRequest): PlacementRequest => {
    if (!rng.chance(antiShare)) return r;
    if (inGroup === 5) {
      group++;
      inGroup = 0;
    }
    inGroup++;
    return { ...r, group: `aa${group}`, antiAffinity: { required: [{ scope: 'host', group: `aa${group}` }] } };
  };
  // Pre-fill (untimed, not through place): each host to ~70% CPU with the
  // same mix, rule-carrying VMs spread so their groups stay valid.
  let n = 0;
  for (let h = 0; h < hosts.length; h++) {
    let cpu = 0;
    for (;;) {
      const r = withRule(huaweiRequest(rng, `pre${n++}`));
      if (cpu + r.resources.cpuMillis > FILL * 64_000) break;
      const demand = Float64Array.of(r.resources.cpuMillis, r.resources.memoryBytes, r.resources.diskBytes ?? 0, 0);
      // A group's members go to consecutive hosts, never two on one host.
      p.snapshot.assign(r, demand, r.group === undefined ? h : (h + inGroup) % hosts.length);
      cpu += r.resources.cpuMillis;
      live.push(r.id);
    }
  }
  const run: SpeedRun = {
    scenario,
    lat: [],
    unplaced: 0,
    considered: 0,
    async step(i) {
      const r = withRule(huaweiRequest(rng, `v${i}`));
      const s = performance.now();
      const d = await p.place(r);
      const ms = performance.now() - s;
      run.considered += d.explanation.considered;
      if (d.hostId === undefined) run.unplaced++;
      else live.push(d.vmId);
      const k = rng.int(0, live.length - 1);
      p.remove(live[k]!);
      live[k] = live[live.length - 1]!;
      live.pop();
      return ms;
    },
  };
  return run;
}

/**
 * Runs scenarios interleaved, one placement each in turn, so a burst of
 * load from other processes on this shared machine hits all of them alike;
 * the first tenth is warm-up and not recorded.
 */
async function speedCompare(runs: SpeedRun[], placements: number): Promise<SpeedRow[]> {
  const warm = Math.floor(placements / 10);
  for (let i = 0; i < warm + placements; i++)
    for (const r of runs) {
      const ms = await r.step(i);
      if (i >= warm) r.lat.push(ms);
    }
  return runs.map((r) => {
    const lat = Float64Array.from(r.lat).sort();
    const timed = lat.reduce((a, b) => a + b, 0);
    const q = (x: number) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))]!;
    return {
      scenario: r.scenario,
      placements,
      // Rate over the timed decisions only (departures are the workload, not the placer).
      perSecond: Math.round(placements / (timed / 1000)),
      p50Ms: Number(q(0.5).toFixed(4)),
      p99Ms: Number(q(0.99).toFixed(4)),
      maxMs: Number(lat[lat.length - 1]!.toFixed(3)),
      unplaced: r.unplaced,
      meanConsidered: Math.round(r.considered / (warm + placements)),
    };
  });
}

// ---------------------------------------------------------------- churn quality

const CHURN_HOSTS = 1_000;
const CHURN_ARRIVALS = 50_000;
/** Unmeasured arrivals after the steady-state start, before the measured window (env ITP_CHURN_WARMUP overrides, for sensitivity checks). */
const CHURN_WARMUP = Number(process.env.ITP_CHURN_WARMUP ?? 25_000);
const HOST_CPU = 64_000;
const HOST_MEM = 256 * GiB;

interface ChurnRow {
  policy: string;
  meanActiveHosts: number;
  meanLowerBound: number;
  gapPercent: number;
  unplaced: number;
  /** Time-weighted mean CPU utilisation of the whole cluster over the window. */
  meanCpuUtilPercent: number;
  /** CPU utilisation at the last arrival. */
  finalCpuUtilPercent: number;
  wallMs: number;
}

async function churn(policy: string, profile: PlacementProfile): Promise<ChurnRow> {
  const hosts: PlacementHost[] = Array.from({ length: CHURN_HOSTS }, (_, i) => ({
    id: `h${i}`,
    zone: `z${i % 10}`,
    capacity: { cpuMillis: HOST_CPU, memoryBytes: HOST_MEM },
  }));
  const p = new PlacementPipeline({ hosts, profiles: [profile] });
  const rate = arrivalRateFor(HUAWEI_EAST_1, (CHURN_HOSTS * HOST_CPU) / 1000, 0.7);
  const events = generateWorkload({
    preset: HUAWEI_EAST_1,
    rng: seededRng(1),
    arrivals: CHURN_WARMUP + CHURN_ARRIVALS,
    ratePerSecond: rate,
    steadyStart: true,
  });
  const perHost = new Int32Array(CHURN_HOSTS);
  const hostOf = new Map<string, number>();
  let active = 0;
  let cpu = 0;
  let mem = 0;
  let unplaced = 0;
  let areaActive = 0;
  let areaBound = 0;
  let areaCpu = 0;
  let last = 0;
  let start = -1;
  const t0 = performance.now();
  // Measure from the end of the warm-up to the last arrival: after it the
  // cluster just drains (lifetimes run up to 30 days), which says nothing
  // about packing.
  let warmLeft = CHURN_WARMUP;
  let arrivalsLeft = CHURN_ARRIVALS;
  for (const e of events) {
    if (arrivalsLeft === 0) break;
    if (start >= 0) {
      const dt = e.time - last;
      areaActive += dt * active;
      areaCpu += dt * cpu;
      areaBound += dt * Math.max(Math.ceil(cpu / HOST_CPU - 1e-9), Math.ceil(mem / HOST_MEM - 1e-9));
    }
    last = e.time;
    if (e.kind === 'arrive') {
      if (e.initial !== true) {
        if (warmLeft > 0) warmLeft--;
        else {
          if (start < 0) start = e.time;
          arrivalsLeft--;
        }
      }
      const d = await p.place(e.request);
      if (d.hostId === undefined) {
        unplaced++;
        continue;
      }
      const h = p.snapshot.indexOf(d.hostId);
      hostOf.set(e.request.id, h);
      if (perHost[h] === 0) active++;
      perHost[h] = perHost[h]! + 1;
      cpu += e.request.resources.cpuMillis;
      mem += e.request.resources.memoryBytes;
    } else {
      const h = hostOf.get(e.vmId);
      if (h === undefined) continue;
      const vm = p.snapshot.vm(e.vmId)!;
      p.remove(e.vmId);
      hostOf.delete(e.vmId);
      if (--perHost[h]! === 0) active--;
      cpu -= vm.request.resources.cpuMillis;
      mem -= vm.request.resources.memoryBytes;
    }
  }
  const span = last - start;
  const meanActive = areaActive / span;
  const meanBound = areaBound / span;
  return {
    policy,
    meanActiveHosts: Number(meanActive.toFixed(2)),
    meanLowerBound: Number(meanBound.toFixed(2)),
    gapPercent: Number((100 * (meanActive / meanBound - 1)).toFixed(2)),
    unplaced,
    meanCpuUtilPercent: Number(((100 * areaCpu) / span / (CHURN_HOSTS * HOST_CPU)).toFixed(1)),
    finalCpuUtilPercent: Number(((100 * cpu) / (CHURN_HOSTS * HOST_CPU)).toFixed(1)),
    wallMs: Math.round(performance.now() - t0),
  };
}

// ---------------------------------------------------------------- run

const speedRows: SpeedRow[] = [
  ...(await speedCompare(
    [
      await speedRun('default (best fit, indexed)', resourceProfile('most-allocated'), 0),
      await speedRun('default + 10% required anti-affinity', resourceProfile('most-allocated'), 0.1),
    ],
    SPEED_PLACEMENTS,
  )),
  ...(await speedCompare(
    [
      await speedRun('full-scan best fit (baseline)', resourceProfile('most-allocated', { minFeasible: 0 }), 0),
      await speedRun(
        'full-scan best fit + 10% anti-affinity',
        resourceProfile('most-allocated', { minFeasible: 0 }),
        0.1,
      ),
    ],
    BASELINE_PLACEMENTS,
  )),
];
const [base, anti, scan, scanAnti] = speedRows as [SpeedRow, SpeedRow, SpeedRow, SpeedRow];
console.log(`\nSpeed: ${SPEED_HOSTS} hosts x 3 resources, ~${FILL * 100}% full, steady churn`);
console.table(
  speedRows.map((r) => ({
    scenario: r.scenario,
    'placements/s': r.perSecond,
    'p50 ms': r.p50Ms,
    'p99 ms': r.p99Ms,
    'max ms': r.maxMs,
    'hosts examined': r.meanConsidered,
    unplaced: r.unplaced,
    'x vs full scan': Number((r.perSecond / scan.perSecond).toFixed(1)),
  })),
);
const antiSlowdown = base.perSecond / anti.perSecond;
const scanAntiSlowdown = scan.perSecond / scanAnti.perSecond;
const speedTargets = {
  placementsPerSecond: { need: 10_000, got: base.perSecond, met: base.perSecond >= 10_000 },
  p99Ms: { need: 2, got: base.p99Ms, met: base.p99Ms <= 2 },
  antiAffinitySlowdown: { need: 2, got: Number(antiSlowdown.toFixed(2)), met: antiSlowdown <= 2 },
  // The median ratio shrugs off GC and scheduler pauses of a shared machine; the rate ratio above is the target.
  antiAffinityP50Ratio: Number((anti.p50Ms / base.p50Ms).toFixed(2)),
  fullScanAntiAffinitySlowdown: Number(scanAntiSlowdown.toFixed(2)),
};
console.log(
  `targets: ${base.perSecond}/s (need >= 10,000: ${speedTargets.placementsPerSecond.met ? 'met' : 'MISSED'}), p99 ${base.p99Ms} ms (need <= 2: ${
    speedTargets.p99Ms.met ? 'met' : 'MISSED'
  }), anti-affinity ${antiSlowdown.toFixed(2)}x slower (need <= 2x: ${speedTargets.antiAffinitySlowdown.met ? 'met' : 'MISSED'}; p50 ratio ${speedTargets.antiAffinityP50Ratio}x; full scan: ${scanAntiSlowdown.toFixed(2)}x)`,
);

const policies: [string, PlacementProfile][] = [
  ['first fit', resourceProfile('first-fit')],
  ['best fit (default, indexed)', resourceProfile('most-allocated')],
  ['best fit (full scan)', resourceProfile('most-allocated', { minFeasible: 0 })],
  ['spread (least-allocated)', resourceProfile('least-allocated')],
  ['dot-product', resourceProfile('dot-product' as ResourcePolicy)],
  ['l2-alignment', resourceProfile('l2-alignment')],
];
const churnRows: ChurnRow[] = [];
for (const [name, profile] of policies) churnRows.push(await churn(name, profile));
console.log(
  `\nQuality under churn: ${HUAWEI_EAST_1.name} preset, seed 1, ${CHURN_HOSTS} hosts of 64 vCPU / 256 GiB, ${CHURN_ARRIVALS} measured arrivals sized for 70% CPU, after a steady-state start and ${CHURN_WARMUP} warm-up arrivals`,
);
console.table(
  churnRows.map((r) => ({
    policy: r.policy,
    'mean active hosts': r.meanActiveHosts,
    'mean lower bound': r.meanLowerBound,
    'gap %': r.gapPercent,
    unplaced: r.unplaced,
    'mean cpu %': r.meanCpuUtilPercent,
    'final cpu %': r.finalCpuUtilPercent,
    'wall ms': r.wallMs,
  })),
);
const def = churnRows[1] as ChurnRow;
console.log(
  `target: default ${def.gapPercent}% above the lower bound (need <= 3%: ${def.gapPercent <= 3 ? 'met' : 'MISSED'})`,
);

// ---------------------------------------------------------------- rebalancing

const rebalanceRows: {
  budget: number;
  migrations: number;
  freedHosts: number;
  freedPerMigration: number;
  planMs: number;
}[] = [];
{
  const hosts: PlacementHost[] = Array.from({ length: 200 }, (_, i) => ({
    id: `h${i}`,
    zone: `z${i % 10}`,
    capacity: { cpuMillis: HOST_CPU, memoryBytes: HOST_MEM },
  }));
  const p = new PlacementPipeline({ hosts, profiles: [resourceProfile('least-allocated')] });
  const rng = seededRng('itp-rebalance');
  let cpu = 0;
  for (let i = 0; cpu < 0.3 * 200 * HOST_CPU; i++) {
    const r = huaweiRequest(rng, `r${i}`);
    const d = await p.place({
      ...r,
      resources: { cpuMillis: r.resources.cpuMillis, memoryBytes: r.resources.memoryBytes },
    });
    if (d.hostId !== undefined) cpu += r.resources.cpuMillis;
  }
  for (const budget of [50, 200, 1000]) {
    const t0 = performance.now();
    const plan = planRebalance(p.snapshot, { maxMigrations: budget });
    rebalanceRows.push({
      budget,
      migrations: plan.migrations.length,
      freedHosts: plan.freedHosts.length,
      freedPerMigration: Number((plan.freedHosts.length / Math.max(1, plan.migrations.length)).toFixed(3)),
      planMs: Math.round(performance.now() - t0),
    });
  }
  console.log(`\nRebalancing: 200 hosts of 64 vCPU / 256 GiB, ~30% CPU placed by spread, ${p.snapshot.vms.size} VMs`);
  console.table(rebalanceRows);
}

const load = loadavg()[0]!;
const out = {
  benchmark: 'itp',
  date: new Date().toISOString(),
  machine: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverage1m: load },
  speed: { hosts: SPEED_HOSTS, fill: FILL, rows: speedRows, targets: speedTargets },
  churn: {
    preset: HUAWEI_EAST_1.name,
    seed: 1,
    hosts: CHURN_HOSTS,
    arrivals: CHURN_ARRIVALS,
    warmupArrivals: CHURN_WARMUP,
    start: 'steady state (generator steadyStart: survivors of a stream run for the 30-day lifetime cap)',
    rows: churnRows,
    target: { needGapPercent: 3, got: def.gapPercent, met: def.gapPercent <= 3 },
  },
  rebalance: { hosts: 200, fill: 0.3, rows: rebalanceRows },
};
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('itp.json', dir), `${JSON.stringify(out, null, 2)}\n`);
console.log(`load average ${load.toFixed(2)} on ${cpus().length} cores; wrote bench/results/itp.json`);
