import { KvStateMachine, RaftGroup } from '@novacron/acp';
import { MemoryDurableLog } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';
import {
  ClusterController,
  EventHub,
  GroupStrongStore,
  PlacementPlanner,
  StaticMembership,
  StoreCapacityLedger,
} from '../../src/index.js';

const GiB = 2 ** 30;
const IDS = ['a', 'b', 'c'];

async function simCluster(seed: string) {
  const world = new SimWorld({ seed });
  const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 1 } });
  const members = IDS.map((id) => {
    const node = world.addNode(id);
    const network = net.endpoint(id);
    const kv = new KvStateMachine();
    const group = new RaftGroup({
      id,
      voters: IDS,
      network,
      log: new MemoryDurableLog(),
      clock: node.clock,
      rng: node.rng.fork('raft'),
      stateMachine: kv,
      tickMs: 20,
    });
    const store = new GroupStrongStore({ group, store: kv, client: id, timeoutMs: 2000 });
    const membership = new StaticMembership({
      network,
      localAddress: `${id}:1`,
      seeds: new Map(IDS.map((x) => [x, `${x}:1`])),
      clock: node.clock,
      probeIntervalMs: 100,
      failAfterMs: 1000,
    });
    const capacity = { cpuMillis: 4000, memoryBytes: 8 * GiB };
    const provider = new MemoryProvider({ clock: node.clock, rng: node.rng.fork('vms'), hosts: [{ id, capacity }] });
    const controller = new ClusterController({
      nodeId: id,
      host: { id, capacity, labels: {} },
      store,
      ledger: new StoreCapacityLedger({ store, now: () => world.now(), idPrefix: id }),
      group,
      membership,
      provider,
      planner: new PlacementPlanner(),
      policy: () => 'most-allocated',
      events: new EventHub({ now: () => world.now() }),
      clock: node.clock,
      reservationTtlMs: 5000,
      loopIntervalMs: 100,
    });
    return { id, group, membership, provider, controller };
  });
  await simRun(world, Promise.all(members.map((m) => m.group.start())), 1000);
  for (const m of members) {
    m.membership.start();
    m.controller.start();
  }
  const leader = () => members.find((m) => m.controller.isLeader());
  await world.runUntil(() => leader() !== undefined, 5000);
  const l = leader()!;
  await world.runUntil(() => false, 1000); // hosts register on the leader's loop
  expect((await simRun(world, l.controller.hosts(), 2000)).length).toBe(3);
  return { world, members, leader };
}

describe('ClusterController in simulation (Raft over a simulated network, virtual time)', () => {
  for (const seed of ['s1', 's2', 's3']) {
    it(`re-places a crashed member's VMs with a new epoch, never overcommitting (seed ${seed})`, async () => {
      const { world, members, leader } = await simCluster(seed);
      const l = leader()!;
      for (let i = 0; i < 6; i++) {
        const group = `g${i % 3}`;
        await simRun(
          world,
          l.controller.createVm({
            id: `vm-${i}`,
            resources: { cpuMillis: 1000, memoryBytes: GiB },
            group,
            antiAffinity: { required: [{ scope: 'host', group }] },
          }),
          3000,
        );
      }
      await world.runUntil(() => false, 500);
      // Owners run what the log gives them.
      for (const m of members) {
        const owned = (await simRun(world, l.controller.vms(), 2000)).filter((v) => v.hostId === m.id).length;
        expect((await simRun(world, m.provider.listVms(), 1000)).length).toBe(owned);
      }
      const vms = await simRun(world, l.controller.vms(), 2000);
      const victim = members
        .filter((m) => m !== l)
        .sort((x, y) => vms.filter((v) => v.hostId === y.id).length - vms.filter((v) => v.hostId === x.id).length)[0]!;
      const moved = vms.filter((v) => v.hostId === victim.id).map((v) => v.request.id);
      world.crash(victim.id);
      const ok = await world
        .runUntil(() => false, 4000)
        .then(async () => {
          const now = await simRun(world, leader()!.controller.vms(), 3000);
          return now.every((v) => v.hostId !== victim.id && v.hostId !== null) ? now : undefined;
        });
      expect(ok).toBeDefined();
      for (const id of moved) expect(ok!.find((v) => v.request.id === id)!.epoch).toBe(2);
      for (let g = 0; g < 3; g++) {
        const hosts = ok!.filter((v) => v.request.group === `g${g}`).map((v) => v.hostId);
        expect(new Set(hosts).size).toBe(2);
      }
      const ledger = await simRun(world, leader()!.controller.ledgerSnapshot(), 3000);
      for (const row of ledger.hosts) {
        expect(row.committed.cpuMillis).toBeLessThanOrEqual(row.capacity.cpuMillis);
        const sum = ok!.filter((v) => v.hostId === row.hostId).reduce((s, v) => s + v.request.resources.cpuMillis, 0);
        expect(row.committed.cpuMillis).toBe(sum);
      }
      // Stopping the groups fails whatever proposal a controller still waits on, so its stop returns.
      await simRun(world, Promise.all(members.flatMap((m) => [m.group.stop(), m.controller.stop()])), 5000);
    });
  }
});
