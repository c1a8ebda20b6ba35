import { describe, expect, it } from 'vitest';
import { CoreCluster, logOf } from './raft-harness.js';

const restore = (terms: number[], term: number, commit = 0) => ({
  restore: { hardState: { term, vote: null, commit }, snapshot: { index: 0, term: 0 }, entries: logOf(terms) },
});

describe('Raft paper scenarios', () => {
  it('elects exactly one leader and every node learns it', () => {
    const c = new CoreCluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.leaders().map((n) => n.id)).toEqual(['a']);
    for (const n of c.nodes.values()) expect(n.leader).toBe('a');
    // The new leader's no-op commits everywhere.
    expect(c.node('b').log.committed).toBe(1);
  });

  // Figure 7: a leader at term 8 and followers (a)-(f) with missing,
  // extra and conflicting entries; replication must make every log equal
  // to the leader's.
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  for (const [name, log] of Object.entries(followers)) {
    it(`Figure 7 case (${name}): the follower's log converges to the leader's`, () => {
      const c = new CoreCluster(['L', 'F', 'X'], (id) => (id === 'F' ? restore(log, 7) : restore(leaderLog, 7)));
      c.elect('L');
      expect(c.node('L').role).toBe('leader');
      expect(c.node('L').term).toBe(8);
      c.tickAll(3);
      expect(c.terms('F')).toEqual([...leaderLog, 8]);
      expect(c.node('F').log.committed).toBe(11);
    });
  }

  it('fast back-tracking repairs a long conflicting suffix in few round trips', () => {
    const long = Array.from({ length: 500 }, () => 3);
    const c = new CoreCluster(['L', 'F', 'X'], (id) =>
      id === 'F' ? restore([1, 2, ...long], 5) : restore([1, ...Array.from({ length: 300 }, () => 4)], 5),
    );
    c.elect('L');
    c.tickAll(2);
    expect(c.terms('F')).toEqual(c.terms('L'));
    // One probe per term of conflict, not one per entry.
    expect(c.delivered).toBeLessThan(60);
  });

  it('Figure 8: an entry of an older term is not committed by counting replicas', () => {
    // L holds index 2 from term 2; it becomes leader of term 4 and copies
    // index 2 to F1. A majority holds it, yet it must stay uncommitted until
    // the term-4 no-op after it is on a majority too.
    const c = new CoreCluster(['L', 'F1', 'F2'], (id) =>
      id === 'L' ? { ...restore([1, 2], 3, 1), maxBatchBytes: 1 } : restore([1], 3, 1),
    );
    c.isolate('F2');
    const l = c.node('L');
    for (let i = 0; i < 100 && l.role === 'follower'; i++) l.tick();
    let sawOldEntryOnMajority = false;
    for (let i = 0; i < 1000; i++) {
      const match = l.role === 'leader' ? (l.matchIndex('F1') ?? 0) : 0;
      if (match === 2) {
        sawOldEntryOnMajority = true;
        expect(c.node('L').log.committed).toBe(1);
      }
      if (!c.deliverOne()) break;
    }
    expect(sawOldEntryOnMajority).toBe(true);
    expect(c.node('L').log.committed).toBe(3);
  });

  it('election restriction: a candidate with a stale log cannot win', () => {
    const c = new CoreCluster(['A', 'B', 'C'], (id) => (id === 'B' ? restore([1], 2) : restore([1, 2], 2)));
    const b = c.node('B');
    for (let i = 0; i < 100 && b.role === 'follower'; i++) {
      b.tick();
      c.collect();
    }
    c.settle();
    expect(b.role).not.toBe('leader');
    // With pre-vote the failed campaign did not even raise the term.
    expect(b.term).toBe(2);
    expect(c.node('A').term).toBe(2);
    // Without pre-vote it raises the term but still loses.
    const d = new CoreCluster(['A', 'B', 'C'], (id) => ({
      ...(id === 'B' ? restore([1], 2) : restore([1, 2], 2)),
      preVote: false,
    }));
    d.elect('B');
    expect(d.node('B').role).not.toBe('leader');
  });

  it('pre-vote: a rejoining partitioned node does not disrupt the leader', () => {
    const c = new CoreCluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('c');
    c.tickAll(100); // c keeps timing out alone
    const term = c.node('a').term;
    expect(c.node('c').term).toBe(term);
    c.heal();
    c.tickAll(5);
    expect(c.node('a').role).toBe('leader');
    expect(c.node('a').term).toBe(term);
  });

  it('check-quorum: a leader cut off from its quorum steps down', () => {
    const c = new CoreCluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('a');
    c.tickAll(80);
    expect(c.node('a').role).not.toBe('leader');
    expect(c.leaders().length).toBe(1);
    expect(c.leaders()[0]!.id).not.toBe('a');
  });

  it('check-quorum lease: followers ignore a disruptive candidate while the leader is alive', () => {
    const c = new CoreCluster(['a', 'b', 'c'], () => ({ preVote: false }));
    c.elect('a');
    const term = c.node('a').term;
    // c alone cannot hear the leader, campaigns at ever higher terms...
    c.cut.add('a>c');
    c.tickAll(30);
    // ...but b, which hears the leader, ignores its votes: a stays leader.
    expect(c.node('a').role).toBe('leader');
    expect(c.node('b').term).toBe(term);
  });

  it('leadership transfer hands over to a caught-up follower', () => {
    const c = new CoreCluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').propose(new Uint8Array([9]));
    c.settle();
    expect(c.node('a').transferLeadership('b')).toBe(true);
    c.settle();
    expect(c.node('b').role).toBe('leader');
    expect(c.node('a').role).toBe('follower');
  });

  it('ReadIndex: a leader confirms reads with a quorum, followers forward them', () => {
    const c = new CoreCluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').propose(new Uint8Array([1]));
    c.settle();
    const reads: { ctx: number; index: number }[] = [];
    const collect = () => {
      for (const n of c.nodes.values()) {
        while (n.hasReady()) {
          const rd = n.ready();
          c.queue.push(...rd.messages);
          reads.push(...rd.reads);
          n.advance(rd);
        }
      }
    };
    c.node('a').readIndex(7);
    c.node('b').readIndex(8);
    for (let i = 0; i < 100; i++) {
      collect();
      const m = c.queue.shift();
      if (!m) break;
      c.node(m.to).step(m);
    }
    collect();
    expect(reads.map((r) => r.ctx).sort()).toEqual([7, 8]);
    for (const r of reads) expect(r.index).toBe(2);
    // A leader cut off from the quorum cannot confirm a read.
    c.isolate('a');
    c.node('a').readIndex(9);
    c.settle();
    collect();
    expect(reads.some((r) => r.ctx === 9)).toBe(false);
  });

  it('InstallSnapshot: a follower behind the compacted log catches up from chunks, resuming after losses', () => {
    const c = new CoreCluster(['a', 'b', 'c'], () => ({ snapshotChunkBytes: 16 }));
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 10; i++) a.propose(new Uint8Array([i]));
    c.settle();
    c.isolate('c');
    for (let i = 0; i < 20; i++) a.propose(new Uint8Array([i]));
    c.settle();
    const data = Uint8Array.from({ length: 200 }, (_, i) => i);
    const index = a.log.applied;
    a.setSnapshot({ index, term: a.term, data });
    expect(a.log.firstIndex()).toBe(index + 1);
    for (let i = 0; i < 5; i++) a.propose(new Uint8Array([i]));
    c.settle();
    c.heal();
    let chunks = 0;
    c.dropIf = (m) => m.kind === 'snapshot' && ++chunks % 3 === 0; // lose every third chunk
    c.tickAll(40);
    expect(chunks).toBeGreaterThan(13); // 200 bytes in 16-byte chunks, plus resends
    expect(c.installed.get('c')).toEqual(data);
    expect(c.node('c').log.snapshot().index).toBe(index);
    expect(c.node('c').log.committed).toBe(a.log.committed);
    expect(c.terms('c')).toEqual(c.terms('a'));
  });
});
