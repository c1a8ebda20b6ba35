import { seededRng } from '@novacron/core';
import { describe, expect, it } from 'vitest';
import {
  type GossipItem,
  LAN_PROFILE,
  type MemberEvent,
  Suspicion,
  SwimCore,
  type SwimMessage,
  minSuspicionTimeout,
  pushPullScale,
  remainingSuspicionTimeout,
  resolveGossipConfig,
  retransmitLimit,
} from '../../src/index.js';

function core(id = 'me', overrides = {}) {
  const c = new SwimCore({
    id,
    config: resolveGossipConfig(overrides),
    rng: seededRng(id),
    maxMessageSize: 65_000,
    now: 0,
  });
  c.start(0);
  c.takeOutput();
  return c;
}
const alive = (id: string, incarnation: number, address = ''): GossipItem => ({
  kind: 'alive',
  id,
  incarnation,
  address,
  meta: new Uint8Array(0),
});
const gossip = (...items: GossipItem[]): SwimMessage => ({ kind: 'gossip', gossip: items });
const kinds = (events: MemberEvent[]) => events.map((e) => `${e.kind}:${e.member.id}`);

describe("Lifeguard's formulas (memberlist)", () => {
  it('computes suspicion timeouts that shrink with confirmations', () => {
    expect(minSuspicionTimeout(4, 10, 1000)).toBe(4000);
    expect(minSuspicionTimeout(4, 3, 1000)).toBe(4000); // log10 is floored at 1
    expect(minSuspicionTimeout(4, 100, 1000)).toBe(8000);
    expect(minSuspicionTimeout(6, 1000, 5000)).toBe(90_000);
    // k = 3, min 2 s, max 30 s (memberlist's suspicion_test table).
    expect(remainingSuspicionTimeout(0, 3, 2000, 30_000)).toBe(30_000);
    expect(remainingSuspicionTimeout(1, 3, 2000, 30_000)).toBe(16_000);
    expect(remainingSuspicionTimeout(2, 3, 2000, 30_000)).toBe(7_810);
    expect(remainingSuspicionTimeout(3, 3, 2000, 30_000)).toBe(2000);
    expect(remainingSuspicionTimeout(5, 0, 2000, 30_000)).toBe(2000);
  });

  it('counts each confirming member once and never the accuser', () => {
    const s = new Suspicion('a', 2, 4000, 24_000, 100);
    expect(s.deadline).toBe(24_100);
    expect(s.confirm('a')).toBe(false);
    expect(s.confirm('b')).toBe(true);
    expect(s.confirm('b')).toBe(false);
    expect(s.timeout).toBeLessThan(24_000);
    expect(s.confirm('c')).toBe(true);
    expect(s.deadline).toBe(4100);
    expect(s.confirm('d')).toBe(false); // k reached
  });

  it('bounds retransmits and push-pull load by cluster size', () => {
    expect(retransmitLimit(4, 1)).toBe(4);
    expect(retransmitLimit(4, 10)).toBe(8);
    expect(retransmitLimit(4, 100)).toBe(12);
    expect(pushPullScale(30_000, 32)).toBe(30_000);
    expect(pushPullScale(30_000, 33)).toBe(60_000);
    expect(pushPullScale(30_000, 100)).toBe(90_000);
  });
});

