import { MemoryDurableLog } from '@novacron/core';
import { RaftGroup } from '@novacron/acp';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import { stateSyncCompliance } from '@novacron/testkit/compliance/state-sync';
import { describe, expect, it } from 'vitest';
import { StrongSync, SyncStateMachine } from '../../src/index.js';

/** A 3-member Raft cluster on a lossy simulated network, one StrongSync per member. */
export function strongCluster(seed: string, o: { heartbeatTicks?: number; announce?: boolean; loss?: number } = {}) {
  const world = new SimWorld({ seed });
  const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 2, loss: o.loss ?? 0.01 } });
  const ids = ['a', 'b', 'c'];
  const groups: RaftGroup[] = [];
  const replicas = ids.map((id) => {
    const node = world.addNode(id);
    const machine = new SyncStateMachine();
    const group = new RaftGroup({
      id,
      voters: ids,
      network: net.endpoint(id),
      log: new MemoryDurableLog(),
      clock: node.clock,
      rng: node.rng.fork('raft'),
      stateMachine: machine,
      tickMs: 10,
      ...(o.heartbeatTicks !== undefined
        ? { heartbeatTicks: o.heartbeatTicks, electionTicks: 10 * o.heartbeatTicks }
        : {}),
    });
    groups.push(group);
    return new StrongSync({
      group,
      stateMachine: machine,
      network: net.endpoint(id),
      clock: node.clock,
      rng: node.rng.fork('sync'),
      ...(o.announce !== undefined ? { announceForwardedCommits: o.announce } : {}),
    });
  });
  return { world, replicas, groups };
}

stateSyncCompliance('StrongSync over RaftGroup (simulated)', {
  setup() {
    const { world, replicas } = strongCluster('strong-compliance');
    return {
      replicas,
      strategy: 'strong',
      level: 'strong',
      run: <T>(p: Promise<T>) => simRun(world, p, 30_000),
      settle: () => simRun(world, world.clock.sleep(500), 1_000),
    };
  },
});

describe('StrongSync forwarding', () => {
  // Heartbeats every 300 ms: without the announcement a follower's forwarded
  // write waits for the next one to apply locally before it returns.
  const forwardedLatency = async (announce: boolean | undefined) => {
    const { world, replicas, groups } = strongCluster('strong-announce', { heartbeatTicks: 30, announce, loss: 0 });
    await simRun(world, Promise.all(replicas.map((r) => r.start())), 30_000);
    await world.runUntil(() => groups.some((g) => g.status().role === 'leader'), 20_000);
    await simRun(world, world.clock.sleep(1_000), 5_000);
    const follower = replicas[groups.findIndex((g) => g.status().role === 'follower')]!;
    const lat: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = world.now();
      await simRun(world, follower.put('ns', `k${i}`, new Uint8Array([i])), 5_000);
      lat.push(world.now() - t0);
      expect((await simRun(world, follower.get('ns', `k${i}`, { consistency: 'local' }), 100))?.value).toEqual(
        new Uint8Array([i]),
      );
    }
    await simRun(world, Promise.all(replicas.map((r) => r.stop())), 5_000);
    return lat;
  };

  it('a forwarded write returns within a few round trips, not at the next heartbeat', async () => {
    // Round trips here are 4-8 ms (2 ms latency + up to 2 ms jitter each way).
    const announced = await forwardedLatency(undefined);
    const silent = await forwardedLatency(false);
    // The follower's own read barrier bounds both; the leader's announcement
    // saves a round trip when the follower was part of the commit quorum.
    expect(Math.max(...announced)).toBeLessThan(40);
    expect(Math.max(...silent)).toBeLessThan(40);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(announced)).toBeLessThan(sum(silent));
  });
});
