import type { PeerNetwork } from '@novacron/core';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { CRDT_SYNC_CHANNEL, CrdtSync } from '../../src/index.js';

const bytes = (t: string) => new TextEncoder().encode(t);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/**
 * A peer written only with stock yjs, y-protocols and lib0, the way a
 * y-websocket provider is: a sync message is `varstring namespace` followed
 * by the y-protocols message; `readSyncMessage` answers step 1 with step 2
 * and applies step 2 and updates; local updates go out with `writeUpdate`.
 */
function stockPeer(net: PeerNetwork, ns: string, to: string) {
  const doc = new Y.Doc();
  const frame = (write: (e: encoding.Encoder) => void) => {
    const e = encoding.createEncoder();
    encoding.writeVarString(e, ns);
    write(e);
    return encoding.toUint8Array(e);
  };
  net.handle(CRDT_SYNC_CHANNEL, (from, data) => {
    const d = decoding.createDecoder(data);
    if (decoding.readVarString(d) !== ns) return;
    const reply = encoding.createEncoder();
    encoding.writeVarString(reply, ns);
    const before = encoding.length(reply);
    syncProtocol.readSyncMessage(d, reply, doc, 'remote');
    if (encoding.length(reply) > before) net.send(from, CRDT_SYNC_CHANNEL, encoding.toUint8Array(reply));
  });
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin !== 'remote')
      net.send(
        to,
        CRDT_SYNC_CHANNEL,
        frame((e) => syncProtocol.writeUpdate(e, update)),
      );
  });
  return {
    doc,
    map: doc.getMap<Uint8Array>('kv'),
    connect: () =>
      net.send(
        to,
        CRDT_SYNC_CHANNEL,
        frame((e) => syncProtocol.writeSyncStep1(e, doc)),
      ),
  };
}

describe('interop with a stock yjs + y-protocols peer', () => {
  it('syncs in both directions: initial state by step 1/step 2, then incremental updates', async () => {
    const world = new SimWorld({ seed: 'interop' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 3 } });
    world.addNode('ours');
    world.addNode('stock');
    const ours = new CrdtSync({
      network: net.endpoint('ours'),
      peers: ['stock'],
      clock: world.node('ours').clock,
      rng: world.node('ours').rng,
      antiEntropyMs: 1_000,
    });
    const stock = stockPeer(net.endpoint('stock'), 'inventory', 'ours');
    // Both sides hold state before they meet.
    stock.map.set('from-stock', bytes('s1'));
    await simRun(world, ours.start(), 1_000);
    await simRun(world, ours.put('inventory', 'from-ours', bytes('o1')), 1_000);
    stock.connect();
    await simRun(world, world.clock.sleep(20), 100);
    expect(text(ours.entries('inventory').get('from-stock')?.value)).toBe('s1');
    expect(text(stock.map.get('from-ours'))).toBe('o1');

    // Incremental updates, both ways.
    await simRun(world, ours.put('inventory', 'vm-1', bytes('host-a')), 1_000);
    stock.map.set('vm-2', bytes('host-b'));
    stock.map.delete('from-stock');
    await simRun(world, world.clock.sleep(20), 100);
    expect(text(stock.map.get('vm-1'))).toBe('host-a');
    expect(text(ours.entries('inventory').get('vm-2')?.value)).toBe('host-b');
    expect(ours.entries('inventory').has('from-stock')).toBe(false);
    // Identical documents, byte for byte in their full-state encodings' effect.
    expect(Y.encodeStateVector(stock.doc)).toEqual(Y.encodeStateVector(ours.doc('inventory')));
    expect(stock.map.toJSON()).toEqual(ours.doc('inventory').getMap('kv').toJSON());
    await simRun(world, ours.stop(), 1_000);
  });

  it('a stock peer that only sends step 1 gets everything with step 2 (our reply is stock-decodable)', async () => {
    const world = new SimWorld({ seed: 'interop-2' });
    const net = new SimNetwork(world, { defaults: { latencyMs: 1 } });
    world.addNode('ours');
    world.addNode('stock');
    const ours = new CrdtSync({
      network: net.endpoint('ours'),
      peers: [],
      clock: world.node('ours').clock,
      rng: world.node('ours').rng,
    });
    await simRun(world, ours.start(), 1_000);
    for (let i = 0; i < 50; i++) await simRun(world, ours.put('ns', `k${i}`, bytes(`v${i}`)), 1_000);
    const stock = stockPeer(net.endpoint('stock'), 'ns', 'ours');
    stock.connect();
    await simRun(world, world.clock.sleep(10), 100);
    expect(stock.map.size).toBe(50);
    expect(text(stock.map.get('k49'))).toBe('v49');
    await simRun(world, ours.stop(), 1_000);
  });
  it('a stock peer gets a state larger than the message limit as several step 2 messages', async () => {
    const world = new SimWorld({ seed: 'interop-3' });
    const net = new SimNetwork(world, { maxMessageSize: 8 * 1024, defaults: { latencyMs: 1 } });
    world.addNode('ours');
    world.addNode('stock');
    const ours = new CrdtSync({
      network: net.endpoint('ours'),
      peers: [],
      clock: world.node('ours').clock,
      rng: world.node('ours').rng,
    });
    await simRun(world, ours.start(), 1_000);
    const value = new Uint8Array(100).fill(1);
    await simRun(
      world,
      ours.transact('ns', (map) => {
        for (let i = 0; i < 600; i++) map.set(`k${i}`, value);
      }),
      1_000,
    );
    const stock = stockPeer(net.endpoint('stock'), 'ns', 'ours');
    stock.connect();
    await simRun(world, world.clock.sleep(10), 100);
    expect(stock.map.size).toBe(600);
    expect(ours.stats.step2Sent).toBeGreaterThan(5);
    expect(ours.stats.oversized).toBe(0);
    expect(Buffer.from(Y.encodeStateVector(stock.doc)).equals(Buffer.from(Y.encodeStateVector(ours.doc('ns'))))).toBe(
      true,
    );
    await simRun(world, ours.stop(), 1_000);
  });
});
