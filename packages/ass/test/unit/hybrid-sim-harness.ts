import { FileDurableLog } from '@novacron/core';
import {
  CrashConsistentFileIO,
  checkLinearizability,
  History,
  type KvInput,
  type KvOutput,
  kvModel,
  type SimWorld,
} from '@novacron/testkit';
import { expect } from 'vitest';
import type { HybridWriteResult, OutcomeEvent } from '../../src/index.js';
import { hybridCluster } from './hybrid-harness.js';

const enc = (n: number) => new TextEncoder().encode(String(n));
const dec = (b: Uint8Array | null | undefined): number | null =>
  b === null || b === undefined ? null : Number(new TextDecoder().decode(b));

/** Knobs of one simulated hybrid run. */
export interface HybridSimOptions {
  /** Virtual ms of writes under leader partitions before healing. */
  readonly durationMs: number;
  readonly keys: number;
  /** Cluster sizes to draw from (default 3 or 5). */
  readonly sizes?: readonly number[];
  /**
   * Also crash and restart nodes (the leader included) on crash-consistent
   * disks that keep only what was fsynced (torn writes on crash).
   */
  readonly crashes?: boolean;
}

type HybridMemberView = {
  readonly id: string;
  readonly sync: { entries(ns: string): ReadonlyMap<string, { value: Uint8Array; level: string }> };
};

interface AckedWrite {
  readonly key: string;
  readonly value: number;
  readonly result: HybridWriteResult;
}

/**
 * A 3- or 5-node hybrid cluster (Raft + StrongSync + CrdtSync +
 * HybridSync per node) on a lossy simulated network; one client per node
 * writes and reads while a nemesis keeps cutting the current leader off
 * (alone, or in a minority) and healing. After the last heal it checks:
 * every node replayed its eventual writes; every acknowledged write was
 * decided by the log — applied, or superseded under the documented rules
 * (a write it had not seen reached the key first); a strongly acknowledged
 * write was applied; every node shows the same entries, all strong, equal
 * to the last applied write of each key; and the history of strong writes
 * and barrier reads is linearizable.
 */
