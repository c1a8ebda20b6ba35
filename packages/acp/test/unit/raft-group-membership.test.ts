import { CoreErrorCode, FileDurableLog, isNovacronError, MemoryDurableLog, stopAll } from '@novacron/core';
import { MemoryFileIO, SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import { ListStateMachine } from '@novacron/testkit/compliance/consensus-group';
import { describe, expect, it } from 'vitest';
import { AcpErrorCode, FileSnapshotStore, RaftGroup } from '../../src/index.js';

describe('RaftGroup membership', () => {
  it('a joining member is added as a learner, promoted, then the leader removes itself', async () => {
    const world = new SimWorld({ seed: 'raft-membership' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 2 } });
    const initial = ['a', 'b', 'c'];
    const machines = new Map<string, ListStateMachine>();
    const groups = new Map<string, RaftGroup>();
    for (const id of [...initial, 'd']) {
      const node = world.addNode(id);
      const sm = new ListStateMachine();
      machines.set(id, sm);
      groups.set(
        id,
        new RaftGroup({
          id,
          voters: initial,
          join: id === 'd',
          network: net.endpoint(id),
          log: new MemoryDurableLog(),
          clock: node.clock,
          rng: node.rng.fork('raft'),
          stateMachine: sm,
          tickMs: 10,
          snapshotEvery: 5,
        }),
      );
    }
    const all = [...groups.values()];
    await simRun(world, Promise.all(all.map((g) => g.start())), 1_000);
    await simRun(world, world.clock.sleep(1_000), 2_000);
    const leaderOf = () => all.find((g) => g.status().role === 'leader')!;
    const leader = leaderOf();
    expect(leader.status().id).not.toBe('d');
    for (let i = 0; i < 12; i++) await simRun(world, leader.propose(new Uint8Array([i])), 5_000);

    await simRun(world, leader.changeMembership({ type: 'add-learner', id: 'd' }), 5_000);
    expect(leader.status().learners).toEqual(['d']);
    // d caught up (through a snapshot: the log was compacted) without voting.
    await simRun(world, world.clock.sleep(500), 1_000);
    expect(machines.get('d')!.snapshot()).toEqual(machines.get(leader.status().id)!.snapshot());
    expect(groups.get('d')!.status().voters).toEqual(initial);

    await simRun(world, leader.changeMembership({ type: 'promote', id: 'd' }), 5_000);
    expect(leader.status().voters).toEqual([...initial, 'd']);

    // A second change on a follower is refused with NOT_LEADER; an invalid one with its code.
    const follower = all.find((g) => g !== leader)!;
    await expect(follower.changeMembership({ type: 'remove', id: 'd' })).rejects.toSatisfy((e) =>
      isNovacronError(e, CoreErrorCode.NOT_LEADER),
    );
    await expect(leader.changeMembership({ type: 'promote', id: 'd' })).rejects.toSatisfy((e) =>
      isNovacronError(e, AcpErrorCode.RAFT_MEMBERSHIP_INVALID),
    );

    const old = leader.status().id;
    await simRun(world, leader.changeMembership({ type: 'remove', id: old }), 5_000);
    await simRun(world, world.clock.sleep(1_000), 2_000);
    const next = leaderOf();
    expect(next.status().id).not.toBe(old);
    expect(leader.status().role).toBe('follower');
    expect(next.status().voters).not.toContain(old);
    const r = await simRun(world, next.propose(new Uint8Array([99])), 5_000);
    expect(r.index).toBeGreaterThan(0);
    await stopAll(all);
  });

  it('FileSnapshotStore keeps the configuration', async () => {
    const io = new MemoryFileIO();
    const store = new FileSnapshotStore({ io, path: '/snap' });
    const config = { voters: ['a', 'b'], learners: ['c'] };
    await store.save({ index: 7, term: 2, data: new Uint8Array([1, 2]), config });
    expect(await store.load()).toEqual({ index: 7, term: 2, data: new Uint8Array([1, 2]), config });
    await store.save({ index: 8, term: 2, data: new Uint8Array([3]) });
    expect(await store.load()).toEqual({ index: 8, term: 2, data: new Uint8Array([3]) });
  });

  it('a restarted member recovers the configuration from its snapshot and log', async () => {
    const world = new SimWorld({ seed: 'raft-membership-restart' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 1 } });
    const ids = ['a', 'b', 'c'];
    const disks = new Map(ids.map((id) => [id, new MemoryFileIO()]));
    const make = (id: string) => {
      const node = world.node(id);
      const io = disks.get(id)!;
      return new RaftGroup({
        id,
        voters: ids,
        network: net.endpoint(id),
        log: new FileDurableLog({ io, dir: '/wal' }),
        snapshots: new FileSnapshotStore({ io, path: '/snapshot' }),
        clock: node.clock,
        rng: node.rng.fork('raft'),
        stateMachine: new ListStateMachine(),
        tickMs: 10,
        snapshotEvery: 4,
      });
    };
    for (const id of ids) world.addNode(id);
    const groups = new Map(ids.map((id) => [id, make(id)]));
    await simRun(world, Promise.all([...groups.values()].map((g) => g.start())), 1_000);
    await simRun(world, world.clock.sleep(1_000), 2_000);
    const leader = [...groups.values()].find((g) => g.status().role === 'leader')!;
    const victim = ids.find((id) => id !== leader.status().id)!;
    const removed = await simRun(world, leader.changeMembership({ type: 'remove', id: victim }), 5_000);
    for (let i = 0; i < 6; i++) await simRun(world, leader.propose(new Uint8Array([i])), 5_000);
    // The removal is now below the snapshot; add a learner so the log holds a configuration entry too.
    await simRun(world, leader.changeMembership({ type: 'add-learner', id: victim }), 5_000);
    const survivor = [...groups.values()].find((g) => g !== leader && g.status().id !== victim)!;
    await simRun(world, world.clock.sleep(200), 1_000);
    const id = survivor.status().id;
    expect(survivor.core.snapshot!.index).toBeGreaterThan(removed.index);
    expect(survivor.core.snapshot!.config!.voters).not.toContain(victim);
    await simRun(world, survivor.stop(), 1_000);
    const again = make(id);
    await simRun(world, again.start(), 1_000);
    expect(again.status().voters).toEqual(ids.filter((x) => x !== victim));
    expect(again.status().learners).toEqual([victim]);
    await stopAll([...groups.values(), again]);
  });
});
