import { isNovacronError, seededRng } from '@novacron/core';
import {
  History,
  type HistoryEntry,
  type HistoryOperation,
  type HistoryOperationSpec,
  type KvInput,
  type KvOutput,
  type KvValue,
  type LinearizabilityResult,
  type Model,
  UNKNOWN_OUTPUT,
  WHOLE_HISTORY_KEY,
  checkLinearizability,
  kvModel,
  simulateKvHistory,
} from '@novacron/testkit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

type Spec = HistoryOperationSpec<KvInput, KvOutput>;
type Op = HistoryOperation<KvInput, KvOutput>;

const put = (client: string, key: string, value: number, call: number, ret?: number): Spec => ({
  client,
  input: { op: 'put', key, value },
  call,
  ...(ret === undefined ? {} : { return: ret }),
});
const get = (client: string, key: string, output: number | null, call: number, ret?: number): Spec => ({
  client,
  input: { op: 'get', key },
  output,
  call,
  ...(ret === undefined ? {} : { return: ret }),
});
const cas = (
  client: string,
  key: string,
  expected: number | null,
  value: number,
  output: boolean,
  call: number,
  ret?: number,
): Spec => ({
  client,
  input: { op: 'cas', key, expected, value },
  output,
  call,
  ...(ret === undefined ? {} : { return: ret }),
});

function check(specs: Spec[]) {
  return checkLinearizability(kvModel, History.fromOperations(specs));
}

/**
 * Independent validation of a witness: every operation appears once, the
 * order respects real time, and replaying it through the model succeeds.
 */
function assertWitness<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly HistoryOperation<I, O>[],
  result: LinearizabilityResult<S, I, O>,
  context = '',
): void {
  expect(result.ok, context).toBe(true);
  if (result.ok !== true) return;
  const parts = model.partition ? model.partition(ops) : [{ key: WHOLE_HISTORY_KEY, operations: ops }];
  expect([...result.linearization.keys()].sort(), context).toEqual(parts.map((p) => p.key).sort());
  for (const part of parts) {
    const order = result.linearization.get(part.key)!;
    const byId = new Map(part.operations.map((op) => [op.id, op]));
    expect(
      [...order].sort((a, b) => a - b),
      context,
    ).toEqual([...byId.keys()].sort((a, b) => a - b));
    // Real time: nothing placed after an operation may have returned before it was invoked.
    const laterReturn = new Array<number>(order.length + 1).fill(Number.POSITIVE_INFINITY);
    for (let p = order.length - 1; p >= 0; p--)
      laterReturn[p] = Math.min(laterReturn[p + 1]!, byId.get(order[p]!)!.returnSeq);
    let state = model.init();
    order.forEach((id, position) => {
      const op = byId.get(id)!;
      if (!(laterReturn[position + 1]! > op.callSeq))
        expect.fail(`${context} #${id} is placed after an operation that returned before it was invoked`);
      const step = model.step(state, op.input, op.status === 'ok' ? (op.output as O) : UNKNOWN_OUTPUT);
      if (!step.ok) expect.fail(`${context} #${id} is illegal in the witness`);
      state = step.state;
    });
  }
}

