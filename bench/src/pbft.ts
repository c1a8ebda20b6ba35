/**
 * PBFT throughput and latency: four replicas as separate Node processes on
 * loopback, talking over amst's TCP PeerNetwork, each with a real
 * FileDurableLog (fsync'd) in a temporary directory; one outside
 * PbftClient in this process keeps a fixed number of requests in flight
 * and accepts each result on f+1 = 2 matching replies.
 *
 * Two configurations: unbatched (one request per pre-prepare) and batched
 * (up to 256 per pre-prepare). Target for batched: ≥ 3,000 requests/s at
 * p99 ≤ 50 ms. Writes results/pbft.json.
 *
 * Run: npx tsx bench/src/pbft.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeKvCommand, KvStateMachine, PbftClient, PbftGroup, type PbftReplicaInfo } from '@novacron/acp';
import { tcpPeerNetwork } from '@novacron/amst';
import {
  FileDurableLog,
  MemoryDurableLog,
  type NodeId,
  NodeIdentity,
  nodeFileIO,
  seededRng,
  systemClock,
} from '@novacron/core';

interface Config {
  readonly secrets: string[];
  readonly clientSecret: string;
  readonly ports: number[];
  readonly clientPort: number;
  readonly maxBatch: number;
  readonly dir: string;
}

const identityOf = (hex: string) => NodeIdentity.fromSecretKey(Buffer.from(hex, 'hex'));

function rosterOf(cfg: Config): PbftReplicaInfo[] {
  return cfg.secrets.map((s) => {
    const id = identityOf(s);
    return { id: id.nodeId, publicKey: id.publicKey };
  });
}

function peersOf(cfg: Config, except: string): [NodeId, string][] {
  const out: [NodeId, string][] = cfg.secrets.map((s, k) => [identityOf(s).nodeId, `127.0.0.1:${cfg.ports[k]}`]);
  out.push([identityOf(cfg.clientSecret).nodeId, `127.0.0.1:${cfg.clientPort}`]);
  return out.filter(([id]) => id !== except);
}

async function runReplica(k: number, cfg: Config): Promise<void> {
  const identity = identityOf(cfg.secrets[k]!);
  const network = tcpPeerNetwork({
    localId: identity.nodeId,
    listenAddress: `127.0.0.1:${cfg.ports[k]}`,
    peers: peersOf(cfg, identity.nodeId),
    maxQueueMessages: 65_536,
    maxQueueBytes: 256 * 1024 * 1024,
  });
  await network.start();
  const group = new PbftGroup({
    identity,
    replicas: rosterOf(cfg),
    network,
    log:
      process.env.PBFT_BENCH_LOG === 'memory'
        ? new MemoryDurableLog()
        : new FileDurableLog({ io: nodeFileIO(), dir: join(cfg.dir, `r${k}`) }),
    clock: systemClock(),
    stateMachine: new KvStateMachine(),
    tickMs: 10,
    viewChangeTicks: 200,
    statusTicks: 10,
    maxBatch: cfg.maxBatch,
    pipeline: cfg.maxBatch === 1 ? 64 : 4,
    checkpointInterval: cfg.maxBatch === 1 ? 256 : 64,
  });
  await group.start();
  process.send?.('ready');
  if (process.env.PBFT_BENCH_DEBUG) {
    setInterval(() => {
      const c = group.core;
      console.error(
        `r${k} view ${c.view} change ${c.inViewChange} exec ${c.lastExecuted} h ${c.stableCheckpoint} ${JSON.stringify(c.stats())}`,
      );
    }, 1000).unref();
  }
  process.on('message', async (m) => {
    if (m === 'stop') {
      await group.stop();
      await network.stop();
      process.exit(0);
    }
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

interface Measured {
  readonly config: string;
  readonly maxBatch: number;
  readonly inFlight: number;
  readonly requests: number;
  readonly seconds: number;
  readonly throughput: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function measure(label: string, maxBatch: number, inFlight: number, seconds: number): Promise<Measured> {
  const rng = seededRng(`pbft-bench-${label}`);
  const dir = mkdtempSync(join(tmpdir(), 'novacron-pbft-bench-'));
  const cfg: Config = {
    secrets: Array.from({ length: 4 }, () => Buffer.from(rng.bytes(32)).toString('hex')),
    clientSecret: Buffer.from(rng.bytes(32)).toString('hex'),
    ports: [await freePort(), await freePort(), await freePort(), await freePort()],
    clientPort: await freePort(),
    maxBatch,
    dir,
  };
  const self = fileURLToPath(import.meta.url);
  const children: ChildProcess[] = [];
  try {
    await Promise.all(
      cfg.secrets.map(
        (_, k) =>
          new Promise<void>((resolve, reject) => {
            const prof = process.env.PBFT_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/pbftprof'] : [];
            const child = spawn(
              process.execPath,
              [...prof, ...process.execArgv, self, 'replica', String(k), JSON.stringify(cfg)],
              {
                stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
              },
            );
            children.push(child);
            child.once('message', () => resolve());
            child.once('exit', (code) => reject(new Error(`replica ${k} exited (${code})`)));
          }),
      ),
    );
    const clientId = identityOf(cfg.clientSecret);
    const network = tcpPeerNetwork({
      localId: clientId.nodeId,
      listenAddress: `127.0.0.1:${cfg.clientPort}`,
      peers: peersOf(cfg, clientId.nodeId),
      maxQueueMessages: 65_536,
      maxQueueBytes: 256 * 1024 * 1024,
    });
    await network.start();
    const client = new PbftClient({
      identity: clientId,
      replicas: rosterOf(cfg),
      network,
      clock: systemClock(),
      retryMs: 1_000,
    });
    await client.start();
    const value = new Uint8Array(64).fill(7);
    let n = 0;
    const latencies: number[] = [];
    let measuring = false;
    let done = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const cmd = encodeKvCommand({ op: 'put', key: `k${n++ % 1024}`, value });
        const t0 = performance.now();
        await client.propose(cmd, { timeoutMs: 30_000 });
        if (measuring) {
          latencies.push(performance.now() - t0);
          done++;
        }
      }
    };
    const workers = Array.from({ length: inFlight }, () => worker());
    await new Promise((r) => setTimeout(r, 1_500)); // warm-up: connections, JIT
    measuring = true;
    const start = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1_000));
    measuring = false;
    const elapsed = (performance.now() - start) / 1_000;
    stop = true;
    await Promise.allSettled(workers);
    await client.stop();
    await network.stop();
    latencies.sort((a, b) => a - b);
    return {
      config: label,
      maxBatch,
      inFlight,
      requests: done,
      seconds: elapsed,
      throughput: done / elapsed,
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
    };
  } finally {
    for (const c of children) c.send?.('stop');
    await new Promise((r) => setTimeout(r, 500));
    for (const c of children) if (c.exitCode === null) c.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const seconds = Number(process.env.PBFT_BENCH_SECONDS ?? 5);
  const results: Measured[] = [];
  results.push(await measure('unbatched', 1, 16, seconds));
  for (const inFlight of [32, 128, 512]) results.push(await measure(`batched-${inFlight}`, 256, inFlight, seconds));
  const log = process.env.PBFT_BENCH_LOG === 'memory' ? 'MemoryDurableLog' : 'FileDurableLog with fsync';
  const machine = { cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))) };
  console.log(`\nPBFT, 4 replica processes on loopback (amst TCP, ${log}), one outside client`);
  console.log(`machine: ${machine.cpus} CPUs, load average ${machine.loadavg.join(' / ')} (1/5/15 min) at the end`);
  console.log('config       batch  in-flight  requests   req/s     p50 ms   p99 ms');
  for (const r of results) {
    console.log(
      `${r.config.padEnd(12)} ${String(r.maxBatch).padStart(5)}  ${String(r.inFlight).padStart(9)}  ${String(r.requests).padStart(8)}  ${r.throughput.toFixed(0).padStart(7)}  ${r.p50Ms.toFixed(1).padStart(7)}  ${r.p99Ms.toFixed(1).padStart(7)}`,
    );
  }
  const batchedRuns = results.filter((r) => r.config.startsWith('batched'));
  const batched = batchedRuns.reduce((a, b) => (b.throughput > a.throughput ? b : a));
  const unbatched = results.find((r) => r.config === 'unbatched')!;
  const target = batchedRuns.some((r) => r.throughput >= 3_000 && r.p99Ms <= 50);
  console.log(
    `best batched / unbatched throughput: ${(batched.throughput / unbatched.throughput).toFixed(2)}x; target (≥ 3,000 req/s at p99 ≤ 50 ms): ${target ? 'met' : 'NOT met'}`,
  );
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('../results/pbft.json', import.meta.url),
    `${JSON.stringify({ bench: 'pbft', date: new Date().toISOString(), log, machine, results, target: { met: target } }, null, 2)}\n`,
  );
}

if (process.argv[2] === 'replica') {
  void runReplica(Number(process.argv[3]), JSON.parse(process.argv[4]!) as Config);
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
