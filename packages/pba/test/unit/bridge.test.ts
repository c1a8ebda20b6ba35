import { ManualClock } from '@novacron/core';
import {
  CircuitBreaker,
  type FetchLike,
  LastValuePredictor,
  PbaErrorCode,
  RemoteModel,
  RemotePredictor,
  parseResponse,
} from '@novacron/pba';
import { predictorCompliance } from '@novacron/testkit/compliance/predictor';
import { expectNovacronError, expectNovacronRejection } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A fetch that answers from a script, or never (to exercise the timeout). */
function scriptedFetch(answer: (body: string) => { status: number; text: string } | 'hang' | 'refuse') {
  let calls = 0;
  const fetch: FetchLike = (_url, init) => {
    calls++;
    const a = answer(init.body);
    if (a === 'hang') return new Promise(() => {});
    if (a === 'refuse') return Promise.reject(new TypeError('fetch failed'));
    return Promise.resolve({ ok: a.status >= 200 && a.status < 300, status: a.status, text: async () => a.text });
  };
  return { fetch, calls: () => calls };
}

const ok = (outputs: Record<string, unknown>) => ({ status: 200, text: JSON.stringify({ version: 1, outputs }) });

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one trial through after the reset time, closes on success', () => {
    const clock = new ManualClock();
    const b = new CircuitBreaker(clock, { failureThreshold: 2, resetAfterMs: 1000 });
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    clock.advance(1000);
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // one trial at a time
    b.failure();
    expect(b.state).toBe('open');
    clock.advance(1000);
    expect(b.tryAcquire()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
  });
});

