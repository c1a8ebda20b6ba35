import { MemoryDurableLog } from '@novacron/core';
import * as Y from 'yjs';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import { stateSyncCompliance } from '@novacron/testkit/compliance/state-sync';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { AssErrorCode, CrdtSync } from '../../src/index.js';

const bytes = (t: string) => new TextEncoder().encode(t);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function crdtCluster(seed: string, opts: { loss?: number; fanout?: number } = {}) {
  const world = new SimWorld({ seed });
  const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 2, loss: opts.loss ?? 0.01 } });
  const ids = ['a', 'b', 'c'];
  const replicas = ids.map((id) => {
    const node = world.addNode(id);
    return new CrdtSync({
      network: net.endpoint(id),
      peers: ids.filter((p) => p !== id),
      clock: node.clock,
      rng: node.rng.fork('crdt'),
      log: new MemoryDurableLog(),
      antiEntropyMs: 100,
      ...(opts.fanout !== undefined ? { fanout: opts.fanout } : {}),
    });
  });
  return { world, net, replicas };
}

stateSyncCompliance('CrdtSync (simulated, lossy network)', {
  setup() {
    const { world, replicas } = crdtCluster('crdt-compliance');
    return {
      replicas,
      strategy: 'crdt',
      level: 'eventual',
      run: <T>(p: Promise<T>) => simRun(world, p, 30_000),
      settle: () => simRun(world, world.clock.sleep(400), 1_000),
    };
  },
});

describe('CrdtSync', () => {
  it('propagates by relay with fanout 1 and repairs partitions by anti-entropy', async () => {
    const { world, replicas } = crdtCluster('crdt-partition', { fanout: 1, loss: 0 });
    const [a, b, c] = replicas as [CrdtSync, CrdtSync, CrdtSync];
    await simRun(world, Promise.all(replicas.map((r) => r.start())), 1_000);
    await simRun(world, a.put('ns', 'k1', bytes('1')), 1_000);
    await simRun(world, world.clock.sleep(50), 100);
    expect(text(b.entries('ns').get('k1')?.value)).toBe('1');
    expect(text(c.entries('ns').get('k1')?.value)).toBe('1');

    world.partitions.isolate('c', ['a', 'b']);
    for (let i = 0; i < 20; i++) await simRun(world, (i % 2 ? a : c).put('ns', `p${i}`, bytes(`v${i}`)), 1_000);
    await simRun(world, c.delete('ns', 'k1'), 1_000);
    await simRun(world, world.clock.sleep(250), 500);
    // Divergence is reported while cut off (digests of the side still talking match).
    expect(a.entries('ns').size).not.toBe(c.entries('ns').size);
    world.partitions.heal();
    // One anti-entropy interval (100 ms) plus a round trip: divergence seen and repaired.
    await simRun(world, world.clock.sleep(120), 500);
    expect(a.stats.divergencesFound + c.stats.divergencesFound).toBeGreaterThan(0);
    await simRun(world, world.clock.sleep(200), 500);
    const view = (r: CrdtSync) => [...r.entries('ns')].map(([k, e]) => `${k}=${text(e.value)}`);
    expect(view(a)).toEqual(view(c));
    expect(view(b)).toEqual(view(c));
    expect(a.entries('ns').has('k1')).toBe(false);
    for (const r of replicas) expect(r.status().divergence).toEqual([]);
    expect(a.status().convergenceLagMs).toBeLessThan(250);
    // Per-key version vectors agree once converged.
    expect([...a.versionVector('ns', 'k1')]).toEqual([...c.versionVector('ns', 'k1')]);
    expect(a.versionVector('ns', 'k1').size).toBe(1); // only a set it (a delete adds no item)
    await simRun(world, c.put('ns', 'k1', bytes('again')), 1_000);
    await simRun(world, world.clock.sleep(50), 100);
    for (const r of replicas) expect(r.versionVector('ns', 'k1').size).toBe(2);
    expect([...a.versionVector('ns', 'k1')]).toEqual([...b.versionVector('ns', 'k1')]);
    await simRun(world, Promise.all(replicas.map((r) => r.stop())), 1_000);
  });

  it('reports divergence of delete sets alone and repairs it', async () => {
    const { world, replicas } = crdtCluster('crdt-ds', { loss: 0 });
    const [a, b] = replicas as [CrdtSync, CrdtSync, CrdtSync];
    await simRun(world, Promise.all(replicas.map((r) => r.start())), 1_000);
    await simRun(world, a.put('ns', 'x', bytes('1')), 1_000);
    await simRun(world, world.clock.sleep(150), 500);
    world.partitions.isolate('b', ['a', 'c']);
    await simRun(world, b.delete('ns', 'x'), 1_000);
    // A delete adds no struct: state vectors stay equal, only the delete sets differ.
    world.partitions.heal();
    const found = await world.runUntil(() => a.status().divergence.some((d) => d.peer === 'b'), 110);
    expect(found).toBe(true);
    await simRun(world, world.clock.sleep(300), 500);
    expect(a.entries('ns').has('x')).toBe(false);
    expect(a.status().divergence).toEqual([]);
    await simRun(world, Promise.all(replicas.map((r) => r.stop())), 1_000);
  });

  it('refuses namespaces beyond maxNamespaces with ASS_NAMESPACE_LIMIT', async () => {
    const world = new SimWorld({ seed: 'crdt-limit' });
    const net = new SimNetwork(world);
    const node = world.addNode('a');
    const sync = new CrdtSync({
      network: net.endpoint('a'),
      peers: [],
      clock: node.clock,
      rng: node.rng,
      maxNamespaces: 2,
    });
    await simRun(world, sync.start(), 1_000);
    await simRun(world, sync.put('one', 'k', bytes('1')), 1_000);
    await simRun(world, sync.put('two', 'k', bytes('2')), 1_000);
    await expectNovacronRejection(sync.put('three', 'k', bytes('3')), AssErrorCode.NAMESPACE_LIMIT);
    await simRun(world, sync.stop(), 1_000);
  });

  it('survives malformed messages and counts them', async () => {
    const { world, net, replicas } = crdtCluster('crdt-fuzz', { loss: 0 });
    world.addNode('evil');
    const evil = net.endpoint('evil');
    await simRun(world, Promise.all(replicas.map((r) => r.start())), 1_000);
    const fc = await import('fast-check');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (data, digest) => {
        evil.send('a', digest ? 'ass/crdt-ae/1' : 'ass/crdt/1', data);
      }),
      { numRuns: 300 },
    );
    // Mutated real updates get deeper into Yjs' decoder than random bytes.
    const Y = await import('yjs');
    const lib0 = await import('lib0/encoding');
    const src = new Y.Doc();
    for (let i = 0; i < 20; i++) src.getMap('kv').set(`m${i}`, bytes(`v${i}`));
    src.getMap('kv').delete('m3');
    const update = Y.encodeStateAsUpdate(src);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(update.length - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        (flips) => {
          const u = update.slice();
          for (const [at, v] of flips) u[at] = v;
          const e = lib0.createEncoder();
          lib0.writeVarString(e, 'fuzz');
          lib0.writeVarUint(e, 2);
          lib0.writeVarUint8Array(e, u);
          evil.send('a', 'ass/crdt/1', lib0.toUint8Array(e));
        },
      ),
      { numRuns: 300 },
    );
    await simRun(world, world.clock.sleep(50), 100);
    await simRun(world, replicas[0]!.put('ns', 'k', bytes('still works')), 1_000);
    await simRun(world, world.clock.sleep(300), 500);
    expect(text(replicas[1]!.entries('ns').get('k')?.value)).toBe('still works');
    expect(replicas[0]!.stats.malformed).toBeGreaterThan(0);
    await simRun(world, Promise.all(replicas.map((r) => r.stop())), 1_000);
  });
});