/** Brute force: is there any real-time-respecting order that the model accepts? */
function bruteForce(ops: readonly Op[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const search = (state: number | string | null, placed: number): boolean => {
    if (placed === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      const op = ops[i]!;
      // Every unplaced operation that returned before op was invoked must come first.
      if (ops.some((other, j) => !used[j] && j !== i && other.returnSeq < op.callSeq)) continue;
      const step = kvModel.step(state, op.input, op.status === 'ok' ? (op.output as KvOutput) : UNKNOWN_OUTPUT);
      if (!step.ok) continue;
      used[i] = true;
      if (search(step.state, placed + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return search(null, 0);
}

describe('checkLinearizability: classic register histories', () => {
  it('accepts a sequential history', () => {
    const result = check([
      put('a', 'x', 1, 0, 1),
      get('b', 'x', 1, 2, 3),
      put('a', 'x', 2, 4, 5),
      get('b', 'x', 2, 6, 7),
    ]);
    expect(result.ok).toBe(true);
    if (result.ok === true) expect(result.linearization.get('x')).toEqual([0, 1, 2, 3]);
  });

  it('rejects a stale read after a completed write and names the operations', () => {
    const result = check([put('a', 'x', 1, 0, 1), put('a', 'x', 2, 2, 3), get('b', 'x', 1, 4, 5)]);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.key).toBe('x');
    const { explanation } = result;
    expect(explanation.prefix).toEqual([0, 1]);
    expect(explanation.state).toBe(2);
    expect(explanation.deadline.id).toBe(2);
    expect(explanation.unplaceable).toHaveLength(1);
    expect(explanation.unplaceable[0]!.operation.id).toBe(2);
    expect(explanation.unplaceable[0]!.mustFollow?.id).toBe(1);
    expect(explanation.unplaceable[0]!.reason).toBe(
      '#2 get x → 1 [4, 5] cannot follow #1 put x=2 completed at 3 (state after the prefix: 2)',
    );
    expect(explanation.message).toContain('partition "x" is not linearizable');
    expect(explanation.message).toContain('#0 put x=1 [0, 1] · #1 put x=2 [2, 3] → state 2');
  });

  it('lets a read concurrent with a write see either value', () => {
    expect(check([put('a', 'x', 1, 0, 1), put('a', 'x', 2, 2, 6), get('b', 'x', 1, 3, 4)]).ok).toBe(true);
    expect(check([put('a', 'x', 1, 0, 1), put('a', 'x', 2, 2, 6), get('b', 'x', 2, 3, 4)]).ok).toBe(true);
  });

  it('allows concurrent writes to take effect in either order', () => {
    const writes = [put('a', 'x', 1, 0, 10), put('b', 'x', 2, 0, 10)];
    const first = check([...writes, get('c', 'x', 1, 11, 12)]);
    const second = check([...writes, get('c', 'x', 2, 11, 12)]);
    expect(first.ok).toBe(true);
    expect(second.ok).toBe(true);
    if (first.ok === true) expect(first.linearization.get('x')).toEqual([1, 0, 2]);
    if (second.ok === true) expect(second.linearization.get('x')).toEqual([0, 1, 2]);
    // But once a reader has seen the final value, it cannot change back.
    expect(check([...writes, get('c', 'x', 2, 11, 12), get('c', 'x', 1, 13, 14)]).ok).toBe(false);
  });

  it('rejects two readers that disagree on the order of two writes', () => {
    const writes = [put('a', 'x', 1, 0, 10), put('b', 'x', 2, 0, 10)];
    const result = check([
      ...writes,
      get('c', 'x', 1, 1, 3),
      get('c', 'x', 2, 4, 6),
      get('d', 'x', 2, 1, 3),
      get('d', 'x', 1, 4, 6),
    ]);
    expect(result.ok).toBe(false);
  });

  it('reads an absent key as null and rejects a value never written', () => {
    expect(check([get('a', 'x', null, 0, 1), put('a', 'x', 1, 2, 3)]).ok).toBe(true);
    const result = check([get('a', 'x', 7, 0, 1)]);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.explanation.prefix).toEqual([]);
    expect(result.explanation.unplaceable[0]!.reason).toBe(
      '#0 get x → 7 [0, 1] cannot take effect in state absent (the initial state)',
    );
  });
});

describe('checkLinearizability: compare-and-set', () => {
  it('accepts a successful CAS only from the expected value', () => {
    expect(check([put('a', 'x', 1, 0, 1), cas('a', 'x', 1, 2, true, 2, 3), get('b', 'x', 2, 4, 5)]).ok).toBe(true);
    expect(check([put('a', 'x', 1, 0, 1), cas('a', 'x', 3, 2, true, 2, 3)]).ok).toBe(false);
    expect(check([cas('a', 'x', null, 5, true, 0, 1), get('b', 'x', 5, 2, 3)]).ok).toBe(true);
  });

  it('accepts a failed CAS only when the value differs', () => {
    expect(check([put('a', 'x', 1, 0, 1), cas('a', 'x', 3, 2, false, 2, 3), get('b', 'x', 1, 4, 5)]).ok).toBe(true);
    expect(check([put('a', 'x', 1, 0, 1), cas('a', 'x', 1, 2, false, 2, 3)]).ok).toBe(false);
  });

  it('rejects two concurrent CAS from the same value that both succeed', () => {
    const base = [put('a', 'x', 1, 0, 1)];
    expect(check([...base, cas('a', 'x', 1, 2, true, 2, 5), cas('b', 'x', 1, 3, true, 2, 5)]).ok).toBe(false);
    const oneWins = check([...base, cas('a', 'x', 1, 2, true, 2, 5), cas('b', 'x', 1, 3, false, 2, 5)]);
    expect(oneWins.ok).toBe(true);
    // The losing CAS must be linearized after the winner, even though it was invoked at the same time.
    if (oneWins.ok === true) expect(oneWins.linearization.get('x')).toEqual([0, 1, 2]);
  });
});

describe('checkLinearizability: unknown and failed outcomes', () => {
  it('lets an unknown write take effect at any time after its invocation, or never', () => {
    const unknownPut = put('a', 'x', 1, 0); // no return: unknown outcome
    expect(check([unknownPut, get('b', 'x', 1, 10, 11)]).ok).toBe(true);
    expect(check([unknownPut, get('b', 'x', null, 10, 11)]).ok).toBe(true);
    expect(check([unknownPut, get('b', 'x', 1, 10, 11), get('b', 'x', null, 12, 13)]).ok).toBe(false);
  });

  it('does not let an unknown write take effect before it was invoked', () => {
    expect(check([get('b', 'x', 1, 0, 1), put('a', 'x', 1, 2)]).ok).toBe(false);
  });

  it('lets an unknown read constrain nothing', () => {
    expect(check([put('a', 'x', 1, 0, 1), get('b', 'x', 99, 2), get('c', 'x', 1, 3, 4)]).ok).toBe(true);
  });

  it('applies an unknown CAS only when it matches', () => {
    const history = [put('a', 'x', 1, 0, 1), cas('a', 'x', 1, 2, false, 2), get('b', 'x', 2, 5, 6)];
    expect(check(history).ok).toBe(true);
    expect(check([put('a', 'x', 1, 0, 1), cas('a', 'x', 3, 2, false, 2), get('b', 'x', 2, 5, 6)]).ok).toBe(false);
  });

  it('ignores failed operations entirely', () => {
    const clock = { t: 0, now: () => clock.t++ };
    const h = new History<KvInput, KvOutput>(clock);
    const w = h.invoke('a', { op: 'put', key: 'x', value: 1 });
    h.fail(w);
    const r = h.invoke('b', { op: 'get', key: 'x' });
    h.ok(r, 1);
    expect(checkLinearizability(kvModel, h).ok).toBe(false);
  });
});

describe('checkLinearizability: per-key decomposition', () => {
  it('reports the violating key and linearizes the others', () => {
    const specs = [
      put('a', 'k1', 1, 0, 1),
      get('b', 'k1', 1, 2, 3),
      put('a', 'k2', 1, 4, 5),
      put('a', 'k2', 2, 6, 7),
      get('b', 'k2', 1, 8, 9),
      put('a', 'k3', 1, 10, 11),
    ];
    const result = check(specs);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.key).toBe('k2');
    expect(result.explanation.deadline.id).toBe(4);
    expect(result.explanation.unplaceable.map((u) => u.mustFollow?.id)).toEqual([3]);
    expect(result.stats.partitions).toBe(3);

    const fixed = check(specs.filter((_, i) => i !== 4));
    expect(fixed.ok).toBe(true);
    if (fixed.ok === true) expect([...fixed.linearization.keys()]).toEqual(['k1', 'k2', 'k3']);
  });
});

describe('checkLinearizability: generic models', () => {
  interface QueueInput {
    readonly op: 'enq' | 'deq';
    readonly value?: number;
  }
  type QueueState = readonly number[];
  const queue: Model<QueueState, QueueInput, number | null> = {
    name: 'queue',
    init: () => [],
    step(state, input, output) {
      if (input.op === 'enq') return { ok: true, state: [...state, input.value!] };
      const head = state.length > 0 ? state[0]! : null;
      return { ok: output === UNKNOWN_OUTPUT || output === head, state: state.slice(1) };
    },
    equal: (a, b) => a.length === b.length && a.every((v, i) => v === b[i]),
    hash: (s) => s.reduce((h, v) => Math.imul(h ^ v, 0x01000193), 0x811c9dc5),
  };
  const q = (client: string, input: QueueInput, call: number, ret: number, output?: number | null) => ({
    client,
    input,
    call,
    return: ret,
    ...(output === undefined ? {} : { output }),
  });

  it('checks a model without partitions as one history', () => {
    const fifo = History.fromOperations([
      q('a', { op: 'enq', value: 1 }, 0, 1),
      q('b', { op: 'enq', value: 2 }, 0, 1),
      q('c', { op: 'deq' }, 2, 3, 2),
      q('c', { op: 'deq' }, 4, 5, 1),
    ]);
    const ok = checkLinearizability(queue, fifo);
    assertWitness(queue, fifo.operations(), ok);
    const lifo = History.fromOperations([
      q('a', { op: 'enq', value: 1 }, 0, 1),
      q('b', { op: 'enq', value: 2 }, 2, 3),
      q('c', { op: 'deq' }, 4, 5, 2),
    ]);
    const bad = checkLinearizability(queue, lifo);
    expect(bad.ok).toBe(false);
    if (bad.ok === false) {
      expect(bad.key).toBe(WHOLE_HISTORY_KEY);
      expect(bad.explanation.message).toContain('queue: partition "*" is not linearizable');
      expect(bad.explanation.message).toContain('state [1,2]');
    }
  });

  it('accepts an empty history', () => {
    const result = checkLinearizability(queue, History.fromOperations<QueueInput, number | null>([]));
    expect(result.ok).toBe(true);
    if (result.ok === true) expect(result.linearization.get(WHOLE_HISTORY_KEY)).toEqual([]);
    expect(checkLinearizability(kvModel, []).ok).toBe(true);
  });

  it('rejects malformed models, options and inputs with typed errors', () => {
    const h = History.fromOperations([get('a', 'x', null, 0, 1)]);
    for (const fn of [
      () => checkLinearizability({} as typeof kvModel, h),
      () => checkLinearizability({ ...kvModel, hash: 3 } as unknown as typeof kvModel, h),
      () => checkLinearizability(kvModel, h, { timeoutMs: -1 }),
      () => checkLinearizability(kvModel, h, { maxSteps: 1.5 }),
      () => checkLinearizability(kvModel, 'history' as unknown as History<KvInput, KvOutput>),
      () =>
        checkLinearizability(
          kvModel,
          History.fromOperations([{ client: 'a', input: { op: 'nope' }, call: 0 }]) as never,
        ),
      () => checkLinearizability({ ...kvModel, step: () => undefined } as unknown as typeof kvModel, h),
    ]) {
      let error: unknown;
      try {
        fn();
      } catch (err) {
        error = err;
      }
      expect(isNovacronError(error, 'CORE_INVALID_ARGUMENT'), String(error)).toBe(true);
    }
  });
});

describe('checkLinearizability: budgets', () => {
  const history = simulateKvHistory({ rng: seededRng('budget'), operations: 400, keys: 2 });

  it('gives up with ok: unknown when the step budget runs out', () => {
    const result = checkLinearizability(kvModel, history, { maxSteps: 50 });
    expect(result).toMatchObject({ ok: 'unknown', reason: 'step-limit', key: 'k0', checkedKeys: [] });
    expect(result.stats.steps).toBe(51);
  });

  it('gives up with ok: unknown when the clock passes the deadline', () => {
    let t = 0;
    // A clock that advances 1 ms per reading: the deadline passes after a bounded number of steps.
    const clock = { now: () => t++ };
    const result = checkLinearizability(kvModel, history, { timeoutMs: 0.5, clock });
    expect(result).toMatchObject({ ok: 'unknown', reason: 'timeout', key: 'k0' });
  });

  it('finishes within generous budgets', () => {
    const result = checkLinearizability(kvModel, history, { maxSteps: 1_000_000, timeoutMs: 60_000 });
    assertWitness(kvModel, history.operations(), result);
  });
});

describe('checkLinearizability: agrees with brute force on small histories', () => {
  const value = fc.constantFrom<number | null>(null, 1, 2);
  const input = fc.oneof(
    fc.constant<KvInput>({ op: 'get', key: 'x' }),
    fc.constantFrom(1, 2).map((v): KvInput => ({ op: 'put', key: 'x', value: v })),
    fc.tuple(value, fc.constantFrom(1, 2)).map(([e, v]): KvInput => ({ op: 'cas', key: 'x', expected: e, value: v })),
  );
  const op = fc.record({
    input,
    call: fc.integer({ min: 0, max: 20 }),
    length: fc.integer({ min: 0, max: 8 }),
    unknown: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
    output: fc.oneof(value, fc.boolean()),
  });

  it('matches exhaustive search (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 6 }), (raw) => {
        const specs: Spec[] = raw.map((r, i) => ({
          client: `c${i}`,
          input: r.input,
          call: r.call,
          ...(r.unknown ? {} : { return: r.call + r.length }),
          // Outputs of the right type for the input, so the interesting cases are common.
          output:
            r.input.op === 'cas'
              ? typeof r.output === 'boolean'
                ? r.output
                : r.output !== null
              : r.input.op === 'get'
                ? typeof r.output === 'boolean'
                  ? null
                  : r.output
                : undefined,
        }));
        const h = History.fromOperations(specs);
        const ops = h.operations();
        const result = checkLinearizability(kvModel, h);
        expect(result.ok).toBe(bruteForce(ops));
        if (result.ok === true) assertWitness(kvModel, ops, result);
      }),
      { numRuns: 400 },
    );
  });
});

