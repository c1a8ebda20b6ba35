import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDurableLog, ManualClock, nodeFileIO, seededRng } from '@novacron/core';
import { SimNetwork, SimWorld } from '@novacron/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSnapshotStore, KvStateMachine, RaftGroup, ReplicatedKv } from '../../src/index.js';

// A single-member group on real files (fsync through node:fs): what it
// acknowledged is there after a restart, from the log and the snapshot.
describe('RaftGroup on real files', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('recovers acknowledged writes after a restart, through snapshot and log', async () => {
    dir = await mkdtemp(join(tmpdir(), 'novacron-raft-'));
    const world = new SimWorld({ seed: 'file' }); // only for its PeerNetwork; time is a manual clock
    world.addNode('solo');
    const network = new SimNetwork(world).endpoint('solo');
    const make = (store: KvStateMachine, clock: ManualClock) =>
      new RaftGroup({
        id: 'solo',
        voters: ['solo'],
        network,
        log: new FileDurableLog({ io: nodeFileIO(), dir: join(dir, 'wal'), segmentBytes: 2048 }),
        snapshots: new FileSnapshotStore({ io: nodeFileIO(), path: join(dir, 'snapshot') }),
        snapshotEvery: 30,
        clock,
        rng: seededRng(1),
        stateMachine: store,
        tickMs: 10,
        // Real fsyncs take real time while this test's clock is manual.
        proposeTimeoutMs: 1e12,
      });
    const until = async (clock: ManualClock, cond: () => boolean) => {
      for (let i = 0; i < 100_000 && !cond(); i++) {
        await clock.advanceAsync(1);
        await new Promise((r) => setTimeout(r, 0));
      }
    };
    const drive = async <T>(clock: ManualClock, p: Promise<T>): Promise<T> => {
      let done = false;
      const q = p.finally(() => {
        done = true;
      });
      await until(clock, () => done);
      return q;
    };

    const clock1 = new ManualClock();
    const store1 = new KvStateMachine();
    const g1 = make(store1, clock1);
    await g1.start();
    await until(clock1, () => g1.status().role === 'leader');
    const kv1 = new ReplicatedKv({ group: g1, store: store1, client: 'c' });
    for (let i = 0; i < 75; i++) await drive(clock1, kv1.put(`k${i % 20}`, new TextEncoder().encode(String(i))));
    const before = store1.snapshot();
    await g1.stop();

    const clock2 = new ManualClock();
    const store2 = new KvStateMachine();
    const g2 = make(store2, clock2);
    await g2.start();
    await until(clock2, () => g2.status().role === 'leader' && g2.status().appliedIndex >= 76);
    expect(store2.snapshot()).toEqual(before);
    expect(g2.core.snapshot?.index).toBeGreaterThanOrEqual(30);
    await g2.stop();
  });
});
