import { encodeMsgpack } from '@novacron/core';
import { SimNetwork, SimWorld } from '@novacron/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeForward, FORWARD_CHANNEL, NetworkFaults, withFaults } from '../../src/index.js';

describe('forwarded proposals wire', () => {
  it('decodes requests and replies, and never throws on arbitrary bytes', () => {
    const req = decodeForward(encodeMsgpack([1, 0, 7, new Uint8Array([1, 2]), ['c', 3], 500]));
    expect(req).toEqual({
      kind: 0,
      id: 7,
      command: new Uint8Array([1, 2]),
      session: { client: 'c', seq: 3 },
      timeoutMs: 500,
    });
    expect(decodeForward(encodeMsgpack([1, 1, 7, true, new Uint8Array([9]), 12]))).toMatchObject({
      kind: 1,
      index: 12,
    });
    expect(decodeForward(encodeMsgpack([1, 0, 0, new Uint8Array(), null, 5]))).toBeUndefined(); // id 0
    expect(decodeForward(encodeMsgpack([1, 0, 1, 'x', null, 5]))).toBeUndefined();
    expect(decodeForward(encodeMsgpack([2, 1, 1, true, new Uint8Array(), 0]))).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        decodeForward(b);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('NetworkFaults', () => {
  it('drops traffic both ways while cut, and restores it on heal', async () => {
    const world = new SimWorld({ seed: 1 });
    const net = new SimNetwork(world, { defaults: { latencyMs: 1, jitterMs: 0 } });
    world.addNode('a');
    world.addNode('b');
    const faults = new NetworkFaults();
    const a = withFaults(net.endpoint('a'), faults);
    const b = net.endpoint('b');
    const atA: string[] = [];
    const atB: string[] = [];
    a.handle(FORWARD_CHANNEL, (from) => atA.push(from));
    b.handle(FORWARD_CHANNEL, (from) => atB.push(from));
    faults.cut(['b']);
    a.send('b', FORWARD_CHANNEL, new Uint8Array([1]));
    b.send('a', FORWARD_CHANNEL, new Uint8Array([1]));
    await world.runFor(10);
    expect([atA, atB, faults.dropped]).toEqual([[], [], 2]);
    faults.heal();
    a.send('b', FORWARD_CHANNEL, new Uint8Array([1]));
    b.send('a', FORWARD_CHANNEL, new Uint8Array([1]));
    await world.runFor(10);
    expect([atA, atB]).toEqual([['b'], ['a']]);
  });
});