describe('checkLinearizability: randomized histories from a linearizable store', () => {
  const seeds = Array.from({ length: 24 }, (_, i) => 1000 + i);

  function simulate(seed: number) {
    return simulateKvHistory({
      rng: seededRng(seed),
      clients: 6,
      keys: 3,
      operations: 300,
      unknownRate: seed % 3 === 0 ? 0.05 : 0,
      failRate: seed % 4 === 0 ? 0.05 : 0,
    });
  }

  function withEntry(
    h: History<KvInput, KvOutput>,
    id: number,
    output: KvOutput,
  ): { history: History<KvInput, KvOutput>; key: string } {
    const entries = h
      .entries()
      .map((e): HistoryEntry<KvInput, KvOutput> => (e.type === 'ok' && e.id === id ? { ...e, output } : e));
    const key = h.operations().find((o) => o.id === id)!.input.key;
    return { history: History.fromEntries(entries), key };
  }

  it.each(seeds)('accepts the history of seed %i with a valid witness', (seed) => {
    const h = simulate(seed);
    assertWitness(kvModel, h.operations(), checkLinearizability(kvModel, h), `seed ${seed}`);
  });

  it.each(seeds)('rejects seed %i with one read of a value never written', (seed) => {
    const h = simulate(seed);
    const rng = seededRng(`inject-${seed}`);
    const reads = h.operations().filter((o) => o.status === 'ok' && o.input.op === 'get');
    const victim = rng.pick(reads);
    const { history, key } = withEntry(h, victim.id, -1);
    const result = checkLinearizability(kvModel, history);
    expect(result.ok, `seed ${seed}`).toBe(false);
    if (result.ok === false) {
      expect(result.key, `seed ${seed}`).toBe(key);
      expect(
        result.explanation.unplaceable.map((u) => u.operation.id),
        `seed ${seed}`,
      ).toContain(victim.id);
    }
  });

  it.each(seeds)('rejects seed %i with one stale read', (seed) => {
    const h = simulate(seed);
    const ops = h.operations();
    const writes = (key: string) =>
      ops.filter(
        (o) =>
          o.status === 'ok' &&
          o.input.key === key &&
          (o.input.op === 'put' || (o.input.op === 'cas' && o.output === true)),
      );
    // A read R, a write W and a later write X with W before X before R in real
    // time: values are unique, so R returning W's value is certainly stale.
    let injected: { read: Op; stale: KvValue } | undefined;
    for (const read of [...ops].reverse()) {
      if (read.status !== 'ok' || read.input.op !== 'get') continue;
      const ws = writes(read.input.key);
      const x = ws.filter((w) => w.returnSeq < read.callSeq).at(-1);
      const w = x && ws.filter((o) => o.returnSeq < x.callSeq).at(-1);
      if (w && w.input.op !== 'get') {
        injected = { read, stale: w.input.value };
        break;
      }
    }
    expect(injected, `seed ${seed}: no place to inject a stale read`).toBeDefined();
    const { history, key } = withEntry(h, injected!.read.id, injected!.stale);
    const result = checkLinearizability(kvModel, history);
    expect(result.ok, `seed ${seed}`).toBe(false);
    if (result.ok === false) expect(result.key, `seed ${seed}`).toBe(key);
  });
});
