import { CoreErrorCode, seededRng } from '@novacron/core';
import { PartitionTable, SimWorld, majorityMinority } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';

const matrix = (t: PartitionTable, nodes: string[]) =>
  nodes.map((a) => nodes.map((b) => (t.reachable(a, b) ? 1 : 0)).join('')).join(' ');

describe('PartitionTable', () => {
  const nodes = ['a', 'b', 'c', 'd', 'e'];

  it('starts fully connected', () => {
    const t = new PartitionTable();
    expect(t.partitioned).toBe(false);
    expect(matrix(t, nodes)).toBe('11111 11111 11111 11111 11111');
  });

  it('split cuts every pair across groups both ways and keeps pairs within a group', () => {
    const t = new PartitionTable();
    t.split([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
    expect(matrix(t, nodes)).toBe('11100 11100 11100 00011 00011');
    expect(t.partitioned).toBe(true);
  });

  it('split leaves nodes named in no group connected to everyone', () => {
    const t = new PartitionTable();
    t.split([['a'], ['b']]);
    expect(t.reachable('a', 'b')).toBe(false);
    expect(t.reachable('c', 'a')).toBe(true);
    expect(t.reachable('b', 'c')).toBe(true);
  });

  it('oneWay blocks only the given direction', () => {
    const t = new PartitionTable();
    t.oneWay(['a'], ['b', 'c']);
    expect(t.reachable('a', 'b')).toBe(false);
    expect(t.reachable('a', 'c')).toBe(false);
    expect(t.reachable('b', 'a')).toBe(true);
    expect(t.reachable('c', 'a')).toBe(true);
    expect(t.reachable('b', 'c')).toBe(true);
  });

  it('bridge: the sides cannot talk, the bridge talks to both', () => {
    const t = new PartitionTable();
    t.bridge('c', ['a', 'b'], ['d', 'e']);
    expect(matrix(t, nodes)).toBe('11100 11100 11111 00111 00111');
  });

  it('isolate cuts one node off both ways', () => {
    const t = new PartitionTable();
    t.isolate('c', nodes);
    expect(matrix(t, nodes)).toBe('11011 11011 00100 11011 11011');
  });

  it('cuts accumulate until heal, which removes them all', () => {
    const t = new PartitionTable();
    t.oneWay(['a'], ['b']);
    t.split([['c'], ['d']]);
    expect(t.blockedLinks()).toEqual([
      { from: 'a', to: 'b' },
      { from: 'c', to: 'd' },
      { from: 'd', to: 'c' },
    ]);
    t.heal();
    expect(t.partitioned).toBe(false);
    expect(matrix(t, nodes)).toBe('11111 11111 11111 11111 11111');
  });

  it('block and unblock act on a single direction', () => {
    const t = new PartitionTable();
    t.block('a', 'b');
    expect(t.reachable('a', 'b')).toBe(false);
    expect(t.reachable('b', 'a')).toBe(true);
    t.unblock('a', 'b');
    expect(t.reachable('a', 'b')).toBe(true);
    expect(t.partitioned).toBe(false);
  });

  it('a node always reaches itself', () => {
    const t = new PartitionTable();
    t.block('a', 'a');
    t.split([['a'], ['b']]);
    expect(t.reachable('a', 'a')).toBe(true);
  });

  it('notifies listeners on every change until they unsubscribe', () => {
    const t = new PartitionTable();
    const seen: boolean[] = [];
    const off = t.onChange((table) => seen.push(table.reachable('a', 'b')));
    t.block('a', 'b');
    t.heal();
    off();
    t.block('a', 'b');
    expect(seen).toEqual([false, true]);
  });

  it('rejects malformed input with CORE_INVALID_ARGUMENT', () => {
    const t = new PartitionTable();
    const bad = [
      () => t.split([['a'], ['a', 'b']]),
      () => t.split('ab' as never),
      () => t.split([['a', 3 as never]]),
      () => t.oneWay(['a'], [''] as never),
      () => t.bridge('a', ['a'], ['b']),
      () => t.block('', 'b'),
    ];
    for (const f of bad) expect(f).toThrow(expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }));
  });
});

describe('majorityMinority', () => {
  it('splits into a strict majority and the rest, covering every node once', () => {
    for (const n of [2, 3, 4, 5, 6, 7]) {
      const ids = Array.from({ length: n }, (_, i) => `n${i}`);
      const [maj, min] = majorityMinority(ids, seededRng(n));
      expect(maj.length).toBe(Math.floor(n / 2) + 1);
      expect([...maj, ...min].sort()).toEqual([...ids].sort());
    }
  });

  it('is deterministic per seed and varies across seeds', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    expect(majorityMinority(ids, seededRng(1))).toEqual(majorityMinority(ids, seededRng(1)));
    const shapes = new Set(Array.from({ length: 20 }, (_, s) => majorityMinority(ids, seededRng(s))[1].join()));
    expect(shapes.size).toBeGreaterThan(3);
  });
});

describe('world.partitions and world.reachable', () => {
  it('records partition changes in the trace and combines cuts with node liveness', () => {
    const world = new SimWorld({ seed: 1, keepTrace: 100 });
    for (const id of ['a', 'b', 'c']) world.addNode(id);
    world.partitions.oneWay(['a'], ['b']);
    expect(world.reachable('a', 'b')).toBe(false);
    expect(world.reachable('b', 'a')).toBe(true);
    world.crash('c');
    expect(world.reachable('a', 'c')).toBe(false);
    expect(world.reachable('a', 'nobody')).toBe(false);
    world.restart('c');
    expect(world.reachable('a', 'c')).toBe(true);
    const kinds = world.trace.events.map((e) => `${e.kind}:${e.fields.op ?? ''}`);
    expect(kinds).toContain('partition:one-way');
  });
});
