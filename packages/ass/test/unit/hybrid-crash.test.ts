import { FileDurableLog } from '@novacron/core';
import { CrashConsistentFileIO, type SimWorld, simRun } from '@novacron/testkit';
import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import type { HybridWriteResult, OutcomeEvent } from '../../src/index.js';
import { hybridCluster } from './hybrid-harness.js';

const bytes = (t: string) => new TextEncoder().encode(t);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

simTest(
  'eventual writes acknowledged by a cut-off node survive its crash (only fsynced data kept) and reach the log',
  { seeds: Array.from({ length: 10 }, (_, i) => i + 1), timeout: 60_000 },
  async (world: SimWorld) => {
    const disks = new Map<string, CrashConsistentFileIO>();
    // Sometimes slower than the deadline: acknowledgements must still wait for the fsync.
    const syncMs = world.rng.fork('disk-speed').pick([1, 5, 150]);
    // Raft keeps a fast disk (its timeouts assume one); the journal and the CRDT log get the drawn speed.
    const disk = (id: string, fast: boolean) => {
      const name = `${id}/${fast ? 'fast' : 'slow'}`;
      let d = disks.get(name);
      if (!d) {
        d = CrashConsistentFileIO.forNode(world.node(id), {
          tear: true,
          latency: { writeMs: 0.05, syncMs: fast ? 1 : syncMs },
        });
        disks.set(name, d);
      }
      return d;
    };
    const c = hybridCluster(world, {
      log: (id, purpose) =>
        new FileDurableLog({ io: disk(id, purpose === 'raft'), dir: `/${purpose}`, segmentBytes: 4096 }),
    });
    const outcomes = new Map<string, OutcomeEvent>();
    const watchOutcomes = () => {
      for (const m of c.members.values())
        m.machine.onOutcome((e) => {
          if (!outcomes.has(`${e.origin}/${e.seq}`)) outcomes.set(`${e.origin}/${e.seq}`, e);
        });
    };
    watchOutcomes();
    await simRun(world, Promise.all([...c.members.values()].map((m) => m.sync.start())), 5_000);
    await simRun(world, world.clock.sleep(500), 1_000);
    const leader = c.leader()!;
    const victim = [...c.members.values()].find((m) => m !== leader)!;
    world.partitions.isolate(
      victim.id,
      c.ids.filter((i) => i !== victim.id),
    );
    const acked: { key: string; value: string; r: HybridWriteResult }[] = [];
    const rng = world.rng.fork('writes');
    const n = rng.int(3, 12);
    for (let i = 0; i < n; i++) {
      const key = `k${rng.int(0, 3)}`;
      const value = `v${i}`;
      const r = await simRun(world, victim.sync.put('ns', key, bytes(value)), 2_000);
      expect(r.level).toBe('eventual');
      acked.push({ key, value, r });
    }
    // One more write in flight when the node dies: unacknowledged, may or may not survive.
    void victim.sync.put('ns', 'k0', bytes('in-flight')).catch(() => undefined);
    await world.runFor(rng.pick([0, 0, 1, 50]));
    world.crash(victim.id);
    world.partitions.heal();
    world.restart(victim.id);
    const back = c.build(victim.id);
    back.machine.onOutcome((e) => {
      if (!outcomes.has(`${e.origin}/${e.seq}`)) outcomes.set(`${e.origin}/${e.seq}`, e);
    });
    await simRun(world, back.sync.start(), 5_000);
    await world.runUntil(() => back.sync.status().pendingWrites === 0, 5_000);
    await simRun(world, world.clock.sleep(500), 1_000);
    expect(back.sync.status().pendingWrites).toBe(0);
    // Every acknowledged write was decided; the last one per key holds (nothing else wrote those keys).
    const last = new Map<string, string>();
    for (const a of acked) {
      const o = outcomes.get(`${a.r.origin}/${a.r.seq}`);
      expect(o?.outcome, `write ${a.r.seq}`).toBe('applied');
      last.set(a.key, a.value);
    }
    for (const m of c.members.values()) {
      for (const [key, value] of last) {
        const got = text(m.sync.entries('ns').get(key)?.value);
        if (key === 'k0') expect([value, 'in-flight']).toContain(got);
        else expect(got, `${m.id} ${key}`).toBe(value);
      }
    }
    await simRun(world, Promise.all([...c.members.values()].map((m) => m.sync.stop())), 5_000);
  },
);