export async function runHybridSimulation(
  world: SimWorld,
  o: HybridSimOptions,
): Promise<{ acked: number; eventual: number }> {
  const rng = world.rng.fork('scenario');
  const size = rng.pick(o.sizes ?? [3, 3, 5]);
  const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, size);
  const disks = new Map<string, CrashConsistentFileIO>();
  const c = hybridCluster(world, {
    ids,
    ...(o.crashes
      ? {
          log: (id: string, purpose: string) => {
            let d = disks.get(id);
            if (!d) {
              d = CrashConsistentFileIO.forNode(world.node(id), {
                tear: true,
                latency: { writeMs: 0.02, syncMs: 0.5 },
              });
              disks.set(id, d);
            }
            return new FileDurableLog({ io: d, dir: `/${purpose}`, segmentBytes: 8192 });
          },
        }
      : {}),
    latencyMs: rng.int(1, 8),
    jitterMs: rng.int(0, 5),
    loss: rng.pick([0, 0, 0.01, 0.03]),
    deadlineMs: rng.pick([50, 100]),
  });
  const all = [...c.members.values()];
  // Outcomes and applied versions as the log decides them (every member applies the same).
  const outcomes = new Map<string, OutcomeEvent>();
  const appliedAt = new Map<string, number[]>();
  const listen = (m: (typeof all)[number]) => {
    m.machine.onOutcome((e) => {
      const k = `${e.origin}/${e.seq}`;
      if (!outcomes.has(k)) outcomes.set(k, e);
    });
    m.machine.onChange((ch) => {
      if (!ch.version) return;
      const k = `${ch.ns}/${ch.key}`;
      const list = appliedAt.get(k) ?? [];
      if (!list.includes(ch.version.index)) list.push(ch.version.index);
      appliedAt.set(k, list);
    });
  };
  for (const m of all) listen(m);
  const member = (id: string) => c.members.get(id)!;
  const current = () => ids.map(member);
  let ready = false;
  void Promise.all(all.map((m) => m.sync.start())).then(() => {
    ready = true;
  });
  await world.runUntil(() => ready, 5_000);
  expect(ready).toBe(true);

  const history = new History<KvInput, KvOutput>(world.clock);
  const acked: AckedWrite[] = [];
  const unacked = new Set<number>();
  let counter = 0;
  let stop = false;
  const client = async (id: string, n: number) => {
    const crng = rng.fork(`client-${n}`);
    while (!stop) {
      const key = `k${crng.int(0, o.keys - 1)}`;
      const m = member(id);
      if (!world.node(id).alive) {
        await world.clock.sleep(crng.int(5, 20));
        continue;
      }
      // A crash never settles the calls in flight: give up on them after a while (outcome unknown).
      const bounded = <T>(p: Promise<T>) =>
        Promise.race([p, world.clock.sleep(3_000).then(() => Promise.reject(new Error('no answer')))]);
      if (crng.chance(0.7)) {
        const value = ++counter;
        const id = history.invoke(n, { op: 'put', key, value });
        try {
          const r = await bounded(m.sync.put('inv', key, enc(value)));
          acked.push({ key, value, result: r });
          if (r.level === 'strong') history.ok(id, undefined);
          else history.unknown(id);
        } catch {
          history.unknown(id);
          unacked.add(value);
        }
      } else {
        // A barrier read of the log's state: linearizable when the barrier passes.
        const id = history.invoke(n, { op: 'get', key });
        try {
          await bounded(m.group.read({ timeoutMs: 200 }));
          history.ok(id, dec(m.machine.version('inv', key)?.value));
        } catch {
          history.fail(id);
        }
      }
      await world.clock.sleep(crng.int(0, 20));
    }
  };
  const clients = ids.map((id, i) => client(id, i));

  // Nemesis: keep cutting the current leader off, alone or in a minority.
  let faults = 0;
  const nemesis = async () => {
    const nrng = rng.fork('nemesis');
    while (!stop) {
      await world.clock.sleep(nrng.int(50, 250));
      if (stop) break;
      if (o.crashes && nrng.chance(0.3)) {
        const victim = nrng.pick(ids);
        if (world.node(victim).alive) {
          world.crash(victim);
          faults++;
          await world.clock.sleep(nrng.int(50, 300));
          world.restart(victim);
          const back = c.build(victim);
          listen(back);
          void back.sync.start().catch(() => undefined);
        }
        continue;
      }
      const leader = c.leader();
      if (leader) {
        const others = ids.filter((i) => i !== leader.id);
        if (size === 5 && nrng.chance(0.5)) {
          const buddy = nrng.pick(others);
          world.partitions.split([[leader.id, buddy], others.filter((x) => x !== buddy)]);
        } else {
          world.partitions.isolate(leader.id, others);
        }
        faults++;
      }
      await world.clock.sleep(nrng.int(100, 400));
      world.partitions.heal();
    }
  };
  const nem = nemesis();
  await world.runFor(o.durationMs);
  stop = true;
  let done = false;
  void Promise.all([...clients, nem]).then(() => {
    done = true;
  });
  await world.runUntil(() => done, 5_000);
  expect(done, 'clients finished').toBe(true);
  world.partitions.heal();
  // Quiet period: every node replays its eventual writes and the CRDT overlays empty.
  const settled = () => current().every((m) => m.sync.status().pendingWrites === 0);
  await world.runUntil(settled, 10_000);
  await world.runFor(300);
  expect(
    settled(),
    `pending after heal: ${current()
      .map((m) => `${m.id}:${m.sync.status().pendingWrites}`)
      .join(' ')}`,
  ).toBe(true);
  expect(faults).toBeGreaterThan(0);

  // Every acknowledged write was decided by the log.
  for (const a of acked) {
    const r = a.result;
    const id = `${r.origin}/${r.seq}`;
    const out = outcomes.get(id);
    expect(out, `outcome of acknowledged write ${id} (${r.level})`).toBeDefined();
    if (r.level === 'strong') expect(out!.outcome, `strong write ${id}`).toBe('applied');
    else expect(['applied', 'superseded'], `eventual write ${id}`).toContain(out!.outcome);
    if (out!.outcome === 'superseded') {
      // The documented rule: some write the writer had not seen (above its base) reached the key first.
      const later = (appliedAt.get(`inv/${a.key}`) ?? []).filter((i) => i > r.base! && i <= out!.index);
      expect(later.length, `superseded write ${id} had an unseen competitor`).toBeGreaterThan(0);
    }
  }
  // Convergence: every node shows the same entries, all strong, and each key
  // holds the last applied write.
  const view = (m: HybridMemberView) =>
    [...m.sync.entries('inv')].map(([k, e]) => `${k}=${dec(e.value)}:${e.level}`).join(',');
  const now = current();
  for (const m of now) expect(view(m), `node ${m.id}`).toBe(view(now[0]!));
  for (const [, e] of now[0]!.sync.entries('inv')) expect(e.level).toBe('strong');
  const lastApplied = new Map<string, { index: number; value: number }>();
  for (const [id, e] of outcomes) {
    if (e.outcome !== 'applied') continue;
    const a = acked.find((x) => `${x.result.origin}/${x.result.seq}` === id);
    if (!a) continue;
    const prev = lastApplied.get(a.key);
    if (!prev || prev.index <= e.index) lastApplied.set(a.key, { index: e.index, value: a.value });
  }
  for (const [key, last] of lastApplied) {
    const final = dec(now[0]!.sync.entries('inv').get(key)?.value);
    // The last applied acknowledged write, or a later one whose writer crashed before its acknowledgement.
    if (final !== last.value) {
      expect(unacked.has(final as number), `final ${key}: ${final}, last acknowledged ${last.value}`).toBe(true);
      expect(now[0]!.machine.version('inv', key)!.index).toBeGreaterThanOrEqual(last.index);
    }
  }
  const lin = checkLinearizability(kvModel, history);
  if (!lin.ok) throw new Error(`strong history not linearizable: ${JSON.stringify(lin).slice(0, 500)}`);
  await world.runUntil(() => false, 1);
  let stopped = false;
  void Promise.all(now.map((m) => m.sync.stop())).then(() => {
    stopped = true;
  });
  await world.runUntil(() => stopped, 5_000);
  return { acked: acked.length, eventual: acked.filter((a) => a.result.level === 'eventual').length };
}
