import { stopAll } from '@novacron/core';
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
