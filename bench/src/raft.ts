/**
 * Raft, side by side with etcd in one run. Three member processes of ours
 * on loopback (acp `RaftGroup`, core `FileDurableLog` with fdatasync and
 * group commit, amst `tcpPeerNetwork`, a `ReplicatedKv` behind an HTTP/JSON
 * endpoint: `raft/node.ts`) and a three-member etcd 3.4 cluster
 * (`/usr/bin/etcd`, Debian `etcd-server`), both driven by the same client:
 * N concurrent `POST /v3/kv/put` with `{"key": base64, "value": base64}`
 * and 256-byte values, i.e. etcd's v3 JSON gateway, which our endpoint
 * mirrors. The client sends to the leader of each cluster (etcd would
 * forward from a follower; ours answers 503 with the leader's URL).
 *
 * Scenarios: 1 client (throughput, p50/p99); 256 clients (throughput, p99,
 * CPU seconds per 1,000 commits over all of a cluster's processes, from
 * /proc/<pid>/stat); ours with the in-memory store, 64 clients (etcd at 64
 * clients alongside for reference); leader failover, time to a new leader
 * and to the first commit, over simulated trials (testkit `SimWorld`,
 * virtual time) and real ones (SIGKILL the leader process).
 *
 * Each load figure is the median over `ROUNDS` rounds that alternate which
 * cluster goes first. Prints a table with ratios (ours / etcd) and writes
 * results/raft.json.
 *
 * Run: `npx tsx bench/src/raft.ts` (about 3–4 min) or `--quick` (about 1.5 min).
 * `--ours-only [--clients=1,256]` runs just our cluster (for profiling);
 * `--failover-only` runs only the real failover trials (`RAFT_BENCH_TRACE=1`
 * prints what the survivors reported); `--load-only` stops after the 1- and 256-client comparisons (no JSON;
 * `--load-only --clients=1` compares only at the listed client counts);
 * `RAFT_BENCH_PROF=<dir>` writes a `--cpu-prof` profile of each of our
 * member processes into <dir>.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeSpec } from './raft/node.js';
import { type FailoverSample, simFailover } from './raft/sim-failover.js';

const QUICK = process.argv.includes('--quick');
/** Only our file-store cluster, 1 and 256 clients, no JSON: for profiling with RAFT_BENCH_PROF. */
const OURS_ONLY = process.argv.includes('--ours-only');
const TICK_MS = 50;
const ELECTION_TICKS = 10;
/** Election timeouts are drawn from [ELECTION_TICKS, 2·ELECTION_TICKS) ticks. */
const MAX_ELECTION_MS = 2 * ELECTION_TICKS * TICK_MS;
const LOAD_MS = QUICK ? 2_000 : 3_000;
/** Load before measuring, so V8 has optimised our hot paths (etcd, compiled ahead of time, gets the same). */
const WARMUP_MS = QUICK ? 1_500 : 3_000;
const ROUNDS = QUICK ? 1 : 3;
const SIM_TRIALS = QUICK ? 200 : 1_000;
const REAL_TRIALS = QUICK ? 5 : 20;
const VALUE_BYTES = 256;
const ETCD = '/usr/bin/etcd';
const NODE_SCRIPT = fileURLToPath(new URL('./raft/node.ts', import.meta.url));
const PROF_DIR = process.env.RAFT_BENCH_PROF;
/** `RAFT_BENCH_TRACE=1`: print what the survivors reported during each real failover. */
const TRACE = process.env.RAFT_BENCH_TRACE === '1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

// ------------------------------------------------------------------ processes

interface Member {
  readonly id: string;
  readonly url: string;
  proc: ChildProcess;
  readonly respawn: () => Promise<ChildProcess>;
}