describe('SwimCore state machine', () => {
  it('orders news by incarnation: higher wins, equal or lower is ignored', () => {
    const c = core();
    c.receive('x', gossip(alive('a', 5)), 1);
    c.receive('x', gossip({ kind: 'suspect', id: 'a', incarnation: 4, from: 'x' }), 2);
    expect(c.member('a')?.status).toBe('alive');
    c.receive('x', gossip({ kind: 'suspect', id: 'a', incarnation: 5, from: 'x' }), 3);
    expect(c.member('a')?.status).toBe('suspect');
    c.receive('x', gossip(alive('a', 5)), 4); // same incarnation cannot clear a suspicion
    expect(c.member('a')?.status).toBe('suspect');
    c.receive('x', gossip(alive('a', 6)), 5); // the refutation
    expect(c.member('a')?.status).toBe('alive');
    c.receive('x', gossip({ kind: 'dead', id: 'a', incarnation: 5, from: 'x' }), 6);
    expect(c.member('a')?.status).toBe('alive');
    c.receive('x', gossip({ kind: 'dead', id: 'a', incarnation: 6, from: 'x' }), 7);
    expect(c.member('a')?.status).toBe('dead');
    c.receive('x', gossip(alive('a', 6)), 8); // a dead member must come back with a higher incarnation
    expect(c.member('a')?.status).toBe('dead');
    c.receive('x', gossip(alive('a', 7)), 9);
    expect(c.member('a')?.status).toBe('alive');
    expect(kinds(c.takeOutput().events)).toEqual(['join:a', 'suspect:a', 'alive:a', 'dead:a', 'join:a']);
  });

  it('refutes a suspicion or death notice about itself by outbidding the incarnation', () => {
    const c = core();
    c.receive('x', gossip(alive('x', 1)), 1);
    c.takeOutput();
    c.receive('x', gossip({ kind: 'suspect', id: 'me', incarnation: 0, from: 'x' }), 2);
    expect(c.incarnation).toBe(1);
    expect(c.localHealth).toBe(1); // Lifeguard: being accused suggests we are the slow one
    c.receive('x', gossip({ kind: 'dead', id: 'me', incarnation: 7, from: 'x' }), 3);
    expect(c.incarnation).toBe(8);
    expect(c.member('me')?.status).toBe('alive');
    expect(c.stats.refutations).toBe(2);
    // The refutation rides on the next datagram.
    c.receive('x', { kind: 'ping', seq: 1, target: 'me', gossip: [] }, 4);
    const ack = c.takeOutput().messages.find((m) => m.message.kind === 'ack')!;
    expect(ack.message.gossip).toContainEqual(alive('me', 8));
  });

  it('ignores a suspicion of a member it does not know and a ping meant for someone else', () => {
    const c = core();
    c.receive('x', gossip({ kind: 'suspect', id: 'ghost', incarnation: 3, from: 'x' }), 1);
    expect(c.member('ghost')).toBeUndefined();
    c.receive('x', { kind: 'ping', seq: 1, target: 'not-me', gossip: [] }, 2);
    expect(c.takeOutput().messages.filter((m) => m.message.kind === 'ack')).toEqual([]);
  });

  it('raises a suspicion when a probe and its indirect probes fail, and lowers health when probes succeed', () => {
    const c = core('me', { indirectChecks: 2 });
    for (const id of ['a', 'b', 'c']) c.receive(id, gossip(alive(id, 1)), 0);
    c.takeOutput();
    // Drive one probe round by hand: nobody answers anything.
    let t = 0;
    let probed: string | undefined;
    while (probed === undefined) {
      t = c.nextDeadline()!;
      c.advance(t);
      probed = c.takeOutput().messages.find((m) => m.message.kind === 'ping')?.to;
    }
    c.advance(t + 500);
    const reqs = c.takeOutput().messages.filter((m) => m.message.kind === 'ping-req');
    expect(reqs).toHaveLength(2);
    expect(reqs.every((r) => r.to !== probed && (r.message as { nack: boolean }).nack)).toBe(true);
    // One helper nacks (it is alive but cannot reach the target), the other stays silent.
    const seq = (reqs[0]!.message as { seq: number }).seq;
    c.receive(reqs[0]!.to, { kind: 'nack', seq, gossip: [] }, t + 900);
    c.advance(t + 1000);
    expect(c.member(probed)?.status).toBe('suspect');
    expect(c.localHealth).toBe(1); // one missed nack
    expect(kinds(c.takeOutput().events)).toEqual([`suspect:${probed}`]);
  });

  it('with Lifeguard, confirmations from other members shorten the suspicion to the minimum', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const run = (confirmers: string[]) => {
      const c = core();
      for (const id of ids) c.receive(id, gossip(alive(id, 1)), 0);
      c.receive('b', gossip({ kind: 'suspect', id: 'a', incarnation: 1, from: 'b' }), 1000);
      for (const f of confirmers) c.receive(f, gossip({ kind: 'suspect', id: 'a', incarnation: 1, from: f }), 1500);
      let deadAt: number | undefined;
      for (let t = 1000; deadAt === undefined && t < 60_000; t += 10) {
        c.advance(t);
        // Everyone answers this member's probes, so only the confirmations above count.
        for (const m of c.takeOutput().messages) {
          if (m.message.kind === 'ping') c.receive(m.to, { kind: 'ack', seq: m.message.seq, gossip: [] }, t);
        }
        if (c.member('a')?.status === 'dead') deadAt = t;
      }
      return deadAt! - 1000;
    };
    // n = 10, mult 4: min 4 s, max 24 s, k = 2.
    expect(run([])).toBeGreaterThanOrEqual(24_000);
    expect(run([])).toBeLessThan(24_100);
    const one = run(['c']);
    expect(one).toBeGreaterThan(4000);
    expect(one).toBeLessThan(24_000);
    expect(run(['c', 'd'])).toBeLessThan(4100);
    expect(run(['c', 'c', 'b'])).toBe(one); // repeats and the accuser do not count
  });

  it('without Lifeguard, a suspicion lasts the fixed minimum and probes carry no buddy notice', () => {
    const c = core('me', { lifeguard: false });
    for (const id of ['a', 'b']) c.receive(id, gossip(alive(id, 1)), 0);
    c.receive('b', gossip({ kind: 'suspect', id: 'a', incarnation: 1, from: 'b' }), 0);
    c.advance(4000);
    expect(c.member('a')?.status).toBe('dead');
    expect(c.localHealth).toBe(0);
  });

  it('relays indirect probes and nacks when the target stays silent', () => {
    const c = core();
    c.receive('origin', gossip(alive('origin', 1), alive('t', 1)), 0);
    c.takeOutput();
    c.receive('origin', { kind: 'ping-req', seq: 42, target: 't', nack: true, gossip: [] }, 10);
    const ping = c.takeOutput().messages.find((m) => m.message.kind === 'ping')!;
    expect(ping.to).toBe('t');
    c.advance(10 + 400);
    const nack = c.takeOutput().messages.find((m) => m.message.kind === 'nack')!;
    expect(nack).toMatchObject({ to: 'origin', message: { seq: 42 } });
    // A second request whose target answers in time is relayed as an ack.
    c.receive('origin', { kind: 'ping-req', seq: 43, target: 't', nack: true, gossip: [] }, 500);
    const ping2 = c.takeOutput().messages.find((m) => m.message.kind === 'ping')!;
    c.receive('t', { kind: 'ack', seq: (ping2.message as { seq: number }).seq, gossip: [] }, 505);
    expect(c.takeOutput().messages.find((m) => m.message.kind === 'ack')).toMatchObject({
      to: 'origin',
      message: { seq: 43 },
    });
  });

  it('push-pull merges full state: alive joins, remote dead only as suspect', () => {
    const c = core();
    c.receive(
      'peer',
      {
        kind: 'push-pull',
        join: false,
        reply: false,
        members: [
          { id: 'peer', address: 'h:1', incarnation: 3, status: 'alive', meta: new Uint8Array(0) },
          { id: 'x', address: 'h:2', incarnation: 1, status: 'dead', meta: new Uint8Array(0) },
          { id: 'y', address: 'h:3', incarnation: 2, status: 'left', meta: new Uint8Array(0) },
          { id: 'z', address: 'h:4', incarnation: 2, status: 'alive', meta: new Uint8Array(0) },
        ],
        events: [{ origin: 'peer', ltime: 41, name: 'deploy', payload: new Uint8Array([1]) }],
        ltime: 42,
        gossip: [],
      },
      5,
    );
    expect(c.member('peer')?.status).toBe('alive');
    expect(c.member('x')?.status).toBe('suspect');
    expect(c.member('z')?.address).toBe('h:4');
    expect(c.eventTime).toBe(43);
    const out = c.takeOutput();
    expect(out.userEvents.map((e) => e.name)).toEqual(['deploy']);
    expect(out.addresses).toContainEqual(['z', 'h:4']);
    const reply = out.messages.find((m) => m.message.kind === 'push-pull')!;
    expect(reply.to).toBe('peer');
    const body = reply.message as Extract<SwimMessage, { kind: 'push-pull' }>;
    expect(body.reply).toBe(true);
    // Like memberlist, the reply carries the state from before the merge (the sender knows its own).
    expect(body.members.map((m) => m.id)).toEqual(['me']);
    c.receive('peer', { ...body, reply: false, members: [], events: [] }, 6);
    const again = c.takeOutput().messages.find((m) => m.message.kind === 'push-pull')!.message as typeof body;
    // A member we never knew that has already left is not worth learning.
    expect(again.members.map((m) => m.id).sort()).toEqual(['me', 'peer', 'x', 'z']);
  });

  it('answers a restarted member at the address it now claims, so it can learn it was dead and refute', () => {
    const c = core();
    c.receive('x', gossip(alive('x', 5, 'old:1'), { kind: 'dead', id: 'x', incarnation: 5, from: 'y' }), 1);
    c.takeOutput();
    const snap = (id: string, address: string, incarnation: number) => ({
      id,
      address,
      incarnation,
      status: 'alive' as const,
      meta: new Uint8Array(0),
    });
    c.receive(
      'x',
      {
        kind: 'push-pull',
        join: true,
        reply: false,
        members: [snap('x', 'new:2', 0)],
        events: [],
        ltime: 0,
        gossip: [],
      },
      2,
    );
    const out = c.takeOutput();
    expect(out.addresses).toEqual([['x', 'new:2']]);
    const reply = out.messages.find((m) => m.message.kind === 'push-pull')!;
    expect(reply.to).toBe('x');
    expect(
      (reply.message as Extract<SwimMessage, { kind: 'push-pull' }>).members.find((m) => m.id === 'x'),
    ).toMatchObject({
      status: 'dead',
      incarnation: 5,
    });
    expect(c.member('x')?.status).toBe('dead'); // until x refutes with incarnation 6
    c.receive('x', gossip(alive('x', 6, 'new:2')), 3);
    expect(c.member('x')).toMatchObject({ status: 'alive', address: 'new:2' });
  });

  it('refuses hostile counters at the top of the range', () => {
    const c = core();
    c.receive('x', gossip({ kind: 'suspect', id: 'me', incarnation: Number.MAX_SAFE_INTEGER, from: 'x' }), 1);
    expect(c.incarnation).toBe(0);
    c.receive(
      'x',
      { kind: 'push-pull', join: false, reply: true, members: [], events: [], ltime: 2 ** 50, gossip: [] },
      2,
    );
    expect(c.eventTime).toBe(0);
  });

  it('delivers each user event once and advances the Lamport clock', () => {
    const c = core();
    const e = { kind: 'event' as const, origin: 'o', ltime: 10, name: 'n', payload: new Uint8Array([1]) };
    c.receive('a', gossip(e), 1);
    c.receive('b', gossip(e), 2);
    c.receive('b', gossip({ ...e, payload: new Uint8Array([2]) }), 3);
    expect(c.takeOutput().userEvents).toHaveLength(2);
    expect(c.eventTime).toBe(11);
    const own = c.broadcastEvent('mine', new Uint8Array(0), 4);
    expect(own.ltime).toBe(11);
    expect(c.eventTime).toBe(12);
    // Far-future Lamport times are refused.
    c.receive('a', gossip({ ...e, ltime: 2 ** 40 }), 5);
    expect(c.eventTime).toBe(12);
  });

  it('bounds members against floods', () => {
    const c = core('me', { maxMembers: 5 });
    for (let i = 0; i < 20; i++) c.receive('x', gossip(alive(`m${i}`, 1)), i);
    expect(c.members()).toHaveLength(5);
  });

  it('forgets dead members after gossipToTheDead', () => {
    const c = core('me', { gossipToTheDeadMs: 1000 });
    c.receive('x', gossip(alive('a', 1), { kind: 'dead', id: 'a', incarnation: 1, from: 'x' }), 0);
    expect(c.member('a')?.status).toBe('dead');
    for (let t = 0; t < 20_000; t += 100) c.advance(t);
    expect(c.member('a')).toBeUndefined();
  });
});

it('LAN profile is memberlist DefaultLANConfig', () => {
  expect(LAN_PROFILE).toMatchObject({
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    suspicionMult: 4,
  });
});
