/**
 * One process of bench/src/ass.ts: a replica on loopback TCP (amst's
 * tcpPeerNetwork) with real files, driven by JSON-line commands on stdin
 * and answering with JSON lines on stdout. `crdt` mode runs a CrdtSync;
 * `hybrid` mode runs Raft + StrongSync + CrdtSync + HybridSync. A gate in
 * front of the network drops traffic to and from "blocked" peers, which is
 * how the coordinator partitions processes.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RaftGroup } from '@novacron/acp';
import { tcpPeerNetwork } from '@novacron/amst';
import { CrdtSync, HybridSync, StrongSync, SyncStateMachine } from '@novacron/ass';
import {
  FileDurableLog,
  nodeFileIO,
  type PeerMessageHandler,
  type PeerNetwork,
  randomSeed,
  seededRng,
  systemClock,
} from '@novacron/core';
import * as Y from 'yjs';

const [id, mode, dir, peersJson] = process.argv.slice(2) as [string, 'crdt' | 'hybrid', string, string];
const addresses = JSON.parse(peersJson) as Record<string, string>;
const peerIds = Object.keys(addresses).filter((p) => p !== id);
const clock = systemClock();
const rng = seededRng(randomSeed());
const io = nodeFileIO();
const wall = () => performance.timeOrigin + performance.now();
const enc = new TextEncoder();

const tcp = tcpPeerNetwork({
  localId: id,
  listenAddress: addresses[id]!,
  peers: peerIds.map((p) => [p, addresses[p]!] as const),
  maxMessageSize: 64 * 1024 * 1024,
  maxQueueBytes: 256 * 1024 * 1024,
  maxQueueMessages: 100_000,
});
const blocked = new Set<string>();
// One-way delay added to every message sent (0: plain loopback); emulates a
// hybrid-mode link. Equal delays keep Node's timers, and so messages, in order.
let delayMs = 0;
const gate: PeerNetwork = {
  localId: id,
  maxMessageSize: tcp.maxMessageSize,
  send: (to, channel, data) => {
    if (blocked.has(to)) return;
    if (delayMs === 0) tcp.send(to, channel, data);
    else
      setTimeout(() => {
        if (!blocked.has(to)) tcp.send(to, channel, data);
      }, delayMs);
  },
  handle: (channel, handler: PeerMessageHandler) =>
    tcp.handle(channel, (from, data) => {
      if (!blocked.has(from)) handler(from, data);
    }),
};
await tcp.start();

const makeCrdt = (sub: string, antiEntropyMs: number) =>
  new CrdtSync({
    network: gate,
    peers: peerIds,
    clock,
    rng: rng.fork(sub),
    log: new FileDurableLog({ io, dir: join(dir, sub) }),
    antiEntropyMs,
    compactAfter: 1_000_000,
  });

let crdt: CrdtSync | undefined;
let hybrid: HybridSync | undefined;
let group: RaftGroup | undefined;
let plainUpdateBytes = 0;
let localWrite = false;
const seen = new Map<string, number>();
const watchDoc = (c: CrdtSync) => {
  c.doc('bench').on('update', (u: Uint8Array) => {
    // The same edit as a plain Yjs provider would send it: the raw update, to every peer.
    if (localWrite) plainUpdateBytes += u.length * peerIds.length;
  });
  c.watch('bench', (ch) => {
    if (!seen.has(ch.key)) seen.set(ch.key, wall());
  });
};

if (mode === 'crdt') {
  crdt = makeCrdt('crdt', 100);
  await crdt.start();
  watchDoc(crdt);
} else {
  const machine = new SyncStateMachine();
  group = new RaftGroup({
    id,
    voters: Object.keys(addresses),
    network: gate,
    log: new FileDurableLog({ io, dir: join(dir, 'raft') }),
    clock,
    rng: rng.fork('raft'),
    stateMachine: machine,
    tickMs: 10,
    electionTicks: 15,
    heartbeatTicks: 3,
  });
  const strong = new StrongSync({ group, stateMachine: machine, network: gate, clock, rng: rng.fork('strong') });
  hybrid = new HybridSync({
    strong,
    crdt: makeCrdt('overlay', 200),
    journal: new FileDurableLog({ io, dir: join(dir, 'journal') }),
    clock,
    physicalTime: () => Date.now(),
  });
  await hybrid.start();
}
gate.handle('bench/ping', (from, data) => {
  if (data[0] === 0) gate.send(from, 'bench/ping', Uint8Array.of(1, ...data.subarray(1)));
  else pongs.get(new DataView(data.buffer, data.byteOffset + 1).getUint32(0))?.();
});
const pongs = new Map<number, () => void>();
let pingSeq = 0;

type Cmd = { op: string; [k: string]: unknown };
const handlers: Record<string, (c: Cmd) => Promise<unknown>> = {
  async write(c) {
    // Sequential writes of new keys, paced; returns each write's start time.
    const starts: Record<string, number> = {};
    for (let i = 0; i < (c.n as number); i++) {
      const key = `${c.prefix as string}${i}`;
      starts[key] = wall();
      localWrite = true;
      const p = crdt!.put('bench', key, enc.encode(`value-${i}-${'x'.repeat(40)}`));
      localWrite = false;
      await p;
      await new Promise((r) => setTimeout(r, c.intervalMs as number));
    }
    return { starts };
  },
  async seen(c) {
    const out: Record<string, number> = {};
    for (const [k, t] of seen) if (k.startsWith(c.prefix as string)) out[k] = t;
    return { seen: out };
  },
  async stats() {
    return {
      bytesSent: crdt!.stats.bytesSent,
      plainUpdateBytes,
      messages: crdt!.stats.messagesSent,
      step2Sent: crdt!.stats.step2Sent,
    };
  },
  async bulk(c) {
    // `ops` map sets over `keys` keys, 1000 per transaction.
    const ops = c.ops as number;
    const keys = c.keys as number;
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < ops; i += 1000) {
      ps.push(
        crdt!.transact('bench', (map) => {
          for (let j = i; j < Math.min(ops, i + 1000); j++) map.set(`b${j % keys}`, enc.encode(`v${j}`));
        }),
      );
    }
    await Promise.all(ps);
    return { sv: Buffer.from(Y.encodeStateVector(crdt!.doc('bench'))).toString('base64') };
  },
  async burst(c) {
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < (c.n as number); i++) ps.push(crdt!.put('bench', `burst${i % 2000}`, enc.encode(`w${i}`)));
    await Promise.all(ps);
    return { sv: Buffer.from(Y.encodeStateVector(crdt!.doc('bench'))).toString('base64') };
  },
  async fresh() {
    // Drop everything and come back empty: the next `waitSv` measures a sync from scratch.
    await crdt!.stop();
    rmSync(join(dir, 'crdt'), { recursive: true, force: true });
    crdt = makeCrdt('crdt-fresh', 100);
    return {};
  },
  async startAndWait(c) {
    const t0 = wall();
    await crdt!.start();
    watchDoc(crdt!);
    await until(c.sv as string);
    return { ms: wall() - t0 };
  },
  async unblockAndWait(c) {
    const t0 = wall();
    blocked.clear();
    await until(c.sv as string);
    return { ms: wall() - t0 };
  },
  async delay(c) {
    delayMs = c.ms as number;
    return {};
  },
  async block(c) {
    for (const p of c.peers as string[]) blocked.add(p);
    return {};
  },
  async unblock() {
    blocked.clear();
    return {};
  },
  async ping(c) {
    const rtts: number[] = [];
    for (let i = 0; i < (c.n as number); i++) {
      const seq = ++pingSeq;
      const msg = new Uint8Array(5);
      new DataView(msg.buffer).setUint32(1, seq);
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        pongs.set(seq, resolve);
        gate.send(c.peer as string, 'bench/ping', msg);
      });
      pongs.delete(seq);
      rtts.push(performance.now() - t0);
    }
    return { rtts };
  },
  async role() {
    return group!.status();
  },
  async hwrite(c) {
    const lat: number[] = [];
    const levels: string[] = [];
    for (let i = 0; i < (c.n as number); i++) {
      const t0 = performance.now();
      const r = await hybrid!.put('bench', `${c.prefix as string}${i % 100}`, enc.encode(`h${i}`));
      lat.push(performance.now() - t0);
      levels.push(r.level);
    }
    return { lat, levels, pending: hybrid!.status().pendingWrites };
  },
  async pending() {
    return { pending: hybrid!.status().pendingWrites };
  },
  async exit() {
    await crdt?.stop();
    await hybrid?.stop();
    await tcp.stop();
    setTimeout(() => process.exit(0), 10);
    return {};
  },
};

async function until(svB64: string): Promise<void> {
  const target = Y.decodeStateVector(Buffer.from(svB64, 'base64'));
  const reached = () => {
    const mine = Y.decodeStateVector(Y.encodeStateVector(crdt!.doc('bench')));
    for (const [client, clock] of target) if ((mine.get(client) ?? 0) < clock) return false;
    return true;
  };
  while (!reached()) await new Promise((r) => setTimeout(r, 1));
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const c = JSON.parse(line) as Cmd & { id: number };
  handlers[c.op]!(c).then(
    (r) => process.stdout.write(`${JSON.stringify({ id: c.id, ok: true, r })}\n`),
    (err) => process.stdout.write(`${JSON.stringify({ id: c.id, ok: false, err: String(err) })}\n`),
  );
});
process.stdout.write(`${JSON.stringify({ ready: id })}\n`);
