import { FileDurableLog } from '@novacron/core';
import { CrashConsistentFileIO, SimWorld, simRun } from '@novacron/testkit';
import { stateSyncCompliance } from '@novacron/testkit/compliance/state-sync';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { AssErrorCode } from '../../src/index.js';
import { hybridCluster } from './hybrid-harness.js';

const bytes = (t: string) => new TextEncoder().encode(t);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

stateSyncCompliance('HybridSync over RaftGroup + CrdtSync (simulated)', {
  async setup() {
    const world = new SimWorld({ seed: 'hybrid-compliance' });
    const c = hybridCluster(world);
    return {
      replicas: [...c.members.values()].map((m) => m.sync),
      strategy: 'hybrid',
      level: 'strong',
      run: <T>(p: Promise<T>) => simRun(world, p, 30_000),
      settle: () => simRun(world, world.clock.sleep(500), 1_000),
    };
  },
});

describe('HybridSync', () => {
  it('a write that falls back is acknowledged at the deadline: its journal append started ahead of it', async () => {
    // Journal and CRDT log on a disk whose fsync takes 20 ms (Raft on a fast one).
    const ackAfter = async (fallbackLeadMs: number | undefined) => {
      const world = new SimWorld({ seed: 'hybrid-lead' });
      const disks = new Map<string, CrashConsistentFileIO>();
      const disk = (id: string, syncMs: number) => {
        const name = `${id}/${syncMs}`;
        let d = disks.get(name);
        if (!d) {
          d = CrashConsistentFileIO.forNode(world.node(id), { latency: { writeMs: 0.05, syncMs } });
          disks.set(name, d);
        }
        return d;
      };
      const c = hybridCluster(world, {
        ...(fallbackLeadMs !== undefined ? { fallbackLeadMs } : {}),
        log: (id, purpose) => new FileDurableLog({ io: disk(id, purpose === 'raft' ? 1 : 20), dir: `/${purpose}` }),
      });
      const all = [...c.members.values()];
      await simRun(world, Promise.all(all.map((m) => m.sync.start())), 5_000);
      await simRun(world, world.clock.sleep(500), 1_000);
      const writer = all.find((m) => m !== c.leader())!;
      world.partitions.isolate(
        writer.id,
        c.ids.filter((i) => i !== writer.id),
      );
      const t0 = world.now();
      const r = await simRun(world, writer.sync.put('vms', 'vm-1', bytes('x')), 1_000);
      expect(r.level).toBe('eventual');
      const took = world.now() - t0;
      // Acknowledged means durable: a crash right now keeps the write.
      world.crash(writer.id);
      world.partitions.heal();
      world.restart(writer.id);
      const back = c.build(writer.id);
      await simRun(world, back.sync.start(), 5_000);
      await world.runUntil(() => back.sync.status().pendingWrites === 0, 5_000);
      await simRun(world, world.clock.sleep(300), 1_000);
      for (const m of c.members.values()) expect(text(m.sync.entries('vms').get('vm-1')?.value)).toBe('x');
      await simRun(world, Promise.all([...c.members.values()].map((m) => m.sync.stop())), 5_000);
      return { took, deadline: writer.sync.deadlineMs };
    };
    const ahead = await ackAfter(undefined); // default lead: a quarter of the deadline
    expect(ahead.took).toBeLessThan(ahead.deadline + 2);
    const late = await ackAfter(0);
    expect(late.took).toBeGreaterThanOrEqual(late.deadline + 20);
  });

  it('falls back to eventual when the leader is cut off, then replays into the log', async () => {
    const world = new SimWorld({ seed: 'hybrid-fallback' });
    const c = hybridCluster(world, { strongOnly: ['placements'] });
    const all = [...c.members.values()];
    await simRun(world, Promise.all(all.map((m) => m.sync.start())), 5_000);
    await simRun(world, world.clock.sleep(500), 1_000);
    const leader = c.leader()!;
    const minority = all.find((m) => m !== leader)!;
    const r1 = await simRun(world, minority.sync.put('vms', 'vm-1', bytes('a')), 1_000);
    expect(r1.level).toBe('strong');

    // Cut the writer off from everyone: it is a minority of one.
    world.partitions.isolate(
      minority.id,
      c.ids.filter((i) => i !== minority.id),
    );
    const t0 = world.now();
    const r2 = await simRun(world, minority.sync.put('vms', 'vm-1', bytes('b')), 1_000);
    expect(r2.level).toBe('eventual');
    expect(world.now() - t0).toBeLessThan(minority.sync.deadlineMs + 10);
    const r3 = await simRun(world, minority.sync.put('vms', 'vm-2', bytes('c')), 1_000);
    expect(r3.level).toBe('eventual');
    expect((await simRun(world, minority.sync.get('vms', 'vm-1'), 1_000))?.level).toBe('eventual');
    expect(minority.sync.status().pendingWrites).toBe(2);
    expect(minority.sync.status().writeLevel).toBe('eventual');
    // Strong-only namespaces fail instead of falling back.
    await expectNovacronRejection(
      simRun(world, minority.sync.put('placements', 'vm-1', bytes('h1')), 1_000),
      AssErrorCode.STRONG_UNAVAILABLE,
    );

    world.partitions.heal();
    await simRun(world, world.clock.sleep(1_000), 2_000);
    expect(minority.sync.status().pendingWrites).toBe(0);
    for (const m of all) {
      const e = m.sync.entries('vms');
      expect(text(e.get('vm-1')?.value)).toBe('b');
      expect(e.get('vm-1')?.level).toBe('strong');
      expect(text(e.get('vm-2')?.value)).toBe('c');
    }
    const r4 = await simRun(world, minority.sync.put('vms', 'vm-3', bytes('d')), 1_000);
    expect(r4.level).toBe('strong');
    await simRun(world, Promise.all(all.map((m) => m.sync.stop())), 2_000);
  });

  it('a strong write the eventual writer had not seen wins; concurrent eventual writes resolve by stamp', async () => {
    const world = new SimWorld({ seed: 'hybrid-conflict' });
    const c = hybridCluster(world, { ids: ['a', 'b', 'c', 'd', 'e'] });
    const all = [...c.members.values()];
    await simRun(world, Promise.all(all.map((m) => m.sync.start())), 5_000);
    await simRun(world, world.clock.sleep(800), 1_000);
    const leader = c.leader()!;
    const others = all.filter((m) => m !== leader);
    const [x, y] = others as [(typeof others)[0], (typeof others)[0]];
    // x and y are cut off from the leader's side: both write k eventually.
    const minority = [x.id, y.id];
    world.partitions.split([minority, c.ids.filter((i) => !minority.includes(i))]);
    const ex = await simRun(world, x.sync.put('ns', 'k', bytes('from-x')), 1_000);
    const ey = await simRun(world, y.sync.put('ns', 'k2', bytes('from-y')), 1_000);
    expect([ex.level, ey.level]).toEqual(['eventual', 'eventual']);
    // Meanwhile the majority commits k strongly.
    const s = await simRun(world, leader.sync.put('ns', 'k', bytes('strong')), 1_000);
    expect(s.level).toBe('strong');
    // Both sides of the minority see x's eventual write (CRDT within the partition).
    await simRun(world, world.clock.sleep(50), 200);
    expect(text(y.sync.entries('ns').get('k')?.value)).toBe('from-x');
    world.partitions.heal();
    await simRun(world, world.clock.sleep(1_500), 3_000);
    for (const m of all) {
      // x had not seen the strong write: it is superseded. k2 had no conflict: applied.
      expect(text(m.sync.entries('ns').get('k')?.value)).toBe('strong');
      expect(text(m.sync.entries('ns').get('k2')?.value)).toBe('from-y');
      expect(m.sync.status().pendingWrites).toBe(0);
    }
    await simRun(world, Promise.all(all.map((m) => m.sync.stop())), 2_000);
  });
});
