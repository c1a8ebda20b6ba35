import {
  CoreErrorCode,
  type DurableLog,
  decodeMsgpack,
  FileDurableLog,
  isNovacronError,
  MemoryDurableLog,
  type PeerNetwork,
} from '@novacron/core';
import {
  CrashConsistentFileIO,
  checkLinearizability,
  History,
  type KvInput,
  type KvOutput,
  kvModel,
  Nemesis,
  type NemesisFaultKind,
  SimNetwork,
  type SimWorld,
} from '@novacron/testkit';
import { expect } from 'vitest';
import { encodeKvCommand, KvStateMachine, PbftGroup } from '../../src/index.js';
import { type ByzantineBehaviour, ByzantineNetwork } from './pbft-byzantine.js';
import { identities, roster } from './pbft-fixtures.js';

/** Knobs of one simulated PBFT run. */
export interface PbftSimOptions {
  /** Replicas (3f + 1). */
  readonly replicas: 4 | 7;
  /** Byzantine replicas (at most f). */
  readonly byzantine: number;
  /** What they do. */
  readonly behaviour: ByzantineBehaviour;
  /** Virtual ms of faulty operation, then a quiet period. */
  readonly durationMs: number;
  readonly clients: number;
  readonly keys: number;
  /** Faults aimed at the honest replicas. */
  readonly faults: readonly NemesisFaultKind[];
  /** Real file logs on crash-consistent disks (torn writes) instead of memory logs. */
  readonly files: boolean;
}

const enc = (n: number) => new TextEncoder().encode(String(n));
const dec = (b: Uint8Array | null): number | null => (b === null ? null : Number(new TextDecoder().decode(b)));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const K = 8;
const L = 16;

/**
 * Runs a PBFT group of `PbftGroup`s over a lossy `SimNetwork` with up to f
 * Byzantine replicas (see {@link ByzantineNetwork}), a nemesis crashing,
 * partitioning and degrading the honest ones, and clients doing
 * get/put/cas through the honest replicas. After every event it checks
 * that no two honest replicas executed different batches at one sequence
 * number nor applied different commands at one index, and that every
 * replica's protocol state stays within the watermark window. After the
 * faults heal it checks liveness (every honest replica gets a command
 * committed), that the honest replicas converge, that every acknowledged
 * write is applied at its index everywhere, and linearizability of the
 * client history.
 */
