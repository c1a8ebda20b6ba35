import { FileDurableLog } from '@novacron/core';
import { CrashConsistentFileIO, SimNetwork, type SimWorld, simRun } from '@novacron/testkit';
import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';
import { CrdtSync } from '../../src/index.js';

const bytes = (t: string) => new TextEncoder().encode(t);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

simTest(
  'CrdtSync loses no acknowledged write across crashes that keep only what was fsynced (with compaction)',
  { seeds: Array.from({ length: 25 }, (_, i) => i + 1), timeout: 60_000 },
  async (world: SimWorld) => {
    const net = new SimNetwork(world);
    const node = world.addNode('a');
    const rng = world.rng.fork('scenario');
    const io = CrashConsistentFileIO.forNode(node, { tear: true, latency: { writeMs: 0.05, syncMs: rng.int(0, 3) } });
    const make = () =>
      new CrdtSync({
        network: net.endpoint('a'),
        peers: [],
        clock: node.clock,
        rng: node.rng.fork(`crdt-${node.incarnation}`),
        log: new FileDurableLog({ io, dir: '/crdt', segmentBytes: 4096 }),
        compactAfter: rng.int(5, 40),
        antiEntropyMs: 10,
      });
    // Per key: every write issued (in issue order, which is the document's order) and the latest acknowledged one.
    const issued = new Map<string, { n: number; value: string | null }[]>();
    const acked = new Map<string, number>();
    const check = (sync: CrdtSync) => {
      for (const [k, n] of acked) {
        const got = text(sync.entries('ns').get(k)?.value) ?? null;
        // The acknowledged write, or a later one that happened to become durable before the crash.
        const allowed = issued
          .get(k)!
          .filter((w) => w.n >= n)
          .map((w) => w.value);
        expect(allowed, `key ${k}`).toContain(got);
      }
    };
    let counter = 0;
    for (let round = 0; round < 4; round++) {
      const sync = make();
      await simRun(world, sync.start(), 10_000);
      // Everything acknowledged before earlier crashes is there.
      check(sync);
      // Writers racing each other; the crash lands at a random moment.
      const crashAt = world.now() + rng.int(1, 40);
      let crashed = false;
      world.schedule(crashAt - world.now(), () => {
        crashed = true;
        world.crash('a');
      });
      const writer = async (w: number) => {
        while (!crashed) {
          const key = `k${rng.int(0, 9)}`;
          const del = rng.chance(0.2);
          const n = ++counter;
          const value = `v${n}`;
          if (!issued.has(key)) issued.set(key, []);
          issued.get(key)!.push({ n, value: del ? null : value });
          try {
            if (del) await sync.delete('ns', key);
            else await sync.put('ns', key, bytes(value));
            if (!crashed && (acked.get(key) ?? 0) < n) acked.set(key, n);
          } catch {
            return;
          }
          await node.clock.sleep(rng.int(0, 2)).catch(() => undefined);
          void w;
        }
      };
      void writer(1);
      void writer(2);
      await world.runFor(60);
      expect(crashed).toBe(true);
      world.restart('a');
    }
    const sync = make();
    await simRun(world, sync.start(), 10_000);
    check(sync);
    expect(acked.size).toBeGreaterThan(0);
    await simRun(world, sync.stop(), 10_000);
  },
);
