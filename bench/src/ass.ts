/**
 * ASS state sync on loopback with 3 processes (bench/src/ass-worker.ts),
 * each a replica on amst's tcpPeerNetwork with FileDurableLog on real files
 * (fsync before every acknowledgement):
 *
 * - update propagation: one replica writes 500 keys, 5 ms apart; the time
 *   until both others applied each one (p50/p99);
 * - full sync from scratch of a 100,000-operation document (map sets over
 *   10,000 keys) into an empty replica;
 * - re-convergence after a partition in which 10,000 writes happened;
 * - hybrid writes (Raft + StrongSync + CrdtSync + HybridSync, deadline
 *   100 ms) while the leader is reachable, against the quorum round trip
 *   measured with pings over the same network, and while the writer is cut
 *   off (acknowledged eventual);
 * - wire bytes of CrdtSync (updates, digests, anti-entropy: everything it
 *   sent) against the plain Yjs updates of the same edits sent to every peer.
 *
 * Partitions are userspace: a gate in each worker drops traffic to and from
 * blocked peers. Prints a table with ratios to the targets of issue #8 and
 * writes results/ass.json. Run: `npx tsx bench/src/ass.ts` (about 30-60 s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as Y from 'yjs';

const ids = ['a', 'b', 'c'];
const worker = fileURLToPath(new URL('ass-worker.ts', import.meta.url));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface Sent {
  bytesSent: number;
  step2Sent: number;
}

interface Worker {
  proc: ChildProcess;
  call<T = Record<string, unknown>>(op: string, args?: Record<string, unknown>): Promise<T>;
}

async function startCluster(mode: 'crdt' | 'hybrid'): Promise<{ workers: Record<string, Worker>; root: string }> {
  const root = mkdtempSync(join(tmpdir(), `novacron-ass-bench-${mode}-`));
  const base = 21_000 + Math.floor(Math.random() * 20_000);
  const addresses = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${base + i}`]));
  const workers: Record<string, Worker> = {};
  await Promise.all(
    ids.map(
      (id) =>
        new Promise<void>((resolve, reject) => {
          const proc = spawn(
            process.execPath,
            [...process.execArgv, worker, id, mode, join(root, id), JSON.stringify(addresses)],
            {
              stdio: ['pipe', 'pipe', 'inherit'],
            },
          );
          const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
          let next = 0;
          createInterface({ input: proc.stdout! }).on('line', (line) => {
            const m = JSON.parse(line) as { ready?: string; id: number; ok: boolean; r: unknown; err: string };
            if (m.ready) return resolve();
            const w = waiting.get(m.id);
            waiting.delete(m.id);
            if (m.ok) w?.resolve(m.r);
            else w?.reject(new Error(`${id}: ${m.err}`));
          });
          proc.on('exit', (code) => {
            if (code !== 0 && code !== null) reject(new Error(`worker ${id} exited ${code}`));
          });
          workers[id] = {
            proc,
            call: <T>(op: string, args: Record<string, unknown> = {}) =>
              new Promise<T>((res, rej) => {
                const n = ++next;
                waiting.set(n, { resolve: res as (v: unknown) => void, reject: rej });
                proc.stdin!.write(`${JSON.stringify({ id: n, op, ...args })}\n`);
              }),
          };
        }),
    ),
  );
  return { workers, root };
}

async function stopCluster(c: { workers: Record<string, Worker>; root: string }) {
  await Promise.all(Object.values(c.workers).map((w) => w.call('exit').catch(() => undefined)));
  await new Promise((r) => setTimeout(r, 100));
  for (const w of Object.values(c.workers)) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
  rmSync(c.root, { recursive: true, force: true });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const results: Record<string, unknown> = {};

// --- Baselines measured in this run -------------------------------------
// Plain Yjs, one process: encode the same 100,000-op document and apply it to an empty one.
{
  const src = new Y.Doc();
  const map = src.getMap('kv');
  const enc = new TextEncoder();
  for (let i = 0; i < 100_000; i += 1000)
    src.transact(() => {
      for (let j = i; j < i + 1000; j++) map.set(`b${j % 10_000}`, enc.encode(`v${j}`));
    });
  // Best of three (the first runs cold, before the JIT has compiled Yjs).
  const runs: number[] = [];
  let updateBytes = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const update = Y.encodeStateAsUpdate(src);
    Y.applyUpdate(new Y.Doc(), update);
    runs.push(performance.now() - t0);
    updateBytes = update.length;
  }
  results.plainYjsFullSync = { ops: 100_000, ms: Math.min(...runs), runsMs: runs, updateBytes };
}
// One 4 KiB write + fdatasync on this disk: what every Raft commit waits for (leader, then follower).
{
  const dir = mkdtempSync(join(tmpdir(), 'novacron-ass-fsync-'));
  const fd = openSync(join(dir, 'f'), 'w');
  const block = new Uint8Array(4096);
  const lat: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    writeSync(fd, block);
    fdatasyncSync(fd);
    lat.push(performance.now() - t0);
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  results.fsync = { p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) };
}

// --- CRDT ---------------------------------------------------------------
{
  const c = await startCluster('crdt');
  const { a, b, c: w3 } = c.workers as Record<'a' | 'b' | 'c', Worker>;
  await sleep(300); // connections up
  const { starts } = await a.call<{ starts: Record<string, number> }>('write', { n: 500, intervalMs: 5, prefix: 'p' });
  await sleep(300);
  const seenB = (await b.call<{ seen: Record<string, number> }>('seen', { prefix: 'p' })).seen;
  const seenC = (await w3.call<{ seen: Record<string, number> }>('seen', { prefix: 'p' })).seen;
  const prop = Object.keys(starts).map((k) => Math.max(seenB[k] ?? Number.NaN, seenC[k] ?? Number.NaN) - starts[k]!);
  const missing = prop.filter((x) => Number.isNaN(x)).length;
  const p = prop.filter((x) => !Number.isNaN(x));
  const stats = await a.call<{ bytesSent: number; plainUpdateBytes: number; messages: number }>('stats');
  results.propagation = { writes: 500, missing, p50Ms: pct(p, 50), p99Ms: pct(p, 99), targetP99Ms: 20 };
  results.wireBytes = {
    crdtSyncBytes: stats.bytesSent,
    plainYjsUpdateBytes: stats.plainUpdateBytes,
    ratio: stats.bytesSent / stats.plainUpdateBytes,
    target: 1.2,
  };

  // Full sync of a 100,000-operation document into an empty replica.
  await w3.call('fresh');
  const { sv } = await a.call<{ sv: string }>('bulk', { ops: 100_000, keys: 10_000 });
  await sleep(500);
  const senders = async () => {
    const [x, y] = await Promise.all([a.call<Sent>('stats'), b.call<Sent>('stats')]);
    return { bytes: x.bytesSent + y.bytesSent, step2: x.step2Sent + y.step2Sent };
  };
  const before = await senders();
  const full = await w3.call<{ ms: number }>('startAndWait', { sv });
  const after = await senders();
  results.fullSync = {
    ops: 100_000,
    ms: full.ms,
    targetMs: 1000,
    // Everything both peers sent while c synced (step 2 chunks, digests), against one encoded state.
    bytesSentByPeers: after.bytes - before.bytes,
    step2MessagesSent: after.step2 - before.step2,
    stateBytes: (results.plainYjsFullSync as { updateBytes: number }).updateBytes,
  };

  // 10,000 writes while c is cut off, then heal.
  await sleep(300);
  await Promise.all([
    a.call('block', { peers: ['c'] }),
    b.call('block', { peers: ['c'] }),
    w3.call('block', { peers: ['a', 'b'] }),
  ]);
  const burst = await a.call<{ sv: string }>('burst', { n: 10_000 });
  await sleep(300);
  await Promise.all([a.call('unblock'), b.call('unblock')]);
  const heal = await w3.call<{ ms: number }>('unblockAndWait', { sv: burst.sv });
  results.reconvergence = { writes: 10_000, ms: heal.ms, targetMs: 2000, antiEntropyMs: 100 };
  await stopCluster(c);
}

// --- Hybrid ---------------------------------------------------------------
// Measured twice on one cluster: on plain loopback, then with 5 ms added to
// every message each way (a 10 ms round trip, the low end of the hybrid-mode
// links the deadline is meant for).
async function hybridPhase(ws: Record<string, Worker>, oneWayMs: number) {
  await Promise.all(ids.map((id) => ws[id]!.call('delay', { ms: oneWayMs })));
  let leader: string | undefined;
  for (let i = 0; i < 100 && !leader; i++) {
    await sleep(50);
    const roles = await Promise.all(
      ids.map(async (id) => [id, (await ws[id]!.call<{ role: string }>('role')).role] as const),
    );
    leader = roles.find(([, r]) => r === 'leader')?.[0];
  }
  if (!leader) throw new Error('no Raft leader elected');
  const followers = ids.filter((i) => i !== leader);
  const rtts = [
    ...(await ws[leader]!.call<{ rtts: number[] }>('ping', { peer: followers[0], n: 100 })).rtts,
    ...(await ws[leader]!.call<{ rtts: number[] }>('ping', { peer: followers[1], n: 100 })).rtts,
  ];
  const quorumRtt = pct(rtts, 50);
  const reach = await ws[leader]!.call<{ lat: number[]; levels: string[] }>('hwrite', { n: 300, prefix: 'r' });
  const fromFollower = await ws[followers[0]!]!.call<{ lat: number[]; levels: string[] }>('hwrite', {
    n: 200,
    prefix: 'f',
  });
  // Cut a follower off from everyone: its writes fall back after the deadline.
  const cut = followers[1]!;
  await Promise.all(
    ids.map((id) => ws[id]!.call('block', { peers: id === cut ? ids.filter((x) => x !== cut) : [cut] })),
  );
  const off = await ws[cut]!.call<{ lat: number[]; levels: string[]; pending: number }>('hwrite', {
    n: 40,
    prefix: 'x',
  });
  await Promise.all(ids.map((id) => ws[id]!.call('unblock')));
  const t0 = performance.now();
  let pending = off.pending;
  while (pending > 0 && performance.now() - t0 < 10_000) {
    await sleep(5);
    pending = (await ws[cut]!.call<{ pending: number }>('pending')).pending;
  }
  return {
    oneWayDelayMs: oneWayMs,
    deadlineMs: 100,
    quorumRttP50Ms: quorumRtt,
    reachableLeader: {
      writes: reach.lat.length,
      strong: reach.levels.filter((l) => l === 'strong').length,
      p50Ms: pct(reach.lat, 50),
      p99Ms: pct(reach.lat, 99),
      targetP99Ms: 3 * quorumRtt,
    },
    reachableFollower: {
      writes: fromFollower.lat.length,
      strong: fromFollower.levels.filter((l) => l === 'strong').length,
      p50Ms: pct(fromFollower.lat, 50),
      p99Ms: pct(fromFollower.lat, 99),
      targetP99Ms: 3 * quorumRtt,
    },
    cutOff: {
      writes: off.lat.length,
      eventual: off.levels.filter((l) => l === 'eventual').length,
      p50Ms: pct(off.lat, 50),
      p99Ms: pct(off.lat, 99),
      targetP99Ms: 110,
      replayedAfterHealMs: performance.now() - t0,
      pendingLeft: pending,
    },
  };
}
{
  const c = await startCluster('hybrid');
  results.hybrid = await hybridPhase(c.workers, 0);
  results.hybridRtt10 = await hybridPhase(c.workers, 5);
  await stopCluster(c);
}
results.load = { loadavg: loadavg(), cpus: cpus().length };

const r = results as {
  propagation: { p50Ms: number; p99Ms: number; missing: number };
  wireBytes: { ratio: number; crdtSyncBytes: number; plainYjsUpdateBytes: number };
  fullSync: { ms: number };
  plainYjsFullSync: { ms: number };
  fsync: { p50Ms: number; p99Ms: number };
  reconvergence: { ms: number };
  hybrid: HybridResult;
  hybridRtt10: HybridResult;
};
type HybridResult = Awaited<ReturnType<typeof hybridPhase>>;
const f = (x: number) => x.toFixed(x < 10 ? 2 : 1);
function hybridRows(h: HybridResult, link: string): [string, string, string, string][] {
  const target = `≤ 3 × RTT ${f(h.quorumRttP50Ms)} = ${f(h.reachableLeader.targetP99Ms)}`;
  return [
    [
      `hybrid (${link}), leader writes, strong ${h.reachableLeader.strong}/${h.reachableLeader.writes}: p50 / p99 (ms)`,
      `${f(h.reachableLeader.p50Ms)} / ${f(h.reachableLeader.p99Ms)}`,
      target,
      f(h.reachableLeader.p99Ms / h.reachableLeader.targetP99Ms),
    ],
    [
      `hybrid (${link}), follower writes, strong ${h.reachableFollower.strong}/${h.reachableFollower.writes}: p50 / p99 (ms)`,
      `${f(h.reachableFollower.p50Ms)} / ${f(h.reachableFollower.p99Ms)}`,
      `${target} (forwarded: +1 RTT)`,
      f(h.reachableFollower.p99Ms / h.reachableFollower.targetP99Ms),
    ],
    [
      `hybrid (${link}), cut off, eventual ${h.cutOff.eventual}/${h.cutOff.writes}: p50 / p99 (ms)`,
      `${f(h.cutOff.p50Ms)} / ${f(h.cutOff.p99Ms)}`,
      '≤ 110 (p99)',
      f(h.cutOff.p99Ms / 110),
    ],
    [`hybrid (${link}), replay after heal (ms)`, f(h.cutOff.replayedAfterHealMs), '', ''],
  ];
}
const rows: [string, string, string, string][] = [
  [
    'update propagation p50 / p99 (ms)',
    `${f(r.propagation.p50Ms)} / ${f(r.propagation.p99Ms)}`,
    '≤ 20 (p99)',
    f(r.propagation.p99Ms / 20),
  ],
  ['full sync, 100,000-op doc (ms)', f(r.fullSync.ms), '≤ 1000', f(r.fullSync.ms / 1000)],
  [
    'plain Yjs in one process: encode + apply the same doc, best of 3 (ms)',
    f(r.plainYjsFullSync.ms),
    'baseline',
    `ours ${f(r.fullSync.ms / r.plainYjsFullSync.ms)}x`,
  ],
  ['re-convergence after 10,000 writes (ms)', f(r.reconvergence.ms), '≤ 2000', f(r.reconvergence.ms / 2000)],
  ...hybridRows(r.hybrid, 'loopback'),
  ...hybridRows(r.hybridRtt10, '+5 ms each way'),
  [
    'fdatasync of 4 KiB on this disk p50 / p99 (ms)',
    `${f(r.fsync.p50Ms)} / ${f(r.fsync.p99Ms)}`,
    '(2 per Raft commit)',
    '',
  ],
  [
    'wire bytes: CrdtSync / plain Yjs updates',
    `${r.wireBytes.crdtSyncBytes} / ${r.wireBytes.plainYjsUpdateBytes}`,
    '≤ 1.2x',
    f(r.wireBytes.ratio),
  ],
];
console.log(
  `\nload average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' / ')} on ${cpus().length} CPUs`,
);
console.log('\n| measure | result | target | ratio to target |\n| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
if (r.propagation.missing > 0) console.log(`(${r.propagation.missing} writes never seen on some replica)`);
mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('../results/ass.json', import.meta.url),
  `${JSON.stringify({ bench: 'ass', date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
);
process.exit(0);