interface Cluster {
  readonly name: string;
  readonly members: Member[];
  leader(): Promise<Member>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function track(proc: ChildProcess): ChildProcess {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

async function waitExit(proc: ChildProcess, ms: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await Promise.race([new Promise((r) => proc.once('exit', r)), sleep(ms)]);
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
  }
}

async function stopCluster(c: Cluster): Promise<void> {
  for (const m of c.members) m.proc.kill('SIGTERM');
  await Promise.all(c.members.map((m) => waitExit(m.proc, 5_000)));
}

/** Starts one of our member processes and waits for its `ready` line. */
async function spawnOurs(spec: NodeSpec): Promise<ChildProcess> {
  const prof = PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : [];
  // process.execArgv carries tsx's loader flags, so the child runs TypeScript in one process.
  const proc = track(
    spawn(process.execPath, [...prof, ...process.execArgv, NODE_SCRIPT, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${spec.id} not ready in 60 s: ${err}`)), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${spec.id} exited (${code ?? sig}) before ready: ${err}`));
    });
  });
  return proc;
}

async function startOurs(name: string, root: string | undefined): Promise<Cluster> {
  const ids = ['n0', 'n1', 'n2'];
  const members: { id: string; raft: string; http: number }[] = [];
  for (const id of ids) members.push({ id, raft: `127.0.0.1:${await freePort()}`, http: await freePort() });
  const cluster: Cluster = {
    name,
    members: [],
    leader: async () => {
      for (;;) {
        for (const m of cluster.members) {
          const s = await status(m.url).catch(() => undefined);
          if (s?.role === 'leader') return m;
        }
        await sleep(20);
      }
    },
  };
  await Promise.all(
    ids.map(async (id, i) => {
      const spec: NodeSpec = {
        id,
        members,
        ...(root ? { dir: join(root, id) } : {}),
        tickMs: TICK_MS,
        electionTicks: ELECTION_TICKS,
      };
      const respawn = () => spawnOurs(spec);
      cluster.members[i] = { id, url: `http://127.0.0.1:${members[i]!.http}`, proc: await respawn(), respawn };
    }),
  );
  await cluster.leader();
  return cluster;
}

async function startEtcd(root: string): Promise<Cluster> {
  const names = ['e0', 'e1', 'e2'];
  const ports: { client: number; peer: number }[] = [];
  for (const _ of names) ports.push({ client: await freePort(), peer: await freePort() });
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i]!.peer}`).join(',');
  const members: Member[] = names.map((name, i) => {
    const cu = `http://127.0.0.1:${ports[i]!.client}`;
    const pu = `http://127.0.0.1:${ports[i]!.peer}`;
    const args = [
      ...['--name', name, '--data-dir', join(root, name)],
      ...['--listen-client-urls', cu, '--advertise-client-urls', cu],
      ...['--listen-peer-urls', pu, '--initial-advertise-peer-urls', pu],
      ...['--initial-cluster', initial, '--initial-cluster-token', 'novacron-bench', '--initial-cluster-state', 'new'],
      ...['--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'error'],
    ];
    const respawn = async () => track(spawn(ETCD, args, { stdio: ['ignore', 'ignore', 'ignore'] }));
    return { id: name, url: cu, proc: undefined as unknown as ChildProcess, respawn };
  });
  for (const m of members) m.proc = await m.respawn();
  const cluster: Cluster = {
    name: 'etcd',
    members,
    leader: async () => {
      const deadline = performance.now() + 60_000;
      while (performance.now() < deadline) {
        for (const m of members) {
          const r = await request(undefined, m.url, 'POST', '/v3/maintenance/status', '{}').catch(() => undefined);
          if (r?.status !== 200) continue;
          const s = JSON.parse(r.body) as { header?: { member_id?: string }; leader?: string };
          if (s.leader && s.header?.member_id === s.leader) return m;
        }
        await sleep(50);
      }
      throw new Error('etcd cluster has no leader after 60 s');
    },
  };
  await cluster.leader();
  return cluster;
}

// ------------------------------------------------------------------ client

