import { encodeMsgpack, MemoryDurableLog, stopAll } from '@novacron/core';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import { consensusGroupCompliance, ListStateMachine } from '@novacron/testkit/compliance/consensus-group';
import { describe, expect, it } from 'vitest';
import { KvStateMachine, MemorySnapshotStore, RaftGroup, ReplicatedKv, SessionTable } from '../../src/index.js';

consensusGroupCompliance('RaftGroup (simulated, lossy network)', {
  setup() {
    const world = new SimWorld({ seed: 'raft-compliance' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 3, loss: 0.02, duplicate: 0.02 } });
    const ids = ['a', 'b', 'c'];
    const machines = ids.map(() => new ListStateMachine());
    const members = ids.map((id, i) => {
      const node = world.addNode(id);
      return new RaftGroup({
        id,
        voters: ids,
        network: net.endpoint(id),
        log: new MemoryDurableLog(),
        clock: node.clock,
        rng: node.rng.fork('raft'),
        stateMachine: machines[i]!,
        tickMs: 10,
      });
    });
    return {
      members,
      machines,
      run: <T>(p: Promise<T>, limitMs = 30_000) => simRun(world, p, limitMs),
      wait: (ms: number) => world.clock.sleep(ms),
    };
  },
  teardown: (f) => stopAll(f.members),
});

describe('ReplicatedKv over RaftGroup', () => {
  it('put, get, cas, delete and range through the log', async () => {
    const world = new SimWorld({ seed: 'kv' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 1 } });
    const ids = ['a', 'b', 'c'];
    const nodes = ids.map((id) => {
      const node = world.addNode(id);
      const store = new KvStateMachine();
      const group = new RaftGroup({
        id,
        voters: ids,
        network: net.endpoint(id),
        log: new MemoryDurableLog(),
        clock: node.clock,
        rng: node.rng.fork('raft'),
        stateMachine: store,
        tickMs: 10,
      });
      return { group, store };
    });
    await simRun(world, Promise.all(nodes.map((n) => n.group.start())), 1_000);
    await simRun(world, world.clock.sleep(1_000), 2_000);
    const leader = nodes.find((n) => n.group.status().role === 'leader')!;
    const follower = nodes.find((n) => n !== leader)!;
    const kv = new ReplicatedKv({ group: leader.group, store: leader.store, client: 'c1' });
    const v = (s: string) => new TextEncoder().encode(s);
    await simRun(world, kv.put('a', v('1')), 5_000);
    await simRun(world, kv.put('b', v('2')), 5_000);
    expect(await simRun(world, kv.cas('a', v('1'), v('3')), 5_000)).toBe(true);
    expect(await simRun(world, kv.cas('a', v('1'), v('4')), 5_000)).toBe(false);
    expect(await simRun(world, kv.cas('c', null, v('5')), 5_000)).toBe(true);
    expect(await simRun(world, kv.delete('b'), 5_000)).toBe(true);
    expect(await simRun(world, kv.delete('b'), 5_000)).toBe(false);
    const fkv = new ReplicatedKv({ group: follower.group, store: follower.store, client: 'c2' });
    expect(new TextDecoder().decode((await simRun(world, fkv.get('a'), 5_000))!)).toBe('3');
    const range = await simRun(world, fkv.range('a', ''), 5_000);
    expect(range.map(([k]) => k)).toEqual(['a', 'c']);
    expect(leader.store.snapshot()).toEqual(follower.store.snapshot());
    const copy = new KvStateMachine();
    copy.restore(leader.store.snapshot());
    expect(copy.size).toBe(2);
    await stopAll(nodes.map((n) => n.group));
  });
});

describe('RaftGroup with a single voter', () => {
  it('answers reads and proposals (the loop confirms them before returning)', async () => {
    const world = new SimWorld({ seed: 'one-voter' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 1 } });
    const node = world.addNode('solo');
    const store = new KvStateMachine();
    const group = new RaftGroup({
      id: 'solo',
      voters: ['solo'],
      network: net.endpoint('solo'),
      log: new MemoryDurableLog(),
      clock: node.clock,
      rng: node.rng.fork('raft'),
      stateMachine: store,
      tickMs: 10,
      proposeTimeoutMs: 1_000,
    });
    await simRun(world, group.start(), 1_000);
    await simRun(world, world.clock.sleep(500), 1_000);
    expect(group.status().role).toBe('leader');
    // A read with nothing proposed yet, then reads around writes.
    await simRun(world, group.read(), 1_000);
    const kv = new ReplicatedKv({ group, store, client: 'c1' });
    await simRun(world, kv.put('k', new TextEncoder().encode('v1')), 1_000);
    expect(new TextDecoder().decode((await simRun(world, kv.get('k'), 1_000))!)).toBe('v1');
    await simRun(world, Promise.all([group.read(), group.read(), kv.get('k')]), 1_000);
    await group.stop();
  });
});

describe('RaftGroup restart after an interrupted snapshot install', () => {
  it('finishes the install: a log suffix that conflicts with the saved snapshot is dropped, a matching one kept', async () => {
    const entries = (from: number, to: number, term: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, data: new Uint8Array([0]) }));
    for (const [logTerm, kept] of [
      [1, [] as number[]],
      [2, [6]],
    ] as const) {
      // The snapshot (index 5, term 2) was saved, then the member crashed
      // before truncating and compacting its log (entries 1..6).
      const log = new MemoryDurableLog();
      await log.open();
      await log.append(entries(1, 6, logTerm));
      await log.setHardState({ term: 2, vote: null, commit: 0 });
      const store = new KvStateMachine();
      const snapshots = new MemorySnapshotStore();
      await snapshots.save({
        index: 5,
        term: 2,
        data: encodeMsgpack([new SessionTable().snapshot(), store.snapshot()]),
        config: { voters: ['a', 'b', 'c'], learners: [] },
      });
      const world = new SimWorld({ seed: 'interrupted-install' });
      const net = new SimNetwork(world, { defaults: { latencyMs: 1 } });
      const node = world.addNode('a');
      const group = new RaftGroup({
        id: 'a',
        voters: ['a', 'b', 'c'],
        network: net.endpoint('a'),
        log,
        clock: node.clock,
        rng: node.rng.fork('raft'),
        stateMachine: store,
        snapshots,
        tickMs: 10,
      });
      await simRun(world, group.start(), 1_000);
      expect(log.snapshot()).toEqual({ index: 5, term: 2 });
      expect(log.entries(log.firstIndex(), log.lastIndex() + 1).map((e) => e.index)).toEqual(kept);
      expect(group.core.log.snapshot()).toEqual({ index: 5, term: 2 });
      expect(group.core.log.lastIndex()).toBe(5 + kept.length);
      await group.stop();
    }
  });
});
