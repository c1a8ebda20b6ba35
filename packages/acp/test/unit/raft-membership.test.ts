import { encodeMsgpack, isNovacronError, seededRng } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AcpErrorCode } from '../../src/errors.js';
import { EntryKind, RaftCore } from '../../src/raft/core.js';
import { applyMembershipChange, decodeMembership, encodeMembership } from '../../src/raft/membership.js';
import { CoreCluster } from './raft-harness.js';

const cmd = (n: number) => new Uint8Array([n]);

/** A three-voter cluster led by `a`, plus a joining node `d` that knows nothing yet. */
function cluster(): CoreCluster {
  const c = new CoreCluster(['a', 'b', 'c']);
  c.nodes.set('d', new RaftCore({ id: 'd', voters: ['a', 'b', 'c'], rng: seededRng('1/d') }));
  c.applied.set('d', []);
  c.elect('a');
  expect(c.node('a').role).toBe('leader');
  return c;
}

function busy(fn: () => unknown): void {
  expect(fn).toThrowError(expect.objectContaining({ code: AcpErrorCode.RAFT_MEMBERSHIP_BUSY }));
}

describe('raft membership (single-server changes)', () => {
  it('adds a learner that catches up, then promotes it to voter', () => {
    const c = cluster();
    const a = c.node('a');
    a.propose(cmd(1));
    c.settle();
    const add = a.proposeMembership({ type: 'add-learner', id: 'd' })!;
    c.settle();
    expect(a.learners).toEqual(['d']);
    expect(c.node('d').learners).toEqual(['d']);
    expect(c.node('d').log.lastIndex()).toBe(a.log.lastIndex());
    expect(c.node('d').log.committed).toBeGreaterThanOrEqual(add.index);
    a.proposeMembership({ type: 'promote', id: 'd' });
    c.settle();
    for (const id of ['a', 'b', 'c', 'd']) {
      expect(c.node(id).voters).toEqual(['a', 'b', 'c', 'd']);
      expect(c.node(id).learners).toEqual([]);
    }
    // Four voters: a majority is three.
    c.isolate('c');
    c.isolate('d');
    const before = a.log.committed;
    a.propose(cmd(2));
    c.settle();
    expect(a.log.committed).toBe(before);
    c.heal();
    c.tickAll(2);
    expect(a.log.committed).toBeGreaterThan(before);
  });

  it('a learner neither counts for quorum nor campaigns', () => {
    const c = cluster();
    const a = c.node('a');
    a.proposeMembership({ type: 'add-learner', id: 'd' });
    c.settle();
    c.isolate('b');
    c.isolate('c');
    const before = a.log.committed;
    a.propose(cmd(1));
    c.settle();
    expect(c.node('d').log.lastIndex()).toBe(a.log.lastIndex());
    expect(a.log.committed).toBe(before); // a + d is not a majority of {a, b, c}
    // Without a leader the learner never campaigns.
    c.isolate('a');
    for (let i = 0; i < 100; i++) c.node('d').tick();
    c.collect();
    expect(c.node('d').role).toBe('follower');
    expect(c.node('d').term).toBe(a.term);
  });

  it('a configuration takes effect on append, before it commits', () => {
    const c = cluster();
    const a = c.node('a');
    c.dropIf = (m) => m.kind === 'append-resp';
    a.proposeMembership({ type: 'add-learner', id: 'd' });
    c.settle();
    expect(a.membershipPending).toBe(true);
    expect(c.node('b').learners).toEqual(['d']);
    expect(c.node('b').log.committed).toBeLessThan(a.log.lastIndex());
  });

  it('refuses a change while another is pending', () => {
    const c = cluster();
    const a = c.node('a');
    c.isolate('b');
    c.isolate('c');
    a.proposeMembership({ type: 'add-learner', id: 'd' });
    c.settle();
    busy(() => a.proposeMembership({ type: 'remove', id: 'c' }));
    c.heal();
    c.tickAll(2);
    expect(a.membershipPending).toBe(false);
    expect(a.proposeMembership({ type: 'remove', id: 'c' })).toBeDefined();
  });

  it('a new leader proposes no change before committing an entry of its term', () => {
    const c = new CoreCluster(['a', 'b', 'c']);
    c.dropIf = (m) => m.kind === 'append-resp';
    c.elect('a');
    const a = c.node('a');
    expect(a.role).toBe('leader');
    busy(() => a.proposeMembership({ type: 'add-learner', id: 'd' }));
    c.dropIf = () => false;
    c.tickAll(2);
    expect(a.proposeMembership({ type: 'add-learner', id: 'd' })).toBeDefined();
  });

  it('refuses to promote a learner that has not caught up', () => {
    const c = cluster();
    const a = c.node('a');
    c.isolate('d');
    a.proposeMembership({ type: 'add-learner', id: 'd' });
    c.settle();
    expect(a.membershipPending).toBe(false);
    busy(() => a.proposeMembership({ type: 'promote', id: 'd' }));
    c.heal();
    c.tickAll(2);
    expect(a.proposeMembership({ type: 'promote', id: 'd' })).toBeDefined();
  });

  it('a removed leader steps down once the change commits and never campaigns', () => {
    const c = cluster();
    const a = c.node('a');
    a.proposeMembership({ type: 'remove', id: 'a' });
    c.settle();
    expect(a.role).toBe('follower');
    expect(c.node('b').voters).toEqual(['b', 'c']);
    c.tickAll(60);
    const leaders = c.leaders().map((n) => n.id);
    expect(leaders).toHaveLength(1);
    expect(['b', 'c']).toContain(leaders[0]);
    expect(a.role).toBe('follower');
    // The new two-voter group commits without a.
    const lead = c.leaders()[0]!;
    const at = lead.propose(cmd(9))!;
    c.settle();
    expect(lead.log.committed).toBeGreaterThanOrEqual(at.index);
  });

  it('a removed follower stops receiving the log', () => {
    const c = cluster();
    const a = c.node('a');
    a.proposeMembership({ type: 'remove', id: 'c' });
    c.settle();
    const last = c.node('c').log.lastIndex();
    a.propose(cmd(1));
    c.tickAll(3);
    expect(c.node('c').log.lastIndex()).toBe(last);
    expect(a.log.committed).toBe(a.log.lastIndex());
  });

  it('an overwritten uncommitted configuration is rolled back', () => {
    const c = cluster();
    const a = c.node('a');
    // a appends a change nobody else hears of: it cannot commit.
    c.isolate('a');
    a.proposeMembership({ type: 'add-learner', id: 'd' });
    c.settle();
    expect(a.learners).toEqual(['d']);
    // c takes over; once a rejoins, its uncommitted change is overwritten.
    c.tickAll(40);
    const lead = c.leaders().find((n) => n.id !== 'a')!;
    expect(lead).toBeDefined();
    c.heal();
    c.tickAll(5);
    expect(a.role).toBe('follower');
    expect(a.log.term(a.log.lastIndex())).toBe(lead.term);
    expect(a.learners).toEqual([]);
    expect(a.voters).toEqual(['a', 'b', 'c']);
  });

  it('a snapshot carries the configuration to a member that joins after compaction', () => {
    const c = cluster();
    const a = c.node('a');
    a.proposeMembership({ type: 'remove', id: 'c' });
    c.settle();
    for (let i = 0; i < 5; i++) a.propose(cmd(i));
    c.settle();
    a.setSnapshot({ index: a.log.applied, term: a.log.term(a.log.applied)!, data: new Uint8Array([7]) });
    expect(a.snapshot?.config).toEqual({ voters: ['a', 'b'], learners: [] });
    a.proposeMembership({ type: 'add-learner', id: 'd' });
    c.settle();
    c.tickAll(2);
    expect(c.installed.get('d')).toEqual(new Uint8Array([7]));
    expect(c.node('d').voters).toEqual(['a', 'b']);
    expect(c.node('d').learners).toEqual(['d']);
    expect(c.node('d').log.lastIndex()).toBe(a.log.lastIndex());
  });

  it('validates changes and configuration entries', () => {
    const m = { voters: ['a'], learners: ['l'] };
    const invalid = expect.objectContaining({ code: AcpErrorCode.RAFT_MEMBERSHIP_INVALID });
    expect(() => applyMembershipChange(m, { type: 'add-learner', id: 'a' })).toThrowError(invalid);
    expect(() => applyMembershipChange(m, { type: 'promote', id: 'a' })).toThrowError(invalid);
    expect(() => applyMembershipChange(m, { type: 'remove', id: 'a' })).toThrowError(invalid);
    expect(() => applyMembershipChange(m, { type: 'remove', id: 'x' })).toThrowError(invalid);
    expect(applyMembershipChange(m, { type: 'promote', id: 'l' })).toEqual({ voters: ['a', 'l'], learners: [] });
    expect(decodeMembership(encodeMembership(m))).toEqual(m);
    const bad = expect.objectContaining({ code: AcpErrorCode.RAFT_PROTOCOL_VIOLATION });
    expect(() => decodeMembership(new Uint8Array([0xc1]))).toThrowError(bad);
    expect(() => decodeMembership(encodeMembership({ voters: ['a', 'a'], learners: [] }))).toThrowError(bad);
    expect(() => decodeMembership(encodeMembership({ voters: [], learners: ['a'] }))).toThrowError(bad);
    expect(EntryKind.CONFIG).toBe(2);
  });

  it('decodeMembership returns a valid configuration or a typed error for any input', () => {
    const member = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant(null));
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.tuple(fc.array(member, { maxLength: 4 }), fc.array(member, { maxLength: 4 })).map((v) => encodeMsgpack(v)),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        try {
          const m = decodeMembership(bytes);
          const all = [...m.voters, ...m.learners];
          expect(m.voters.length).toBeGreaterThan(0);
          expect(new Set(all).size).toBe(all.length);
          for (const id of all) expect(typeof id === 'string' && id.length > 0).toBe(true);
        } catch (err) {
          expect(isNovacronError(err, AcpErrorCode.RAFT_PROTOCOL_VIOLATION)).toBe(true);
        }
      }),
      { numRuns: 500, seed: 6 },
    );
  });

  it('a follower drops an InstallSnapshot whose framing is not [voters, learners, state]', () => {
    const f = new RaftCore({ id: 'b', voters: ['a', 'b'], rng: seededRng('x') });
    const snap = (data: Uint8Array) => ({
      kind: 'snapshot' as const,
      from: 'a',
      to: 'b',
      term: 1,
      index: 5,
      logTerm: 1,
      entries: [],
      commit: 0,
      reject: false,
      hint: 0,
      ctx: 0,
      transfer: false,
      offset: 0,
      data,
      done: true,
    });
    expect(() => f.step(snap(new Uint8Array([1, 2, 3])))).toThrowError(
      expect.objectContaining({ code: AcpErrorCode.RAFT_PROTOCOL_VIOLATION }),
    );
    expect(f.log.lastIndex()).toBe(0);
    f.step(snap(encodeMsgpack([['a', 'b'], [], new Uint8Array([9])])));
    expect(f.log.lastIndex()).toBe(5);
    expect(f.ready().snapshot).toEqual({
      index: 5,
      term: 1,
      data: new Uint8Array([9]),
      config: { voters: ['a', 'b'], learners: [] },
    });
  });
});
