import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { systemClock } from '@novacron/core';
import { PbaErrorCode, RemoteModel, RemotePredictor, defaultPredictor } from '@novacron/pba';
import { afterEach, describe, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('../../../../examples/pba-model-service/server.py', import.meta.url));
const running: ChildProcess[] = [];

/** Starts the example service as a real process and returns its base URL. */
async function startService(mode: string, extra: string[] = []): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn('python3', [SERVER, '--port', '0', '--mode', mode, ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(proc);
  // Read with a listener, not for-await: leaving a for-await loop destroys the pipe, and the
  // service would die of a broken pipe.
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (chunk) => {
      out += String(chunk);
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once('exit', () => reject(new Error(`service exited before listening: ${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, proc };
}

afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      await once(p, 'exit');
    }
  }
});

const features = { x0: 10, x1: 20 };

describe('RemoteModel against the example Python service (real process)', () => {
  it('normal: returns the service outputs', async () => {
    const { url } = await startService('normal');
    const model = new RemoteModel({ url, clock: systemClock(), timeoutMs: 2000 });
    const out = await model.predict('throughput', features);
    expect(out.mean_h1).toBeCloseTo(13, 9);
    expect(out.upper_h30).toBeCloseTo(16.25, 9);
  });

  it('slow: the call times out and the fallback answers', async () => {
    const { url } = await startService('slow', ['--delay-ms', '2000']);
    const model = new RemoteModel({ url, clock: systemClock(), timeoutMs: 80 });
    const result = await model.predictOr('throughput', features, () => ({ mean_h1: 1 }));
    expect(result.source).toBe('fallback');
    expect(result.error?.code).toBe(PbaErrorCode.BRIDGE_TIMEOUT);
    expect(result.outputs).toEqual({ mean_h1: 1 });
  });

  it('dead: connection refused, the breaker opens, later calls never reach the network', async () => {
    const { url, proc } = await startService('normal');
    const model = new RemoteModel({
      url,
      clock: systemClock(),
      timeoutMs: 2000,
      breaker: { failureThreshold: 2, resetAfterMs: 60_000 },
    });
    expect((await model.predictOr('throughput', features, () => ({}))).source).toBe('remote');
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    const first = await model.predictOr('throughput', features, () => ({ mean_h1: 1 }));
    const second = await model.predictOr('throughput', features, () => ({ mean_h1: 1 }));
    expect([first.error?.code, second.error?.code]).toEqual([
      PbaErrorCode.BRIDGE_UNAVAILABLE,
      PbaErrorCode.BRIDGE_UNAVAILABLE,
    ]);
    expect(model.circuit).toBe('open');
    const third = await model.predictOr('throughput', features, () => ({ mean_h1: 1 }));
    expect(third.error?.code).toBe(PbaErrorCode.BRIDGE_CIRCUIT_OPEN);
    expect(third.outputs).toEqual({ mean_h1: 1 });
  });

  it('malformed: a typed error and the fallback', async () => {
    const { url } = await startService('malformed');
    const model = new RemoteModel({ url, clock: systemClock(), timeoutMs: 2000 });
    const result = await model.predictOr('throughput', features, () => ({ mean_h1: 1 }));
    expect(result.source).toBe('fallback');
    expect(result.error?.code, String((result.error?.cause as Error)?.cause ?? result.error?.cause)).toBe(
      PbaErrorCode.BRIDGE_MALFORMED,
    );
  });

  it('RemotePredictor forecasts from the service, and locally once it is gone', async () => {
    const { url, proc } = await startService('normal');
    const p = new RemotePredictor({
      remote: new RemoteModel({ url, clock: systemClock(), timeoutMs: 2000 }),
      local: defaultPredictor(),
    });
    for (const v of [10, 20]) p.observe({ value: v });
    expect((await p.refresh()).source).toBe('remote');
    expect(p.forecast(5)).toMatchObject({ mean: 13, lower: 9.75, upper: 16.25 });
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    p.observe({ value: 30 });
    expect((await p.refresh()).source).toBe('fallback');
    expect(p.usesRemote(5)).toBe(false);
    expect(p.forecast(5).mean).toBeGreaterThan(0);
  });
});