function request(
  agent: http.Agent | undefined,
  base: string,
  method: string,
  path: string,
  body?: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        agent: agent ?? false,
        timeout: timeoutMs,
        headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

interface MemberStatus {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

async function status(url: string, timeoutMs = 1_000): Promise<MemberStatus> {
  const r = await request(undefined, url, 'GET', '/status', undefined, timeoutMs);
  return JSON.parse(r.body) as MemberStatus;
}

/** Seconds of user + system CPU the processes have used so far. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  }
  return ticks / CLK_TCK;
}

interface LoadResult {
  readonly clients: number;
  readonly commits: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuSeconds: number;
  readonly cpuSecPer1000: number;
}

/** `clients` concurrent loops of puts to `url` for `ms`; every put is a fresh key among 64 per client. */
async function load(cluster: Cluster, clients: number, ms: number): Promise<LoadResult> {
  const leader = await cluster.leader();
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const value = randomBytes(VALUE_BYTES).toString('base64');
  const latencies: number[] = [];
  let errors = 0;
  const pids = cluster.members.map((m) => m.proc.pid!);
  const cpu0 = cpuSeconds(pids);
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const key = Buffer.from(`k${w}-${i % 64}`).toString('base64');
        const start = performance.now();
        const r = await request(agent, leader.url, 'POST', '/v3/kv/put', `{"key":"${key}","value":"${value}"}`).catch(
          () => undefined,
        );
        if (r?.status === 200) latencies.push(performance.now() - start);
        else {
          errors++;
          await sleep(10);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(pids) - cpu0;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    clients,
    commits: latencies.length,
    errors,
    seconds,
    opsPerSec: latencies.length / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    cpuSeconds: cpu,
    cpuSecPer1000: (cpu / Math.max(1, latencies.length)) * 1000,
  };
}

/** Runs `clients` against each cluster `ROUNDS` times, alternating the order; returns every run per cluster. */
async function compare(clusters: readonly Cluster[], clients: number): Promise<Map<string, LoadResult[]>> {
  const out = new Map<string, LoadResult[]>(clusters.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? clusters : [...clusters].reverse();
    for (const c of order) {
      const r = await load(c, clients, LOAD_MS);
      out.get(c.name)!.push(r);
      console.log(
        `  ${c.name.padEnd(12)} ${String(clients).padStart(3)} clients: ${r.opsPerSec.toFixed(0).padStart(6)} puts/s` +
          `  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ${r.cpuSecPer1000.toFixed(3)} CPU s/1000` +
          (r.errors ? `  errors ${r.errors}` : ''),
      );
    }
  }
  return out;
}

function summarize(runs: readonly LoadResult[]) {
  return {
    opsPerSec: median(runs.map((r) => r.opsPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuSecPer1000: median(runs.map((r) => r.cpuSecPer1000)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    runs,
  };
}

// ------------------------------------------------------------------ failover

/** Kills the leader process and times a new leader and the first commit through it; then restarts the old one. */
async function realFailover(c: Cluster): Promise<FailoverSample> {
  // A stable cluster first: every member up and following the same leader.
  let leader: Member;
  let term: number;
  for (;;) {
    leader = await c.leader();
    const ss = await Promise.all(c.members.map((m) => status(m.url).catch(() => undefined)));
    const lead = ss.find((s) => s?.role === 'leader');
    // Healthy means caught up too: a restarted member replaying its log is
    // busy and would answer votes late.
    if (
      lead &&
      ss.every((s) => s && s.term === lead.term && s.leader === lead.leader && s.appliedIndex >= lead.commitIndex)
    ) {
      term = lead.term;
      break;
    }
    await sleep(20);
  }
  const put = (url: string) =>
    request(
      undefined,
      url,
      'POST',
      '/v3/kv/put',
      `{"key":"ZmFpbG92ZXI=","value":"${randomBytes(8).toString('base64')}"}`,
    );
  if ((await put(leader.url)).status !== 200) throw new Error('put before failover failed');
  // A random phase relative to the heartbeat and tick cycle.
  await sleep(Math.random() * TICK_MS * 2);
  const t0 = performance.now();
  leader.proc.kill('SIGKILL');
  const survivors = c.members.filter((m) => m !== leader);
  let next: Member | undefined;
  const seen: string[] = [];
  while (!next) {
    const ss = await Promise.all(survivors.map((m) => status(m.url, 200).catch(() => undefined)));
    if (TRACE) {
      const line = ss.map((s, i) => `${survivors[i]!.id}:${s?.role ?? '?'}/${s?.term ?? '?'}`).join(' ');
      if (seen.at(-1)?.endsWith(line) !== true) seen.push(`${(performance.now() - t0).toFixed(0)}ms ${line}`);
    }
    const i = ss.findIndex((s) => s?.role === 'leader' && s.term > term);
    if (i >= 0) next = survivors[i];
    else await sleep(2);
  }
  const leaderMs = performance.now() - t0;
  if (TRACE)
    console.log(
      `  killed ${leader.id} (term ${term}) -> ${next.id} after ${leaderMs.toFixed(0)} ms: ${seen.join(' | ')}`,
    );
  while ((await put(next.url).catch(() => undefined))?.status !== 200) await sleep(2);
  const commitMs = performance.now() - t0;
  await waitExit(leader.proc, 5_000);
  leader.proc = await leader.respawn();
  return { leaderMs, commitMs };
}

function distribution(samples: readonly FailoverSample[]) {
  const l = samples.map((s) => s.leaderMs).sort((a, b) => a - b);
  const c = samples.map((s) => s.commitMs).sort((a, b) => a - b);
  return {
    trials: samples.length,
    leaderP50Ms: quantile(l, 0.5),
    leaderP99Ms: quantile(l, 0.99),
    commitP50Ms: quantile(c, 0.5),
    commitP99Ms: quantile(c, 0.99),
    maxCommitMs: c.at(-1)!,
  };
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (!existsSync(ETCD)) throw new Error(`${ETCD} not found: install Debian's etcd-server`);
  const etcdVersion = spawnSync(ETCD, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  if (PROF_DIR) mkdirSync(PROF_DIR, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'novacron-raft-bench-'));
  const clusters: Cluster[] = [];
  try {
    console.log(
      `raft bench: ${QUICK ? 'quick' : 'full'}, ${ROUNDS} round(s) of ${LOAD_MS} ms per figure; ${etcdVersion}`,
    );
    const ours = await startOurs('ours (file)', join(root, 'ours'));
    clusters.push(ours);
    if (process.argv.includes('--failover-only')) {
      const real: FailoverSample[] = [];
      for (let i = 0; i < REAL_TRIALS; i++) real.push(await realFailover(ours));
      console.log(distribution(real));
      return;
    }
    if (OURS_ONLY) {
      const arg = process.argv.find((a) => a.startsWith('--clients='));
      await load(ours, 256, WARMUP_MS);
      for (const n of (arg?.slice(10) ?? '1,256').split(',')) await compare([ours], Number(n));
      return;
    }
    const etcd = await startEtcd(join(root, 'etcd'));
    clusters.push(etcd);
    for (const c of [ours, etcd]) await load(c, 256, WARMUP_MS);
    const only = process.argv.find((a) => a.startsWith('--clients='));
    if (process.argv.includes('--load-only') && only) {
      for (const n of only.slice(10).split(',').map(Number)) {
        const r = await compare([ours, etcd], n);
        const [o, e] = [summarize(r.get(ours.name)!), summarize(r.get('etcd')!)];
        console.log(
          `${n} clients, ours/etcd: ${(o.opsPerSec / e.opsPerSec).toFixed(2)} puts/s, p50 ${(o.p50Ms / e.p50Ms).toFixed(2)}, p99 ${(o.p99Ms / e.p99Ms).toFixed(2)}, CPU ${(o.cpuSecPer1000 / e.cpuSecPer1000).toFixed(2)}`,
        );
      }
      return;
    }

    console.log('1 client:');
    const one = await compare([ours, etcd], 1);
    console.log('256 clients:');
    const many = await compare([ours, etcd], 256);

    if (process.argv.includes('--load-only')) {
      const [o1, e1, oN, eN] = [one.get(ours.name)!, one.get('etcd')!, many.get(ours.name)!, many.get('etcd')!].map(
        summarize,
      );
      console.log(
        `ratios ours/etcd: 1 client ${(o1!.opsPerSec / e1!.opsPerSec).toFixed(2)} puts/s, p50 ${(o1!.p50Ms / e1!.p50Ms).toFixed(2)}; 256 clients ${(oN!.opsPerSec / eN!.opsPerSec).toFixed(2)} puts/s, p99 ${(oN!.p99Ms / eN!.p99Ms).toFixed(2)}, CPU ${(oN!.cpuSecPer1000 / eN!.cpuSecPer1000).toFixed(2)}`,
      );
      return;
    }
    console.log('in-memory store, 64 clients:');
    const mem = await startOurs('ours (memory)', undefined);
    clusters.push(mem);
    await load(mem, 256, WARMUP_MS);
    const mem64 = await compare([mem, etcd], 64);
    await stopCluster(mem);
    await stopCluster(etcd);

    console.log(`failover: ${REAL_TRIALS} real trials (SIGKILL the leader)...`);
    const real: FailoverSample[] = [];
    for (let i = 0; i < REAL_TRIALS; i++) real.push(await realFailover(ours));
    await stopCluster(ours);
    console.log(`failover: ${SIM_TRIALS} simulated trials...`);
    const sim: FailoverSample[] = [];
    for (let i = 0; i < SIM_TRIALS; i++) sim.push(await simFailover(i, TICK_MS, ELECTION_TICKS));

    const o1 = summarize(one.get(ours.name)!);
    const e1 = summarize(one.get('etcd')!);
    const oN = summarize(many.get(ours.name)!);
    const eN = summarize(many.get('etcd')!);
    const m64 = summarize(mem64.get(mem.name)!);
    const e64 = summarize(mem64.get('etcd')!);
    const realD = distribution(real);
    const simD = distribution(sim);
    const bound = 2 * MAX_ELECTION_MS;
    const targets = {
      oneClientThroughput: o1.opsPerSec >= e1.opsPerSec,
      oneClientP50: o1.p50Ms <= e1.p50Ms,
      manyClientsThroughput: oN.opsPerSec >= eN.opsPerSec,
      manyClientsP99: oN.p99Ms <= eN.p99Ms,
      manyClientsCpuPer1000: oN.cpuSecPer1000 <= eN.cpuSecPer1000,
      failoverSimP99: simD.leaderP99Ms <= bound && simD.commitP99Ms <= bound,
      failoverRealP99: realD.leaderP99Ms <= bound && realD.commitP99Ms <= bound,
    };
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const yes = (b: boolean) => (b ? 'yes' : 'NO');
    console.table([
      {
        scenario: '1 client',
        metric: 'puts/s',
        ours: o1.opsPerSec.toFixed(0),
        etcd: e1.opsPerSec.toFixed(0),
        'ours/etcd': ratio(o1.opsPerSec, e1.opsPerSec),
        target: '>= 1',
        met: yes(targets.oneClientThroughput),
      },
      {
        scenario: '1 client',
        metric: 'p50 ms',
        ours: o1.p50Ms.toFixed(2),
        etcd: e1.p50Ms.toFixed(2),
        'ours/etcd': ratio(o1.p50Ms, e1.p50Ms),
        target: '<= 1',
        met: yes(targets.oneClientP50),
      },
      {
        scenario: '1 client',
        metric: 'p99 ms',
        ours: o1.p99Ms.toFixed(2),
        etcd: e1.p99Ms.toFixed(2),
        'ours/etcd': ratio(o1.p99Ms, e1.p99Ms),
        target: '',
        met: '',
      },
      {
        scenario: '256 clients',
        metric: 'puts/s',
        ours: oN.opsPerSec.toFixed(0),
        etcd: eN.opsPerSec.toFixed(0),
        'ours/etcd': ratio(oN.opsPerSec, eN.opsPerSec),
        target: '>= 1',
        met: yes(targets.manyClientsThroughput),
      },
      {
        scenario: '256 clients',
        metric: 'p50 ms',
        ours: oN.p50Ms.toFixed(2),
        etcd: eN.p50Ms.toFixed(2),
        'ours/etcd': ratio(oN.p50Ms, eN.p50Ms),
        target: '',
        met: '',
      },
      {
        scenario: '256 clients',
        metric: 'p99 ms',
        ours: oN.p99Ms.toFixed(2),
        etcd: eN.p99Ms.toFixed(2),
        'ours/etcd': ratio(oN.p99Ms, eN.p99Ms),
        target: '<= 1',
        met: yes(targets.manyClientsP99),
      },
      {
        scenario: '256 clients',
        metric: 'CPU s / 1000 commits',
        ours: oN.cpuSecPer1000.toFixed(3),
        etcd: eN.cpuSecPer1000.toFixed(3),
        'ours/etcd': ratio(oN.cpuSecPer1000, eN.cpuSecPer1000),
        target: '<= 1',
        met: yes(targets.manyClientsCpuPer1000),
      },
      {
        scenario: 'memory, 64 clients',
        metric: 'puts/s',
        ours: m64.opsPerSec.toFixed(0),
        etcd: e64.opsPerSec.toFixed(0),
        'ours/etcd': ratio(m64.opsPerSec, e64.opsPerSec),
        target: 'report',
        met: '',
      },
      {
        scenario: 'memory, 64 clients',
        metric: 'p99 ms',
        ours: m64.p99Ms.toFixed(2),
        etcd: e64.p99Ms.toFixed(2),
        'ours/etcd': ratio(m64.p99Ms, e64.p99Ms),
        target: 'report',
        met: '',
      },
      {
        scenario: `failover sim (${SIM_TRIALS})`,
        metric: 'leader p50/p99 ms',
        ours: `${simD.leaderP50Ms.toFixed(0)}/${simD.leaderP99Ms.toFixed(0)}`,
        etcd: '',
        'ours/etcd': '',
        target: `p99 <= ${bound}`,
        met: '',
      },
      {
        scenario: `failover sim (${SIM_TRIALS})`,
        metric: 'commit p50/p99 ms',
        ours: `${simD.commitP50Ms.toFixed(0)}/${simD.commitP99Ms.toFixed(0)}`,
        etcd: '',
        'ours/etcd': '',
        target: `p99 <= ${bound}`,
        met: yes(targets.failoverSimP99),
      },
      {
        scenario: `failover real (${REAL_TRIALS})`,
        metric: 'leader p50/p99 ms',
        ours: `${realD.leaderP50Ms.toFixed(0)}/${realD.leaderP99Ms.toFixed(0)}`,
        etcd: '',
        'ours/etcd': '',
        target: `p99 <= ${bound}`,
        met: '',
      },
      {
        scenario: `failover real (${REAL_TRIALS})`,
        metric: 'commit p50/p99 ms',
        ours: `${realD.commitP50Ms.toFixed(0)}/${realD.commitP99Ms.toFixed(0)}`,
        etcd: '',
        'ours/etcd': '',
        target: `p99 <= ${bound}`,
        met: yes(targets.failoverRealP99),
      },
    ]);

    const results = {
      bench: 'raft',
      date: new Date().toISOString(),
      quick: QUICK,
      machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg() },
      config: {
        valueBytes: VALUE_BYTES,
        loadMs: LOAD_MS,
        rounds: ROUNDS,
        protocol: 'HTTP/1.1 JSON, POST /v3/kv/put {key, value} base64 (etcd v3 JSON gateway; ours mirrors it)',
        ours: {
          tickMs: TICK_MS,
          electionTicks: ELECTION_TICKS,
          maxElectionMs: MAX_ELECTION_MS,
          store: 'FileDurableLog (fdatasync, group commit)',
          network: 'amst tcpPeerNetwork',
        },
        etcd: { version: etcdVersion, heartbeatMs: 100, electionMs: 1000 },
      },
      oneClient: { ours: o1, etcd: e1 },
      clients256: { ours: oN, etcd: eN },
      memory64: { ours: m64, etcd: e64 },
      failover: { boundMs: bound, simulated: simD, real: { ...realD, samples: real } },
      targets,
    };
    const outDir = fileURLToPath(new URL('../results/', import.meta.url));
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'raft.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`wrote ${join(outDir, 'raft.json')}`);
  } finally {
    for (const c of clusters) await stopCluster(c).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
