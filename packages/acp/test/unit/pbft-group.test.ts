import { MemoryDurableLog, stopAll } from '@novacron/core';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import { consensusGroupCompliance, ListStateMachine } from '@novacron/testkit/compliance/consensus-group';
import { describe, expect, it } from 'vitest';
import { PbftClient } from '../../src/index.js';
import { identities, pbftMembers, roster } from './pbft-fixtures.js';

consensusGroupCompliance('PbftGroup (simulated, lossy network)', {
  setup() {
    const world = new SimWorld({ seed: 'pbft-compliance' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 3, loss: 0.02, duplicate: 0.02 } });
    const ids = identities(world.rng.fork('ids'), 4);
    for (const i of ids) world.addNode(i.nodeId);
    const machines = ids.map(() => new ListStateMachine());
    const members = pbftMembers(world, net, ids, machines);
    return {
      members,
      machines,
      anyMemberProposes: true,
      run: <T>(p: Promise<T>, limitMs = 30_000) => simRun(world, p, limitMs),
      wait: (ms: number) => world.clock.sleep(ms),
    };
  },
  teardown: (f) => stopAll(f.members),
});

describe('PbftClient', () => {
  it('accepts a result once f+1 replicas reply the same', async () => {
    const world = new SimWorld({ seed: 'pbft-client' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 1 } });
    const ids = identities(world.rng.fork('ids'), 4);
    for (const i of ids) world.addNode(i.nodeId);
    const [clientId] = identities(world.rng.fork('client'), 1);
    world.addNode(clientId!.nodeId);
    const machines = ids.map(() => new ListStateMachine());
    const members = pbftMembers(world, net, ids, machines);
    await simRun(world, Promise.all(members.map((m) => m.start())), 1_000);
    const client = new PbftClient({
      identity: clientId!,
      replicas: roster(ids),
      network: net.endpoint(clientId!.nodeId),
      clock: world.node(clientId!.nodeId).clock,
    });
    await client.start();
    const a = await simRun(world, client.propose(new TextEncoder().encode('a')), 10_000);
    const b = await simRun(
      world,
      client.propose(new TextEncoder().encode('b'), { session: { client: 'x', seq: 1 } }),
      10_000,
    );
    const again = await simRun(
      world,
      client.propose(new TextEncoder().encode('b'), { session: { client: 'x', seq: 1 } }),
      10_000,
    );
    expect(a.index).toBe(1);
    expect(b.index).toBe(2);
    expect(again.result).toEqual(b.result);
    await simRun(world, world.clock.sleep(200), 1_000);
    for (const m of machines) expect(m.items.map((x) => new TextDecoder().decode(x))).toEqual(['a', 'b']);
    await client.stop();
    await stopAll(members);
  });
});

describe('PbftGroup recovery', () => {
  const setup = (seed: string, logs?: MemoryDurableLog[]) => {
    const world = new SimWorld({ seed });
    const net = new SimNetwork(world, { defaults: { latencyMs: 1, jitterMs: 1 } });
    const ids = identities(world.rng.fork('ids'), 4);
    for (const i of ids) world.addNode(i.nodeId);
    const machines = ids.map(() => new ListStateMachine());
    const durable = logs ?? ids.map(() => new MemoryDurableLog());
    const members = pbftMembers(world, net, ids, machines, { logs: durable, checkpointInterval: 4 });
    return { world, ids, machines, members, logs: durable };
  };
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const cmd = (s: string) => new TextEncoder().encode(s);

  it('a silent primary is replaced by a view change and proposals commit in the new view', async () => {
    const { world, ids, machines, members } = setup('pbft-silent-primary');
    await simRun(world, Promise.all(members.map((m) => m.start())), 1_000);
    await simRun(world, members[1]!.propose(cmd('before')), 5_000);
    world.crash(ids[0]!.nodeId); // the primary of view 0
    const r = await simRun(world, members[2]!.propose(cmd('after'), { timeoutMs: 20_000 }), 25_000);
    expect(r.index).toBe(2);
    for (const k of [1, 2, 3]) {
      expect(members[k]!.status().term).toBeGreaterThanOrEqual(1);
      expect(members[k]!.status().leader).not.toBe(ids[0]!.nodeId);
    }
    await simRun(world, world.clock.sleep(200), 1_000);
    for (const k of [1, 2, 3]) expect(machines[k]!.items.map(text)).toEqual(['before', 'after']);
    await stopAll(members);
  });

  it('restarts from its durable log: view, checkpoints and committed requests survive', async () => {
    const first = setup('pbft-restart');
    await simRun(first.world, Promise.all(first.members.map((m) => m.start())), 1_000);
    for (let i = 0; i < 10; i++) await simRun(first.world, first.members[i % 4]!.propose(cmd(`c${i}`)), 5_000);
    await simRun(first.world, first.world.clock.sleep(300), 1_000);
    const before = first.members.map((m) => m.status().appliedIndex);
    expect(before).toEqual([10, 10, 10, 10]);
    expect(first.members[0]!.core.stableCheckpoint).toBeGreaterThanOrEqual(8);
    // A crash: the processes vanish without stopping; only the logs remain.
    const again = setup(
      'pbft-restart',
      first.logs.map((l) => l),
    );
    await simRun(again.world, Promise.all(again.members.map((m) => m.start())), 1_000);
    expect(again.members.map((m) => m.status().appliedIndex)).toEqual(before);
    for (const mc of again.machines) expect(mc.items.map(text)).toEqual(first.machines[0]!.items.map(text));
    const r = await simRun(again.world, again.members[3]!.propose(cmd('after-restart')), 5_000);
    expect(r.index).toBe(11);
    await stopAll(again.members);
  });

  it('a replica cut off past the watermark window catches up by state transfer', async () => {
    const { world, ids, machines, members } = setup('pbft-transfer');
    await simRun(world, Promise.all(members.map((m) => m.start())), 1_000);
    const lagging = ids[3]!.nodeId;
    world.partitions.isolate(
      lagging,
      ids.map((i) => i.nodeId).filter((i) => i !== lagging),
    );
    for (let i = 0; i < 30; i++) await simRun(world, members[i % 3]!.propose(cmd(`x${i}`)), 10_000);
    expect(members[3]!.status().appliedIndex).toBe(0);
    world.partitions.heal();
    await simRun(
      world,
      (async () => {
        while (members[3]!.status().appliedIndex < 30) await world.clock.sleep(20);
      })(),
      10_000,
    );
    expect(members[3]!.core.stableCheckpoint).toBeGreaterThanOrEqual(24);
    expect(machines[3]!.items.map(text)).toEqual(machines[0]!.items.map(text));
    await stopAll(members);
  });
});
