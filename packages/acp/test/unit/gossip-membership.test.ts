import { MemoryMetrics, seededRng } from '@novacron/core';
import { SimNetwork, SimWorld } from '@novacron/testkit';
import { expectNovacronError, expectNovacronRejection, simTest } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { GOSSIP_CHANNEL, GossipErrorCode, GossipMembership, type MemberEvent, SwimWireCodec } from '../../src/index.js';
import { LAN_LINK, startCluster } from './gossip-sim-harness.js';

const codec = new SwimWireCodec();

describe('GossipMembership', () => {
  simTest('members join through a seed and learn every address', { seeds: 3 }, async (world) => {
    const net = new SimNetwork(world, { defaults: LAN_LINK });
    const book = new Map<string, Map<string, string>>();
    const members = ['a', 'b', 'c', 'd'].map((id) => {
      const node = world.addNode(id);
      const learned = new Map<string, string>();
      book.set(id, learned);
      return new GossipMembership({
        network: net.endpoint(id),
        clock: node.clock,
        rng: node.rng,
        address: `10.0.0.${id.charCodeAt(0)}:7946`,
        addressBook: { addPeer: (pid, addr) => learned.set(pid, addr) },
      });
    });
    for (const m of members) m.start();
    const joins = members.slice(1).map((m) => m.join(['a']));
    await world.runFor(3000);
    expect(await Promise.all(joins)).toEqual(['a', 'a', 'a']);
    for (const m of members) {
      expect(
        m
          .liveMembers()
          .map((x) => x.id)
          .sort(),
      ).toEqual(['a', 'b', 'c', 'd']);
      expect(book.get(m.id)!.size).toBe(3);
    }
    expect(book.get('d')!.get('b')).toBe('10.0.0.98:7946');
  });

  simTest(
    'join fails with a typed error when no seed answers, and succeeds once one comes up',
    { seeds: 2 },
    async (world) => {
      const net = new SimNetwork(world, { defaults: LAN_LINK });
      const na = world.addNode('a');
      const a = new GossipMembership({ network: net.endpoint('a'), clock: na.clock, rng: na.rng });
      a.start();
      const failing = expectNovacronRejection(
        a.join(['nobody'], { timeoutMs: 3000 }),
        GossipErrorCode.GOSSIP_JOIN_FAILED,
      );
      await world.runFor(3500);
      await failing;
      // Attempts continue in the background: a seed that starts later is found.
      const nb = world.addNode('b');
      const b = new GossipMembership({ network: net.endpoint('b'), clock: nb.clock, rng: nb.rng });
      b.start();
      const ok = a.join(['b'], { timeoutMs: 5000 });
      await world.runFor(2000);
      expect(await ok).toBe('b');
      expect(b.member('a')?.status).toBe('alive');
    },
  );

  simTest('a graceful leave is seen as left (not dead) everywhere', { seeds: 3 }, async (world) => {
    const { members } = await startCluster(world, { n: 6 });
    const leaver = members[2]!;
    const done = leaver.gossip.leave();
    await world.runFor(2000);
    await done;
    const others = members.filter((m) => m !== leaver);
    for (const m of others) {
      expect(m.gossip.member(leaver.id)?.status).toBe('left');
      expect(m.events.some((e) => e.kind === 'dead' && e.member.id === leaver.id)).toBe(false);
    }
    await world.runFor(20_000);
    for (const m of others) expect(m.gossip.member(leaver.id)?.status).toBe('left');
    expect(() => leaver.gossip.broadcastEvent('x')).toThrow();
  });

  simTest(
    'a suspected member refutes through the buddy system and is never declared dead',
    { seeds: 3 },
    async (world) => {
      const { members } = await startCluster(world, { n: 5 });
      const victim = members[1]!;
      const accuser = members[0]!;
      // A false accusation injected into one member's view.
      accuser.gossip.core.receive(
        'm4',
        {
          kind: 'gossip',
          gossip: [{ kind: 'suspect', id: victim.id, incarnation: victim.gossip.core.incarnation, from: 'm4' }],
        },
        world.now(),
      );
      await world.runFor(10_000);
      expect(victim.gossip.core.incarnation).toBeGreaterThan(0);
      for (const m of members) {
        expect(m.gossip.member(victim.id)?.status).toBe('alive');
        expect(m.events.some((e) => e.kind === 'dead')).toBe(false);
      }
      expect(accuser.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['alive']));
    },
  );

  simTest('a restarted member comes back with a higher incarnation', { seeds: 3 }, async (world) => {
    const { net, members } = await startCluster(world, { n: 4 });
    world.crash('m3');
    await world.runUntil(() => members.slice(0, 3).every((m) => m.gossip.member('m3')?.status === 'dead'), 60_000);
    const old = members[0]!.gossip.member('m3')!.incarnation;
    world.restart('m3');
    const node = world.node('m3');
    const fresh = new GossipMembership({
      network: net.endpoint('m3'),
      clock: node.clock,
      rng: node.rng,
      seeds: ['m0'],
    });
    fresh.start();
    await world.runUntil(() => members.slice(0, 3).every((m) => m.gossip.member('m3')?.status === 'alive'), 10_000);
    for (const m of members.slice(0, 3)) {
      expect(m.gossip.member('m3')?.status).toBe('alive');
      expect(m.gossip.member('m3')!.incarnation).toBeGreaterThan(old);
    }
  });

  simTest('user events reach everyone exactly once through loss and duplication', { seeds: 3 }, async (world) => {
    const { members } = await startCluster(world, { n: 12, link: { loss: 0.05, duplicate: 0.2 } });
    const seen = new Map<string, string[]>();
    for (const m of members)
      m.gossip.onUserEvent((e) => seen.set(m.id, [...(seen.get(m.id) ?? []), `${e.origin}/${e.name}`]));
    members[3]!.gossip.broadcastEvent('deploy', new Uint8Array([1]));
    members[7]!.gossip.broadcastEvent('scale', new Uint8Array([2]));
    await world.runFor(5000);
    for (const m of members) expect(seen.get(m.id)?.sort()).toEqual(['m3/deploy', 'm7/scale']);
    // Lamport: every member's clock is past both events.
    for (const m of members) expect(m.gossip.core.eventTime).toBeGreaterThanOrEqual(1);
  });

  simTest('push-pull anti-entropy repairs a member that missed all gossip', { seeds: 2 }, async (world) => {
    // With push-pull off (the control) the event never arrives; with it on, it does.
    const missedEvent = async (pushPullIntervalMs: number, prefix: string): Promise<boolean> => {
      const { members } = await startCluster(world, { n: 5, config: { pushPullIntervalMs }, prefix });
      // The last member hears nothing for a while: the event's gossip passes it by.
      world.faults.inject({ kind: 'isolate', node: `${prefix}4` });
      members[0]!.gossip.broadcastEvent('missed');
      let got = false;
      members[4]!.gossip.onUserEvent((e) => {
        if (e.name === 'missed') got = true;
      });
      await world.runFor(1500);
      world.faults.inject({ kind: 'heal' });
      // Gossip retransmits are spent by now; only push-pull can bring the event.
      await world.runUntil(() => got, 30_000);
      return got;
    };
    expect(await missedEvent(0, 'off')).toBe(false);
    expect(await missedEvent(2000, 'on')).toBe(true);
  });

  simTest(
    'WAN and internet profiles detect a crash and spread events on their slower clocks',
    { seeds: 2 },
    async (world) => {
      for (const profile of ['wan', 'internet'] as const) {
        const net = new SimNetwork(world, { defaults: { latencyMs: 40, jitterMs: 30, loss: 0.01 } });
        const ids = Array.from({ length: 8 }, (_, i) => `${profile}${i}`);
        const members = ids.map((id) => {
          const node = world.addNode(id);
          return new GossipMembership({
            network: net.endpoint(id),
            clock: node.clock,
            rng: node.rng,
            profile,
            ...(id === ids[0] ? {} : { seeds: [ids[0]!] }),
          });
        });
        for (const m of members) m.start();
        expect(await world.runUntil(() => members.every((m) => m.liveMembers().length === 8), 120_000)).toBe(true);
        const got = new Set<string>();
        for (const m of members) {
          m.onUserEvent((e) => {
            if (e.name === profile) got.add(m.id);
          });
        }
        members[3]!.broadcastEvent(profile);
        expect(await world.runUntil(() => got.size === 8, 60_000)).toBe(true);
        const crashedAt = world.now();
        world.crash(ids[5]!);
        const others = members.filter((m) => m.id !== ids[5]);
        expect(await world.runUntil(() => others.every((m) => m.member(ids[5]!)?.status === 'dead'), 600_000)).toBe(
          true,
        );
        // Suspicion alone lasts at least suspicionMult x probe interval (6 x 5 s) on these profiles.
        expect(world.now() - crashedAt).toBeGreaterThanOrEqual(30_000);
        for (const m of others) expect(m.liveMembers()).toHaveLength(7);
        for (const m of members) m.stop();
      }
    },
  );

  it('replays byte for byte from its seed', async () => {
    const run = async (seed: number) => {
      const world = new SimWorld({ seed });
      const { members } = await startCluster(world, { n: 6, link: { loss: 0.05, duplicate: 0.05, reorder: 0.1 } });
      members[2]!.gossip.broadcastEvent('e');
      world.crash('m4');
      await world.runFor(15_000);
      return world.trace.hash();
    };
    const a = await run(7);
    expect(await run(7)).toBe(a);
    expect(await run(8)).not.toBe(a);
  });

  it('rejects bad configuration, seeds and metadata with typed errors', () => {
    const world = new SimWorld({ seed: 1 });
    const net = new SimNetwork(world);
    const node = world.addNode('a');
    const base = { network: net.endpoint('a'), clock: node.clock, rng: node.rng };
    const code = GossipErrorCode.GOSSIP_CONFIG_INVALID;
    expectNovacronError(() => new GossipMembership({ ...base, config: { probeIntervalMs: 0 } }), code);
    expectNovacronError(() => new GossipMembership({ ...base, config: { probeTimeoutMs: 2000 } }), code);
    expectNovacronError(() => new GossipMembership({ ...base, config: { lifeguard: 'yes' as never } }), code);
    expectNovacronError(() => new GossipMembership({ ...base, config: { bogus: 1 } as never }), code);
    expectNovacronError(() => new GossipMembership({ ...base, profile: 'mars' as never }), code);
    expectNovacronError(() => new GossipMembership({ ...base, seeds: [''] }), code);
    expectNovacronError(() => new GossipMembership({ ...base, meta: new Uint8Array(513) }), code);
    const g = new GossipMembership({ ...base, profile: 'wan', config: { gossipNodes: 5 } });
    expect(g.config).toMatchObject({ probeIntervalMs: 5000, probeTimeoutMs: 3000, suspicionMult: 6, gossipNodes: 5 });
    expect(new GossipMembership({ ...base, profile: 'internet' }).config).toMatchObject({
      gossipNodes: 3,
      gossipIntervalMs: 5000,
    });
    expectNovacronError(() => g.broadcastEvent('x'), GossipErrorCode.GOSSIP_NOT_STARTED);
    g.start();
    g.start();
    expectNovacronError(() => g.broadcastEvent(''), GossipErrorCode.GOSSIP_EVENT_INVALID);
    expectNovacronError(() => g.broadcastEvent('x', new Uint8Array(5000)), GossipErrorCode.GOSSIP_EVENT_INVALID);
    g.stop();
    g.stop();
  });

  simTest('hostile datagrams are counted and dropped', { seeds: 1 }, async (world) => {
    const { net, members } = await startCluster(world, { n: 3 });
    world.addNode('evil');
    const evil = net.endpoint('evil');
    const rng = seededRng(world.seed);
    for (let i = 0; i < 200; i++) evil.send('m0', GOSSIP_CHANNEL, rng.bytes(rng.int(0, 300)));
    evil.send('m0', GOSSIP_CHANNEL, codec.encode({ kind: 'ping', seq: 1, target: 'm1', gossip: [] }));
    await world.runFor(2000);
    expect(members[0]!.gossip.stats().malformed).toBeGreaterThanOrEqual(190);
    expect(members.every((m) => m.gossip.liveMembers().length === 3)).toBe(true);
  });

  simTest('reports members, local health and malformed datagrams as metrics', { seeds: 1 }, async (world) => {
    const net = new SimNetwork(world, { defaults: LAN_LINK });
    const metrics = new MemoryMetrics();
    const members = ['a', 'b', 'c'].map((id) => {
      const node = world.addNode(id);
      return new GossipMembership({
        network: net.endpoint(id),
        clock: node.clock,
        rng: node.rng,
        ...(id === 'a' ? { metrics } : { seeds: ['a'] }),
      });
    });
    for (const m of members) m.start();
    await world.runFor(3000);
    net.endpoint('b').send('a', GOSSIP_CHANNEL, new Uint8Array([0xc1]));
    world.crash('c');
    await world.runUntil(() => members[0]!.member('c')?.status === 'dead', 60_000);
    const value = (name: string, labels: Record<string, string> = {}) =>
      metrics
        .snapshot()
        .find((f) => f.name === name)
        ?.series.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('novacron_acp_gossip_members', { status: 'alive' })).toBe(2);
    expect(value('novacron_acp_gossip_members', { status: 'dead' })).toBe(1);
    expect(value('novacron_acp_gossip_member_events_total', { kind: 'dead' })).toBe(1);
    expect(value('novacron_acp_gossip_malformed_total')).toBe(1);
    expect(value('novacron_acp_gossip_local_health')).toBeGreaterThanOrEqual(0);
  });

  simTest('membership changes are available as an async stream', { seeds: 1 }, async (world) => {
    const { members } = await startCluster(world, { n: 3 });
    const ac = new AbortController();
    const got: MemberEvent[] = [];
    const reading = (async () => {
      for await (const e of members[0]!.gossip.memberEvents({ signal: ac.signal })) got.push(e);
    })();
    world.crash('m2');
    await world.runUntil(() => got.some((e) => e.kind === 'dead'), 60_000);
    ac.abort();
    await reading;
    expect(got.map((e) => e.kind)).toEqual(['suspect', 'dead']);
  });
});
