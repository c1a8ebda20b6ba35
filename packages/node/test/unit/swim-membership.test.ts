import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMsgpack, isNovacronError, type LinkSample } from '@novacron/core';
import { SimNetwork, SimWorld } from '@novacron/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createClusterKeyFile,
  decodeMemberMeta,
  loadClusterKey,
  type MemberChange,
  parseClusterKey,
  PROBE_CHANNEL,
  Secret,
  SwimMembership,
} from '../../src/index.js';

function cluster(seed: number) {
  const world = new SimWorld({ seed });
  const net = new SimNetwork(world, { defaults: { latencyMs: 3, jitterMs: 0 } });
  const ids = ['a', 'b', 'c'];
  const samples: [string, LinkSample][] = [];
  const changes: MemberChange[] = [];
  const members = ids.map((id) => {
    const node = world.addNode(id);
    // Only `a` is a seed: b and c learn each other through gossip.
    const m = new SwimMembership({
      network: net.endpoint(id),
      localAddress: `${id}:1`,
      seeds: new Map([['a', 'a:1']]),
      clock: node.clock,
      rng: node.rng,
      profile: 'lan',
      gossip: { probeIntervalMs: 200, probeTimeoutMs: 100, suspicionMult: 2, gossipIntervalMs: 50 },
      probeIntervalMs: 100,
      reconnectIntervalMs: 1000,
      onSample: (peer, s) => id === 'b' && samples.push([peer, s]),
    });
    m.setLocalMeta('api', `http://${id}`);
    if (id === 'b') m.onChange((c) => changes.push(c));
    return m;
  });
  for (const m of members) m.start();
  return { world, net, members, samples, changes };
}

/** Stops members while virtual time runs (a graceful leave waits on the clock). */
async function stopAll(world: SimWorld, members: SwimMembership[]): Promise<void> {
  const stopping = Promise.all(members.map((m) => m.stop()));
  await world.runFor(6000);
  await stopping;
}

describe('SwimMembership', () => {
  it('joins through one seed, learns meta and RTT, and follows a partition and its healing', async () => {
    const { world, members, samples, changes } = cluster(1);
    await world.runFor(2000);
    const b = members[1]!;
    expect(b.members().map((m) => [m.id, m.status])).toEqual([
      ['a', 'alive'],
      ['b', 'alive'],
      ['c', 'alive'],
    ]);
    expect(b.members()[2]!.meta).toEqual({ api: 'http://c' });
    expect(samples.length).toBeGreaterThan(5);
    for (const [, s] of samples) expect(s.rttMs).toBe(6);
    expect(b.members()[0]!.rttMs).toBe(6);
    // b learned a and c as new members (previous undefined), through SWIM's join events.
    expect(changes.filter((c) => c.previous === undefined).map((c) => [c.member.id, c.reason])).toEqual([
      ['a', 'join'],
      ['c', 'join'],
    ]);
    world.faults.inject({ kind: 'partition', groups: [['a', 'b'], ['c']] });
    await world.runFor(5000);
    expect(b.members()[2]!.status).toBe('down');
    world.faults.inject({ kind: 'heal' });
    await world.runFor(5000);
    expect(b.members()[2]!.status).toBe('alive');
    const seq = changes.filter((c) => c.member.id === 'c').map((c) => c.member.status);
    expect(seq[0]).toBe('alive');
    expect(seq).toContain('suspect');
    expect(seq.indexOf('down')).toBeGreaterThan(seq.indexOf('suspect'));
    expect(seq.at(-1)).toBe('alive');
    await stopAll(world, members);
  });

  it('a graceful stop is seen as down at once (left), without waiting for failure detection', async () => {
    const { world, members, changes } = cluster(2);
    await world.runFor(2000);
    const stopped = members[2]!.stop();
    await world.runFor(300);
    await stopped;
    expect(members[1]!.members().find((m) => m.id === 'c')!.status).toBe('down');
    expect(changes.at(-1)).toMatchObject({ member: { id: 'c', status: 'down' }, previous: 'alive', reason: 'left' });
    await stopAll(world, members.slice(0, 2));
  });

  it('drops malformed probes and ignores meta that does not decode', async () => {
    const { world, net, members } = cluster(3);
    await world.runFor(1000);
    const evil = net.endpoint('c');
    evil.send('a', PROBE_CHANNEL, new Uint8Array([0xc1]));
    evil.send('a', PROBE_CHANNEL, encodeMsgpack([1, 0, 1, 0, { x: 5 }]));
    await world.runFor(50);
    expect(members[0]!.malformed).toBe(2);
    expect(decodeMemberMeta(encodeMsgpack({ a: 1 }))).toEqual({});
    expect(decodeMemberMeta(encodeMsgpack(['x']))).toEqual({});
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(typeof decodeMemberMeta(bytes)).toBe('object');
      }),
      { numRuns: 1000 },
    );
    await stopAll(world, members);
  });
});

describe('cluster key', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'nc-key-'));

  it('is created once (0600, 64 hex digits), then read back; hex and base64 both parse', () => {
    const d = dir();
    const k = loadClusterKey({ keyEnv: 'NOPE_UNSET', dataDir: d, mayCreate: true }, {});
    expect(k.length).toBe(32);
    const file = join(d, 'cluster.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(loadClusterKey({ keyEnv: 'NOPE_UNSET', dataDir: d, mayCreate: true }, {})).toEqual(k);
    expect(() => createClusterKeyFile(file)).toThrow(); // never overwritten
    const b64 = Buffer.from(k).toString('base64');
    expect(parseClusterKey(new Secret(b64), 'test')).toEqual(k);
    expect(loadClusterKey({ keyEnv: 'K', dataDir: dir(), mayCreate: false }, { K: b64 })).toEqual(k);
  });

  it('refuses a missing key on a joining node and a malformed one, naming the source but never the value', () => {
    const missing = (() => {
      try {
        loadClusterKey({ keyEnv: 'NOPE_UNSET', dataDir: dir(), mayCreate: false }, {});
      } catch (e) {
        return e;
      }
    })();
    expect(isNovacronError(missing, 'NODE_SECRET_UNAVAILABLE')).toBe(true);
    const f = join(dir(), 'bad.key');
    writeFileSync(f, 'not-a-key-at-all-but-a-secret\n');
    const bad = (() => {
      try {
        loadClusterKey({ keyFile: f, keyEnv: 'X', dataDir: dir(), mayCreate: true }, {});
      } catch (e) {
        return e;
      }
    })();
    expect(isNovacronError(bad, 'NODE_CLUSTER_KEY_INVALID')).toBe(true);
    expect(JSON.stringify(bad)).not.toContain('not-a-key');
    expect((bad as Error).message).not.toContain('not-a-key');
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (s) => {
        try {
          expect(parseClusterKey(new Secret(s), 'fc').length).toBe(32);
        } catch (e) {
          expect(isNovacronError(e, 'NODE_CLUSTER_KEY_INVALID')).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
