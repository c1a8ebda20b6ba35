import { CoreErrorCode, ManualClock, ProviderErrorCode } from '@novacron/core';
import { OperationRunner } from '@novacron/providers';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe('OperationRunner', () => {
  it('times out on the injected clock and aborts the body', async () => {
    const clock = new ManualClock();
    const runner = new OperationRunner({ clock, defaultTimeoutMs: 1000 });
    let bodySignal: AbortSignal | undefined;
    const p = runner.run('op', 'vm', null, { timeoutMs: 50 }, (signal) => {
      bodySignal = signal;
      return new Promise(() => undefined);
    });
    await Promise.resolve();
    clock.advance(49);
    expect(bodySignal?.aborted).toBe(false);
    clock.advance(1);
    await expectNovacronRejection(p, CoreErrorCode.TIMEOUT);
    expect(bodySignal?.aborted).toBe(true);
  });

  it('rejects at once on the caller abort, and never runs a body aborted before it starts', async () => {
    const runner = new OperationRunner({ clock: new ManualClock(), defaultTimeoutMs: 1000 });
    const ac = new AbortController();
    ac.abort();
    let ran = false;
    await expectNovacronRejection(
      runner.run('op', 'vm', null, { signal: ac.signal }, async () => {
        ran = true;
      }),
      CoreErrorCode.ABORTED,
    );
    const gate = deferred<void>();
    const first = runner.run('op', 'vm', 1, {}, () => gate.promise);
    const ac2 = new AbortController();
    const second = runner.run('op', 'vm', 2, { signal: ac2.signal }, async () => {
      ran = true;
    });
    ac2.abort();
    await expectNovacronRejection(second, CoreErrorCode.ABORTED);
    gate.resolve();
    await first;
    await Promise.resolve();
    expect(ran).toBe(false);
  });

  it('serializes operations per lock key in call order and runs different keys in parallel', async () => {
    const runner = new OperationRunner({ clock: new ManualClock(), defaultTimeoutMs: 1000 });
    const order: string[] = [];
    const gate = deferred<void>();
    const a1 = runner.run('op', 'a', 1, {}, async () => {
      await gate.promise;
      order.push('a1');
    });
    const a2 = runner.run('op', 'a', 2, {}, async () => {
      order.push('a2');
    });
    const b1 = runner.run('op', 'b', 1, {}, async () => {
      order.push('b1');
    });
    await b1;
    expect(order).toEqual(['b1']);
    gate.resolve();
    await Promise.all([a1, a2]);
    expect(order).toEqual(['b1', 'a1', 'a2']);
  });

  it('replays an idempotent outcome, conflicts on a different request, and forgets failures', async () => {
    const runner = new OperationRunner({ clock: new ManualClock(), defaultTimeoutMs: 1000 });
    let calls = 0;
    const body = async () => ++calls;
    expect(await runner.run('op', 'x', { a: 1, b: 2 }, { idempotencyKey: 'k' }, body)).toBe(1);
    expect(await runner.run('op', 'x', { b: 2, a: 1 }, { idempotencyKey: 'k' }, body)).toBe(1);
    await expectNovacronRejection(
      runner.run('op', 'x', { a: 2 }, { idempotencyKey: 'k' }, body),
      ProviderErrorCode.Conflict,
    );
    let fail = true;
    const flaky = async () => {
      if (fail) throw new Error('transient');
      return 'ok';
    };
    await expect(runner.run('op', 'x', null, { idempotencyKey: 'f' }, flaky)).rejects.toThrow('transient');
    fail = false;
    await Promise.resolve();
    expect(await runner.run('op', 'x', null, { idempotencyKey: 'f' }, flaky)).toBe('ok');
    expect(calls).toBe(1);
  });

  it('bounds the remembered keys', async () => {
    const runner = new OperationRunner({ clock: new ManualClock(), defaultTimeoutMs: 1000, maxKeys: 2 });
    let calls = 0;
    const body = async () => ++calls;
    await runner.run('op', undefined, null, { idempotencyKey: 'a' }, body);
    await runner.run('op', undefined, null, { idempotencyKey: 'b' }, body);
    await runner.run('op', undefined, null, { idempotencyKey: 'c' }, body);
    expect(await runner.run('op', undefined, null, { idempotencyKey: 'a' }, body)).toBe(4);
  });
});
