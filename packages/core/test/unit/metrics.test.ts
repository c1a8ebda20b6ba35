import { CoreErrorCode, DEFAULT_BUCKETS, MemoryMetrics, noopMetrics } from '@novacron/core';
import { describe, expect, it } from 'vitest';
import { expectNovacronError } from '@novacron/testkit/vitest';

describe('MemoryMetrics', () => {
  it('counts', () => {
    const m = new MemoryMetrics();
    const c = m.counter({ name: 'novacron_test_total', help: 'test' });
    expect(m.value('novacron_test_total')).toBe(0);
    c.inc();
    c.inc(2.5);
    c.inc(0);
    expect(m.value('novacron_test_total')).toBe(3.5);
  });

  it('rejects a negative or NaN counter increment and keeps the value', () => {
    const m = new MemoryMetrics();
    const c = m.counter({ name: 'c_total', help: 'c' });
    c.inc(1);
    expectNovacronError(() => c.inc(-1), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => c.inc(Number.NaN), CoreErrorCode.INVALID_ARGUMENT);
    expect(m.value('c_total')).toBe(1);
  });

  it('keeps one series per label set, whatever the key order', () => {
    const m = new MemoryMetrics();
    const c = m.counter({ name: 'bytes_total', help: 'b', labelNames: ['lane', 'mode'] });
    c.inc(5, { lane: '1', mode: 'internet' });
    c.inc(1, { mode: 'internet', lane: '1' });
    c.inc(7, { lane: '2', mode: 'internet' });
    expect(m.value('bytes_total', { mode: 'internet', lane: '1' })).toBe(6);
    expect(m.value('bytes_total', { lane: '2', mode: 'internet' })).toBe(7);
    expect(m.value('bytes_total', { lane: '3', mode: 'internet' })).toBe(0);
    expect(m.snapshot()[0]!.series).toHaveLength(2);
  });

  it('requires exactly the declared labels', () => {
    const m = new MemoryMetrics();
    const c = m.counter({ name: 'x_total', help: 'x', labelNames: ['a'] });
    expectNovacronError(() => c.inc(1), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => c.inc(1, { a: '1', b: '2' }), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => c.inc(1, { b: '1' }), CoreErrorCode.INVALID_ARGUMENT);
    const plain = m.counter({ name: 'y_total', help: 'y' });
    expectNovacronError(() => plain.inc(1, { a: '1' }), CoreErrorCode.INVALID_ARGUMENT);
    expect(m.value('x_total', { a: '1' })).toBe(0);
  });

  it('gauges go up and down', () => {
    const m = new MemoryMetrics();
    const g = m.gauge({ name: 'lanes', help: 'open lanes' });
    g.set(10);
    g.inc();
    g.inc(4);
    g.dec();
    g.dec(20);
    expect(m.value('lanes')).toBe(-6);
  });

  it('histograms keep sum, count and cumulative buckets with an upper bound inclusive', () => {
    const m = new MemoryMetrics();
    const h = m.histogram({ name: 'rtt_ms', help: 'rtt', buckets: [1, 5, 10] });
    for (const v of [0.5, 1, 3, 5, 7, 10, 11, 1000]) h.observe(v);
    const [snap] = m.snapshot();
    expect(snap!.type).toBe('histogram');
    const s = snap!.series[0]!;
    expect(s.count).toBe(8);
    expect(s.value).toBe(1037.5);
    expect(s.buckets).toEqual([
      { le: 1, count: 2 },
      { le: 5, count: 4 },
      { le: 10, count: 6 },
      { le: Number.POSITIVE_INFINITY, count: 8 },
    ]);
    expect(m.value('rtt_ms')).toBe(1037.5);
  });

  it('histograms default to DEFAULT_BUCKETS and reject unordered buckets', () => {
    const m = new MemoryMetrics();
    m.histogram({ name: 'd', help: 'd' }).observe(3);
    expect(m.snapshot()[0]!.series[0]!.buckets!.map((b) => b.le)).toEqual([
      ...DEFAULT_BUCKETS,
      Number.POSITIVE_INFINITY,
    ]);
    expectNovacronError(() => m.histogram({ name: 'e', help: 'e', buckets: [1, 1] }), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => m.histogram({ name: 'f', help: 'f', buckets: [2, 1] }), CoreErrorCode.INVALID_ARGUMENT);
  });

  it('a second declaration that agrees shares the family; one that disagrees throws', () => {
    const m = new MemoryMetrics();
    m.counter({ name: 'shared_total', help: 'h', labelNames: ['a', 'b'] }).inc(1, { a: 'x', b: 'y' });
    m.counter({ name: 'shared_total', help: 'h', labelNames: ['b', 'a'] }).inc(2, { a: 'x', b: 'y' });
    expect(m.value('shared_total', { a: 'x', b: 'y' })).toBe(3);
    expectNovacronError(
      () => m.gauge({ name: 'shared_total', help: 'h', labelNames: ['a', 'b'] }),
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expectNovacronError(
      () => m.counter({ name: 'shared_total', help: 'h', labelNames: ['a'] }),
      CoreErrorCode.INVALID_ARGUMENT,
    );

    m.histogram({ name: 'h_ms', help: 'h', buckets: [1, 2] });
    m.histogram({ name: 'h_ms', help: 'h', buckets: [1, 2] }).observe(1.5);
    expectNovacronError(
      () => m.histogram({ name: 'h_ms', help: 'h', buckets: [1, 2, 3] }),
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expect(m.snapshot().find((f) => f.name === 'h_ms')!.series[0]!.count).toBe(1);
  });

  it('rejects names that are not Prometheus metric names', () => {
    const m = new MemoryMetrics();
    for (const name of ['', '1abc', 'has space', 'dash-name', 'é'])
      expectNovacronError(() => m.counter({ name, help: '' }), CoreErrorCode.INVALID_ARGUMENT);
    m.counter({ name: 'ok:name_1', help: '' });
  });

  it('snapshots list families in declaration order with their help and type', () => {
    const m = new MemoryMetrics();
    m.gauge({ name: 'b', help: 'second' }).set(2);
    m.counter({ name: 'a_total', help: 'first' }).inc();
    expect(m.snapshot()).toEqual([
      { name: 'b', help: 'second', type: 'gauge', series: [{ labels: {}, value: 2 }] },
      { name: 'a_total', help: 'first', type: 'counter', series: [{ labels: {}, value: 1 }] },
    ]);
  });

  it('snapshot series labels are copies', () => {
    const m = new MemoryMetrics();
    const labels = { lane: '1' };
    m.counter({ name: 'l_total', help: 'l', labelNames: ['lane'] }).inc(1, labels);
    labels.lane = '2';
    expect(m.snapshot()[0]!.series[0]!.labels).toEqual({ lane: '1' });
  });

  it('value of an undeclared metric is 0', () => {
    expect(new MemoryMetrics().value('nothing')).toBe(0);
  });
});

describe('noopMetrics', () => {
  it('accepts every call and records nothing', () => {
    const m = noopMetrics();
    m.counter({ name: 'a', help: '' }).inc(5);
    const g = m.gauge({ name: 'b', help: '' });
    g.set(1);
    g.inc();
    g.dec();
    m.histogram({ name: 'c', help: '' }).observe(1);
    expect(Object.keys(m).sort()).toEqual(['counter', 'gauge', 'histogram']);
  });
});