describe('RemoteModel with a scripted service', () => {
  it('returns the outputs of a well-formed answer', async () => {
    const s = scriptedFetch((body) => {
      expect(JSON.parse(body)).toEqual({ version: 1, model: 'm', features: { a: 1 } });
      return ok({ y: 2 });
    });
    const r = new RemoteModel({ url: 'http://127.0.0.1:1', clock: new ManualClock(), fetch: s.fetch });
    expect(await r.predict('m', { a: 1 })).toEqual({ y: 2 });
  });

  it('times out on the injected clock and falls back', async () => {
    const clock = new ManualClock();
    const s = scriptedFetch(() => 'hang');
    const r = new RemoteModel({ url: 'http://127.0.0.1:1', clock, fetch: s.fetch, timeoutMs: 50 });
    const pending = r.predictOr('m', { a: 1 }, () => ({ y: -1 }));
    clock.advance(49);
    clock.advance(1);
    const result = await pending;
    expect(result.source).toBe('fallback');
    expect(result.outputs).toEqual({ y: -1 });
    expect(result.error?.code).toBe(PbaErrorCode.BRIDGE_TIMEOUT);
  });

  it('opens the circuit after repeated failures and stops calling the service', async () => {
    const clock = new ManualClock();
    const s = scriptedFetch(() => 'refuse');
    const r = new RemoteModel({ url: 'http://127.0.0.1:1', clock, fetch: s.fetch, breaker: { failureThreshold: 3 } });
    for (let i = 0; i < 3; i++) await expectNovacronRejection(r.predict('m', {}), PbaErrorCode.BRIDGE_UNAVAILABLE);
    expect(r.circuit).toBe('open');
    await expectNovacronRejection(r.predict('m', {}), PbaErrorCode.BRIDGE_CIRCUIT_OPEN);
    expect(s.calls()).toBe(3);
  });

  it('reports HTTP errors and malformed answers with typed codes', async () => {
    const answers = [
      { status: 503, text: 'busy' },
      { status: 200, text: 'not json' },
      { status: 200, text: '{"version":2,"outputs":{}}' },
      ok({ y: 'x' }),
    ];
    let i = 0;
    const s = scriptedFetch(() => answers[i++]!);
    const r = new RemoteModel({
      url: 'http://127.0.0.1:1',
      clock: new ManualClock(),
      fetch: s.fetch,
      breaker: { failureThreshold: 99 },
    });
    await expectNovacronRejection(r.predict('m', {}), PbaErrorCode.BRIDGE_UNAVAILABLE);
    for (let k = 0; k < 3; k++) await expectNovacronRejection(r.predict('m', {}), PbaErrorCode.BRIDGE_MALFORMED);
  });

  it('stops reading a response body past the size limit', async () => {
    let chunks = 0;
    const fetch: FetchLike = async () => ({
      ok: true,
      status: 200,
      text: async () => expect.fail('text() must not be used when a body stream exists'),
      body: {
        getReader: () => ({
          read: async () => {
            chunks++;
            return { done: false, value: new Uint8Array(16 * 1024) };
          },
          cancel: async () => {},
        }),
      },
    });
    const r = new RemoteModel({ url: 'http://127.0.0.1:1', clock: new ManualClock(), fetch });
    await expectNovacronRejection(r.predict('m', {}), PbaErrorCode.BRIDGE_MALFORMED);
    expect(chunks).toBe(5); // 64 KiB allowed, the fifth 16 KiB chunk crosses it
  });

  it('rejects bad URLs and features as invalid arguments', async () => {
    expectNovacronError(() => new RemoteModel({ url: 'ftp://x', clock: new ManualClock() }), 'CORE_INVALID_ARGUMENT');
    expectNovacronError(() => new RemoteModel({ url: 'not a url', clock: new ManualClock() }), 'CORE_INVALID_ARGUMENT');
    const r = new RemoteModel({
      url: 'http://127.0.0.1:1',
      clock: new ManualClock(),
      fetch: scriptedFetch(() => ok({})).fetch,
    });
    await expectNovacronRejection(r.predict('m', { a: Number.NaN }), 'CORE_INVALID_ARGUMENT');
    await expectNovacronRejection(r.predict('m', { 'bad name': 1 }), 'CORE_INVALID_ARGUMENT');
  });

  it('parseResponse turns any string into outputs or PBA_BRIDGE_MALFORMED (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ version: 1, outputs: v })),
        ),
        (text) => {
          try {
            const out = parseResponse(text);
            for (const v of Object.values(out)) expect(Number.isFinite(v)).toBe(true);
          } catch (err) {
            expect((err as { code?: string }).code).toBe(PbaErrorCode.BRIDGE_MALFORMED);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('RemotePredictor', () => {
  it('uses the remote answer only while it is fresh, the local forecast otherwise', async () => {
    const s = scriptedFetch((body) => {
      const f = JSON.parse(body).features as Record<string, number>;
      const latest = f[`x${Object.keys(f).length - 1}`]!;
      return ok({ mean_h1: latest * 2, lower_h1: latest, upper_h1: latest * 3 });
    });
    const p = new RemotePredictor({
      remote: new RemoteModel({ url: 'http://127.0.0.1:1', clock: new ManualClock(), fetch: s.fetch }),
      local: new LastValuePredictor(),
    });
    p.observe({ value: 10 });
    expect(p.forecast(1).mean).toBe(10);
    expect((await p.refresh()).source).toBe('remote');
    expect(p.forecast(1)).toEqual({ horizon: 1, level: 0.8, mean: 20, lower: 10, upper: 30 });
    expect(p.forecast(5).mean).toBe(10); // the service gave no h5
    p.observe({ value: 7 });
    expect(p.usesRemote(1)).toBe(false);
    expect(p.forecast(1).mean).toBe(7);
  });
});

predictorCompliance('remote (service down: local fallback)', {
  setup: () => {
    const make = () =>
      new RemotePredictor({
        remote: new RemoteModel({
          url: 'http://127.0.0.1:1',
          clock: new ManualClock(),
          fetch: scriptedFetch(() => 'refuse').fetch,
        }),
        local: new LastValuePredictor(),
      });
    return { predictor: make(), create: make };
  },
});
