/**
 * Gossip failure detection over real UDP on loopback: 10 member processes
 * (amst's `UdpPeerNetwork`, LAN profile, Lifeguard on) join through one
 * seed; once every member sees all 10 alive, one non-seed process is killed
 * with SIGKILL and each survivor's time to mark it dead is recorded. Each
 * repetition starts a fresh cluster. The same scenario runs in testkit's
 * simulator in this run, and the table gives the real/simulated ratio (no
 * outside SWIM implementation, e.g. Go memberlist, is available on this
 * machine to compare with). Writes results/gossip.json.
 *
 * Run: `npx tsx bench/src/gossip.ts [repetitions]` (default 5; about 15 s each on a quiet machine).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { GossipMembership } from '@novacron/acp';
import { UdpPeerNetwork } from '@novacron/amst';
import { randomSeed, seededRng, systemClock } from '@novacron/core';
import { SimNetwork, SimWorld } from '@novacron/testkit';

const N = 10;
const wallNow = () => performance.timeOrigin + performance.now();

type FromChild =
  | { t: 'ready'; address: string }
  | { t: 'event'; kind: string; id: string; at: number }
  | { t: 'members'; alive: number };

/** Child: one member process. */
async function member(id: string, seed: string | undefined): Promise<void> {
  const network = new UdpPeerNetwork({ localId: id, listenAddress: '127.0.0.1:0', maxMessageSize: 1400 });
  await network.start();
  const gossip = new GossipMembership({
    network,
    clock: systemClock(),
    rng: seededRng(randomSeed()),
    address: network.address!,
    addressBook: network,
    ...(seed ? { seeds: [{ id: 'n0', address: seed }] } : {}),
  });
  const send = (m: FromChild) => process.send?.(m);
  gossip.onMember((e) => send({ t: 'event', kind: e.kind, id: e.member.id, at: wallNow() }));
  gossip.start();
  send({ t: 'ready', address: network.address! });
  setInterval(() => send({ t: 'members', alive: gossip.liveMembers().length }), 100);
  process.on('disconnect', () => process.exit(0));
}

interface Child {
  readonly id: string;
  readonly proc: ChildProcess;
  alive: number;
  readonly deadAt: Map<string, number>;
  address?: string;
}

function spawnMember(id: string, seed: string | undefined): Promise<Child> {
  const file = fileURLToPath(import.meta.url);
  const proc = fork(file, ['--member', id, ...(seed ? [seed] : [])], { execArgv: process.execArgv, stdio: 'inherit' });
  const child: Child = { id, proc, alive: 0, deadAt: new Map() };
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.on('message', (m: FromChild) => {
      if (m.t === 'ready') {
        child.address = m.address;
        resolve(child);
      } else if (m.t === 'members') child.alive = m.alive;
      else if (m.t === 'event' && m.kind === 'dead' && !child.deadAt.has(m.id)) child.deadAt.set(m.id, m.at);
    });
  });
}

async function waitFor(pred: () => boolean, limitMs: number, what: string): Promise<void> {
  const end = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One repetition: ms from the kill until each survivor marks the victim dead. */
async function repetition(rep: number): Promise<number[]> {
  const seed = await spawnMember('n0', undefined);
  const children = [
    seed,
    ...(await Promise.all(Array.from({ length: N - 1 }, (_, i) => spawnMember(`n${i + 1}`, seed.address)))),
  ];
  try {
    await waitFor(() => children.every((c) => c.alive === N), 30_000, 'convergence');
    await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
    const victim = children[1 + Math.floor(Math.random() * (N - 1))]!;
    const killedAt = wallNow();
    victim.proc.kill('SIGKILL');
    const survivors = children.filter((c) => c !== victim);
    await waitFor(() => survivors.every((c) => c.deadAt.has(victim.id)), 60_000, `detection of ${victim.id}`);
    const times = survivors.map((c) => c.deadAt.get(victim.id)! - killedAt);
    console.log(
      `rep ${rep}: killed ${victim.id}; detected by all ${survivors.length} in ${Math.max(...times).toFixed(0)} ms`,
    );
    return times;
  } finally {
    for (const c of children) c.proc.kill('SIGKILL');
  }
}

/** The same scenario in the simulator (LAN-like links), for comparison. */
async function simulated(reps: number): Promise<number[]> {
  const out: number[] = [];
  for (let s = 1; s <= reps; s++) {
    const world = new SimWorld({ seed: `bench-${s}` });
    const net = new SimNetwork(world, { defaults: { latencyMs: 0.05, jitterMs: 0.2 } });
    const ids = Array.from({ length: N }, (_, i) => `n${i}`);
    const members = ids.map((id) => {
      const node = world.addNode(id);
      const g = new GossipMembership({
        network: net.endpoint(id),
        clock: node.clock,
        rng: node.rng,
        ...(id === 'n0' ? {} : { seeds: ['n0'] }),
      });
      g.start();
      return g;
    });
    await world.runUntil(() => members.every((m) => m.liveMembers().length === N), 30_000);
    await world.runFor(1000 + world.rng.next() * 2000);
    const victim = ids[world.rng.int(1, N - 1)]!;
    const killedAt = world.now();
    const deadAt = new Map<string, number>();
    for (const m of members) {
      m.onMember((e) => {
        if (e.kind === 'dead' && e.member.id === victim && !deadAt.has(m.id)) deadAt.set(m.id, world.now());
      });
    }
    world.crash(victim);
    await world.runUntil(() => deadAt.size === N - 1, 60_000);
    out.push(...[...deadAt.values()].map((t) => t - killedAt));
  }
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

async function main(): Promise<void> {
  const reps = Number(process.argv[2] ?? 5);
  const real: number[] = [];
  for (let r = 1; r <= reps; r++) real.push(...(await repetition(r)));
  const sim = await simulated(Math.max(reps, 20));
  const row = (name: string, xs: number[]) => ({
    name,
    samples: xs.length,
    p50: pct(xs, 50),
    p99: pct(xs, 99),
    max: Math.max(...xs),
  });
  const rows = [row('real UDP, 10 processes', real), row('simulator, same profile', sim)];
  console.log('\nGossip failure detection (LAN profile, Lifeguard on): kill -> marked dead, per surviving member');
  console.log('| setup | samples | p50 ms | p99 ms | max ms | p50 vs sim |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.samples} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.max.toFixed(0)} | ${(r.p50 / rows[1]!.p50).toFixed(2)} |`,
    );
  }
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}gossip.json`,
    `${JSON.stringify(
      {
        bench: 'gossip',
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
        members: N,
        repetitions: reps,
        profile: 'lan',
        lifeguard: true,
        rows,
        realSamplesMs: real,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwrote ${dir}gossip.json`);
}

if (process.argv[2] === '--member') {
  await member(process.argv[3]!, process.argv[4]);
} else {
  await main();
}
