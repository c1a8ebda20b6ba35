// The example from docs/testing.md "Writing a simulation test", kept here so it cannot rot.
import { SimNetwork } from '@novacron/testkit';
import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';

simTest('heartbeats stop across a partition and resume after heal', { seeds: 5 }, async (world) => {
  const net = new SimNetwork(world, { defaults: { latencyMs: 5, jitterMs: 2, loss: 0.01 } });
  const received = new Map<string, number>();
  for (const id of ['a', 'b', 'c']) {
    const node = world.addNode(id);
    const peer = net.endpoint(id);
    peer.handle('demo/heartbeat', (from) => received.set(`${from}->${id}`, (received.get(`${from}->${id}`) ?? 0) + 1));
    // Protocol code takes the node's clock: a crash cancels these timers.
    node.clock.setInterval(() => {
      for (const other of ['a', 'b', 'c']) if (other !== id) peer.send(other, 'demo/heartbeat', new Uint8Array([1]));
    }, 10);
  }

  world.faults.schedule([
    { at: 100, fault: { kind: 'partition', groups: [['a', 'b'], ['c']] } },
    { at: 300, fault: { kind: 'heal' } },
  ]);

  await world.runFor(110);
  const beforeCut = received.get('a->c') ?? 0;
  await world.runFor(180); // t = 290: still cut off
  expect(received.get('a->c') ?? 0).toBeLessThanOrEqual(beforeCut + 1); // at most one already in flight
  await world.runFor(100); // t = 390: healed at 300
  expect(received.get('a->c')).toBeGreaterThan(beforeCut + 5);
  expect(received.get('a->b')).toBeGreaterThan(30);
});