describe('CrdtSync: a state larger than the message limit', () => {
  it('arrives as several step 2 chunks, none oversized, and a transfer cut by losses resumes where it stopped', async () => {
    const world = new SimWorld({ seed: 'crdt-chunks' });
    const net = new SimNetwork(world, { maxMessageSize: 16 * 1024, defaults: { latencyMs: 2, loss: 0 } });
    const ids = ['a', 'b', 'c'];
    const replicas = ids.map((id) => {
      const node = world.addNode(id);
      return new CrdtSync({
        network: net.endpoint(id),
        peers: ids.filter((p) => p !== id),
        clock: node.clock,
        rng: node.rng.fork('crdt'),
        log: new MemoryDurableLog(),
        antiEntropyMs: 100,
      });
    });
    const [a, b, c] = replicas as [CrdtSync, CrdtSync, CrdtSync];
    await simRun(world, Promise.all([a.start(), b.start()]), 1_000);
    const value = new Uint8Array(100).fill(7);
    for (let i = 0; i < 3000; i += 250)
      await simRun(
        world,
        a.transact('big', (map) => {
          for (let j = i; j < i + 250; j++) map.set(`k${j % 2000}`, value);
        }),
        1_000,
      );
    await simRun(world, world.clock.sleep(300), 1_000);
    expect(b.entries('big').size).toBe(2000);
    const state = Y.encodeStateAsUpdate(a.doc('big')).length;
    expect(state).toBeGreaterThan(10 * 16 * 1024);

    // c joins empty over links that lose a third of the messages from a and b.
    net.link('a', 'c', { loss: 0.33 }, { oneWay: true });
    net.link('b', 'c', { loss: 0.33 }, { oneWay: true });
    const sentBefore = a.stats.bytesSent + b.stats.bytesSent;
    await simRun(world, c.start(), 1_000);
    const synced = await world.runUntil(() => c.entries('big').size === 2000, 5_000);
    expect(synced).toBe(true);
    await simRun(world, world.clock.sleep(400), 1_000);
    expect(Buffer.from(Y.encodeStateVector(c.doc('big'))).equals(Buffer.from(Y.encodeStateVector(a.doc('big'))))).toBe(
      true,
    );
    for (const r of replicas) expect(r.stats.oversized).toBe(0);
    expect(a.stats.step2Sent + b.stats.step2Sent).toBeGreaterThan(10);
    // Lost chunks are re-sent from c's state vector, not from scratch every time:
    // far less than one full state per anti-entropy round that passed.
    const sent = a.stats.bytesSent + b.stats.bytesSent - sentBefore;
    expect(sent).toBeLessThan(4 * state);
    await simRun(world, Promise.all(replicas.map((r) => r.stop())), 1_000);
  });
});
