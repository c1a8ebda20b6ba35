import { encodeMsgpack, type LinkSample } from '@novacron/core';
import { SimNetwork, SimWorld } from '@novacron/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeProbe, type MemberChange, PROBE_CHANNEL, StaticMembership } from '../../src/index.js';

function cluster(seed: number) {
  const world = new SimWorld({ seed });
  const net = new SimNetwork(world, { defaults: { latencyMs: 3, jitterMs: 0 } });
  const ids = ['a', 'b', 'c'];
  const samples: [string, LinkSample][] = [];
  const changes: MemberChange[] = [];
  const members = ids.map((id) => {
    const node = world.addNode(id);
    const m = new StaticMembership({
      network: net.endpoint(id),
      localAddress: `${id}:1`,
      seeds: new Map(ids.map((x) => [x, `${x}:1`])),
      clock: node.clock,
      probeIntervalMs: 100,
      failAfterMs: 1000,
      onSample: (peer, s) => id === 'a' && samples.push([peer, s]),
    });
    m.setLocalMeta('api', `http://${id}`);
    if (id === 'a') m.onChange((c) => changes.push(c));
    return m;
  });
  for (const m of members) m.start();
  return { world, net, members, samples, changes };
}

describe('StaticMembership', () => {
  it('measures RTT, learns meta, and marks a silent peer suspect then down, and alive again', async () => {
    const { world, members, samples, changes } = cluster(1);
    await world.runFor(500);
    const a = members[0]!;
    expect(a.members().map((m) => [m.id, m.status])).toEqual([
      ['a', 'alive'],
      ['b', 'alive'],
      ['c', 'alive'],
    ]);
    expect(a.members()[1]!.meta).toEqual({ api: 'http://b' });
    expect(samples.length).toBeGreaterThan(5);
    for (const [, s] of samples) expect(s.rttMs).toBe(6);
    world.faults.inject({ kind: 'partition', groups: [['a', 'b'], ['c']] });
    await world.runFor(600);
    expect(a.members()[2]!.status).toBe('suspect');
    await world.runFor(600);
    expect(a.members()[2]!.status).toBe('down');
    world.faults.inject({ kind: 'heal' });
    await world.runFor(300);
    expect(a.members()[2]!.status).toBe('alive');
    expect(changes.filter((c) => c.member.id === 'c').map((c) => c.member.status)).toEqual([
      'suspect',
      'down',
      'alive',
    ]);
    for (const m of members) m.stop();
  });

  it('drops malformed probes without throwing', async () => {
    const { world, net, members } = cluster(2);
    await world.runFor(200);
    const evil = net.endpoint('c');
    evil.send('a', PROBE_CHANNEL, new Uint8Array([0xc1]));
    evil.send('a', PROBE_CHANNEL, encodeMsgpack([1, 0, 1, 0, { x: 5 }]));
    evil.send('a', PROBE_CHANNEL, encodeMsgpack([2, 0, 1, 0, {}]));
    await world.runFor(50);
    expect(members[0]!.malformed).toBe(3);
    for (const m of members) m.stop();
  });

  it('decodeProbe never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const p = decodeProbe(bytes);
        expect(p === undefined || typeof p.nonce === 'number').toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeMsgpack(v as never);
        } catch {
          return; // values core's encoder refuses (e.g. "__proto__" keys) never reach the wire
        }
        decodeProbe(bytes);
      }),
      { numRuns: 500 },
    );
  });
});
