import { ManualClock, seededRng } from '@novacron/core';
import { History, type HistoryEntry, type KvInput, type KvOutput, simulateKvHistory } from '@novacron/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNovacronError } from '@novacron/testkit/vitest';

type Entry = HistoryEntry<KvInput, KvOutput>;

describe('History recorder', () => {
  it('stamps events with the injected clock and exposes operations', () => {
    const clock = new ManualClock(100);
    const h = new History<KvInput, KvOutput>(clock);
    const a = h.invoke('c1', { op: 'put', key: 'x', value: 1 });
    clock.advance(5);
    const b = h.invoke('c2', { op: 'get', key: 'x' });
    clock.advance(3);
    h.ok(a, undefined);
    clock.advance(2);
    h.ok(b, 1);
    expect([a, b]).toEqual([0, 1]);
    expect(h.length).toBe(4);
    expect(h.pending).toEqual([]);
    expect(h.operations()).toEqual([
      {
        id: 0,
        client: 'c1',
        input: { op: 'put', key: 'x', value: 1 },
        output: undefined,
        status: 'ok',
        callTime: 100,
        returnTime: 108,
        callSeq: 0,
        returnSeq: 2,
      },
      {
        id: 1,
        client: 'c2',
        input: { op: 'get', key: 'x' },
        output: 1,
        status: 'ok',
        callTime: 105,
        returnTime: 110,
        callSeq: 1,
        returnSeq: 3,
      },
    ]);
  });

  it('drops failed operations and returns unknown and pending ones at +infinity', () => {
    const clock = new ManualClock();
    const h = new History<KvInput, KvOutput>(clock);
    const failed = h.invoke('c1', { op: 'put', key: 'x', value: 1 });
    const unknown = h.invoke('c2', { op: 'put', key: 'x', value: 2 });
    const pending = h.invoke('c3', { op: 'get', key: 'x' });
    clock.advance(1);
    h.fail(failed);
    h.info(unknown);
    expect(h.pending).toEqual([pending]);
    const ops = h.operations();
    expect(ops.map((o) => o.id)).toEqual([unknown, pending]);
    for (const op of ops) {
      expect(op.status).toBe('unknown');
      expect(op.returnTime).toBe(Number.POSITIVE_INFINITY);
      expect(op.returnSeq).toBe(Number.POSITIVE_INFINITY);
      expect(op.output).toBeUndefined();
    }
  });

  it('allows a client one outstanding operation, and a new one after an unknown outcome', () => {
    const h = new History<KvInput, KvOutput>(new ManualClock());
    const a = h.invoke('c1', { op: 'get', key: 'x' });
    expectNovacronError(() => h.invoke('c1', { op: 'get', key: 'y' }), 'CORE_INVALID_STATE');
    h.unknown(a);
    const b = h.invoke('c1', { op: 'get', key: 'y' });
    expect(b).not.toBe(a);
  });

  it('rejects completing an operation twice or one never invoked', () => {
    const h = new History<KvInput, KvOutput>(new ManualClock());
    const a = h.invoke('c1', { op: 'get', key: 'x' });
    h.ok(a, null);
    expectNovacronError(() => h.ok(a, null), 'CORE_INVALID_STATE');
    expectNovacronError(() => h.fail(42), 'CORE_INVALID_STATE');
    expectNovacronError(() => h.ok(-1, null), 'CORE_INVALID_ARGUMENT');
  });

  it('needs a clock to record', () => {
    const h = new History<KvInput, KvOutput>();
    expectNovacronError(() => h.invoke('c1', { op: 'get', key: 'x' }), 'CORE_INVALID_STATE');
  });
});

describe('History.fromEntries', () => {
  it('orders entries by time, keeping the given order between equal times', () => {
    const entries: Entry[] = [
      { type: 'ok', id: 0, output: undefined, time: 5 },
      { type: 'invoke', id: 0, client: 'a', input: { op: 'put', key: 'x', value: 1 }, time: 0 },
      { type: 'invoke', id: 1, client: 'b', input: { op: 'get', key: 'x' }, time: 5 },
      { type: 'ok', id: 1, output: 1, time: 6 },
    ];
    const ops = History.fromEntries(entries).operations();
    // The put returned before the get was invoked, although both happened at t=5.
    expect(ops[0]!.returnSeq).toBeLessThan(ops[1]!.callSeq);
  });

  it('rejects malformed and impossible logs with typed errors', () => {
    const put: Entry = { type: 'invoke', id: 0, client: 'a', input: { op: 'put', key: 'x', value: 1 }, time: 0 };
    expectNovacronError(() => History.fromEntries([put, { ...put, client: 'b', time: 1 }]), 'CORE_INVALID_STATE');
    expectNovacronError(() => History.fromEntries([put, { ...put, id: 1, time: 1 }]), 'CORE_INVALID_STATE');
    expectNovacronError(() => History.fromEntries([{ type: 'ok', id: 3, output: 1, time: 0 }]), 'CORE_INVALID_STATE');
    expectNovacronError(() => History.fromEntries([{ ...put, time: Number.NaN }]), 'CORE_INVALID_ARGUMENT');
    expectNovacronError(() => History.fromEntries([{ ...put, id: 1.5 }]), 'CORE_INVALID_ARGUMENT');
    expectNovacronError(
      () => History.fromEntries([{ ...put, type: 'bogus' } as unknown as Entry]),
      'CORE_INVALID_ARGUMENT',
    );
    expectNovacronError(() => History.fromEntries([null as unknown as Entry]), 'CORE_INVALID_ARGUMENT');
    expectNovacronError(() => History.fromEntries('nope' as unknown as Entry[]), 'CORE_INVALID_ARGUMENT');
  });

  it('round-trips recorded histories through their entries', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const h = simulateKvHistory({
          rng: seededRng(seed),
          operations: 60,
          clients: 4,
          keys: 2,
          unknownRate: 0.1,
          failRate: 0.1,
        });
        const copy = History.fromEntries(h.entries());
        expect(copy.operations()).toEqual(h.operations());
        expect(copy.entries()).toEqual(h.entries());
      }),
      { numRuns: 25 },
    );
  });
});

describe('History.fromOperations', () => {
  it('treats operations that merely touch as concurrent and omitted returns as unknown', () => {
    const ops = History.fromOperations<KvInput, KvOutput>([
      { client: 'a', input: { op: 'put', key: 'x', value: 1 }, call: 0, return: 5 },
      { client: 'b', input: { op: 'get', key: 'x' }, output: null, call: 5, return: 9 },
      { client: 'c', input: { op: 'put', key: 'x', value: 2 }, call: 1 },
    ]).operations();
    const [first, read, unknown] = [0, 1, 2].map((id) => ops.find((o) => o.id === id)!);
    expect(read!.callSeq).toBeLessThan(first!.returnSeq);
    expect(unknown!.status).toBe('unknown');
    // Operations come in invocation order.
    expect(ops.map((o) => o.id)).toEqual([0, 2, 1]);
  });

  it('rejects a return before its call', () => {
    expectNovacronError(
      () => History.fromOperations([{ client: 'a', input: { op: 'get', key: 'x' }, call: 3, return: 2 }]),
      'CORE_INVALID_ARGUMENT',
    );
  });
});