export async function runPbftSimulation(world: SimWorld, o: PbftSimOptions): Promise<{ acked: number; ops: number }> {
  const rng = world.rng.fork('scenario');
  const ids = identities(world.rng.fork('identities'), o.replicas);
  const replicas = roster(ids);
  const names = ids.map((i) => i.nodeId as string);
  // The primary of view 0 is Byzantine on about half the runs.
  const order = rng.chance(0.5)
    ? [0, ...rng.shuffle(names.slice(1).map((_, i) => i + 1))]
    : rng.shuffle(names.map((_, i) => i));
  const byzantine = new Set(order.slice(0, o.byzantine).map((i) => names[i]!));
  const honest = names.filter((n) => !byzantine.has(n));
  const net = new SimNetwork(world, {
    defaults: {
      latencyMs: rng.int(1, 5),
      jitterMs: rng.int(0, 8),
      loss: rng.pick([0, 0.01, 0.05]),
      duplicate: rng.pick([0, 0.02]),
      reorder: rng.pick([0, 0.05]),
      reorderDelayMs: 10,
    },
  });
  const members = new Map<string, { group: PbftGroup; store: KvStateMachine }>();
  const logs = new Map<string, () => DurableLog>();
  const appliedCmd = new Map<number, string>();
  const executedDigest = new Map<number, string>();
  const checkedExec = new Map<string, number>();
  const byzNets = new Map<string, ByzantineNetwork>();

  for (const [k, id] of ids.entries()) {
    const node = world.addNode(id.nodeId);
    if (o.files) {
      const disk = CrashConsistentFileIO.forNode(node, { tear: true });
      logs.set(id.nodeId, () => new FileDurableLog({ io: disk, dir: '/pbft/wal', segmentBytes: 16_384 }));
    } else {
      const mem = new MemoryDurableLog();
      logs.set(id.nodeId, () => mem);
    }
    void k;
  }

  const startMember = (name: string) => {
    const k = names.indexOf(name);
    const identity = ids[k]!;
    const node = world.node(name);
    const store = new KvStateMachine();
    let network: PeerNetwork = net.endpoint(name);
    if (byzantine.has(name)) {
      let b = byzNets.get(name);
      if (!b) {
        b = new ByzantineNetwork(network, identity, replicas, o.behaviour, node.rng.fork('byzantine'));
        byzNets.set(name, b);
      }
      network = b;
    }
    const group = new PbftGroup({
      identity,
      replicas,
      network,
      log: logs.get(name)!(),
      clock: node.clock,
      stateMachine: store,
      tickMs: 10,
      checkpointInterval: K,
      watermarkWindow: L,
      maxBatch: 4,
      viewChangeTicks: 20,
      statusTicks: 8,
      proposeTimeoutMs: 2_000,
    });
    if (!byzantine.has(name)) {
      group.onCommitted((c) => {
        const h = hex(c.command);
        const prev = appliedCmd.get(c.index);
        if (prev !== undefined && prev !== h)
          throw new Error(`state machine safety: index ${c.index} differs on ${name}`);
        appliedCmd.set(c.index, h);
      });
    }
    members.set(name, { group, store });
    checkedExec.set(name, 0);
    void group.start().catch(() => undefined);
  };
  for (const name of names) startMember(name);
  world.onRestart((node) => startMember(node.id));

  const coreOf = (name: string) => {
    try {
      return members.get(name)!.group.core;
    } catch {
      return undefined;
    }
  };
  const check = () => {
    for (const name of honest) {
      if (!world.node(name).alive) continue;
      const core = coreOf(name);
      if (!core) continue;
      // Safety: no two honest replicas execute different batches at one sequence number.
      for (let n = checkedExec.get(name)! + 1; n <= core.lastExecuted; n++) {
        const d = core.slotDigest(n);
        if (d === undefined) continue; // collected behind a stable checkpoint, or transferred
        const prev = executedDigest.get(n);
        if (prev !== undefined && prev !== hex(d))
          throw new Error(`pbft safety: ${name} executed another batch at ${n}`);
        executedDigest.set(n, hex(d));
      }
      checkedExec.set(name, core.lastExecuted);
      // Memory bounded by the watermark window.
      const s = core.stats();
      if (
        s.slots > L ||
        s.P > L ||
        s.Q > L ||
        s.checkpoints > L / K + 1 ||
        s.ckVotes > (4 * L) / K ||
        s.vcs > o.replicas
      ) {
        throw new Error(`pbft memory: ${name} holds ${JSON.stringify(s)}`);
      }
    }
  };

  // Clients through the honest replicas.
  const history = new History<KvInput, KvOutput>(world.clock);
  const acked: { index: number; command: string }[] = [];
  let counter = 0;
  let stopClients = false;
  const lastSeen = new Map<string, number | null>();
  const client = async (c: number) => {
    const crng = rng.fork(`client-${c}`);
    while (!stopClients) {
      const key = `k${crng.int(0, o.keys - 1)}`;
      const r = crng.next();
      const input: KvInput =
        r < 0.4
          ? { op: 'get', key }
          : r < 0.8
            ? { op: 'put', key, value: ++counter }
            : { op: 'cas', key, expected: lastSeen.get(key) ?? null, value: ++counter };
      const target = crng.pick(honest);
      const member = members.get(target)!;
      const id = history.invoke(c, input);
      const timeout = world.clock.sleep(2_500).then(() => 'timeout' as const);
      const attempt = (async () => {
        if (!world.node(target).alive) throw new Error('down');
        if (input.op === 'get') {
          await member.group.read({ timeoutMs: 2_000 });
          return dec(member.store.get(key));
        }
        const cmd =
          input.op === 'put'
            ? encodeKvCommand({ op: 'put', key, value: enc(input.value as number) })
            : encodeKvCommand({
                op: 'cas',
                key,
                expected: input.expected === null ? null : enc(input.expected as number),
                value: enc(input.value as number),
              });
        const res = await member.group.propose(cmd, { timeoutMs: 2_000 });
        acked.push({ index: res.index, command: hex(cmd) });
        return input.op === 'put' ? undefined : (decodeMsgpack(res.result) as boolean);
      })();
      let outcome: unknown;
      try {
        outcome = await Promise.race([attempt, timeout]);
      } catch (err) {
        if (
          (err instanceof Error && err.message === 'down') ||
          isNovacronError(err, CoreErrorCode.INVALID_STATE) ||
          input.op === 'get'
        ) {
          history.fail(id);
        } else {
          history.unknown(id);
        }
        await world.clock.sleep(crng.int(5, 30));
        continue;
      }
      if (outcome === 'timeout') {
        if (input.op === 'get') history.fail(id);
        else history.unknown(id);
        attempt.catch(() => undefined);
      } else {
        history.ok(id, outcome as KvOutput);
        if (input.op === 'get') lastSeen.set(key, outcome as number | null);
        if (input.op === 'put') lastSeen.set(key, input.value as number);
      }
      await world.clock.sleep(crng.int(0, 15));
    }
  };
  const clients = Array.from({ length: o.clients }, (_, c) => client(c));

  const nemesis = new Nemesis(world, {
    kinds: o.faults,
    nodes: honest,
    gapMs: { min: 100, max: 400 },
    durationMs: { min: 50, max: 500 },
    degrade: { loss: 0.3, latencyMs: 30 },
  });
  if (o.faults.length > 0) nemesis.start();

  await world.runUntil(() => {
    check();
    return false;
  }, o.durationMs);
  nemesis.stop();
  world.partitions.heal();
  for (const name of honest) if (!world.node(name).alive) world.restart(name);
  stopClients = true;
  let clientsDone = false;
  void Promise.all(clients).then(() => {
    clientsDone = true;
  });
  await world.runUntil(() => {
    check();
    return clientsDone;
  }, 5_000);
  expect(clientsDone, 'clients finished').toBe(true);

  // Liveness once the network is stable: every honest replica gets a command committed.
  const finals = honest.map((name) =>
    members
      .get(name)!
      .group.propose(new TextEncoder().encode(`final-${name}`), { timeoutMs: 20_000 })
      .then(
        () => true,
        (err: unknown) => err,
      ),
  );
  let finalOutcome: unknown[] | undefined;
  void Promise.all(finals).then((r) => {
    finalOutcome = r;
  });
  await world.runUntil(() => {
    check();
    return finalOutcome !== undefined;
  }, 25_000);
  const describe = () =>
    JSON.stringify({
      behaviour: o.behaviour,
      byzantine: [...byzantine],
      honest: honest.map((n) => {
        const c = coreOf(n);
        return {
          n,
          view: c?.view,
          change: c?.inViewChange,
          exec: c?.lastExecuted,
          h: c?.stableCheckpoint,
          stats: c?.stats(),
        };
      }),
    });
  expect(finalOutcome, `liveness: ${describe()}`).toEqual(honest.map(() => true));
  // Convergence: every honest replica applies the same commands.
  const converged = () => {
    const applied = honest.map((n) => members.get(n)!.group.status().appliedIndex);
    return applied.every((a) => a === applied[0]);
  };
  await world.runUntil(() => {
    check();
    return converged();
  }, 10_000);
  expect(
    honest.map((n) => members.get(n)!.group.status().appliedIndex),
    'honest replicas converge',
  ).toEqual(honest.map(() => members.get(honest[0]!)!.group.status().appliedIndex));
  const snaps = honest.map((n) => hex(members.get(n)!.store.snapshot()));
  for (const s of snaps) expect(s, 'honest states equal').toBe(snaps[0]);
  for (const a of acked) expect(appliedCmd.get(a.index), `acknowledged write at ${a.index}`).toBe(a.command);
  const result = checkLinearizability(kvModel, history);
  if (!result.ok) throw new Error(`not linearizable: ${result.explanation.message}`);
  for (const m of members.values()) await m.group.stop().catch(() => undefined);
  if (process.env.PBFT_SIM_STATS) {
    const views = honest.map((n) => coreOf(n)?.view);
    console.log(
      `seed ${world.seed} byz ${[...byzantine].length} ${o.behaviour} acked ${acked.length} views ${views} corrupt ${JSON.stringify([...byzNets.values()].map((b) => Object.fromEntries(b.counts)))}`,
    );
  }
  return { acked: acked.length, ops: history.length };
}
