import { describe, expect, it } from 'vitest';
import { LIFTED_MAX_BANDWIDTH, StreamRelayErrorCode, chooseStreamCapabilities } from '../../src/index.js';

const MiB = 2 ** 20;
const relay = { channels: 1, returnPath: false, compresses: true };
const multi = { channels: 8, returnPath: true, compresses: false };

describe('chooseStreamCapabilities', () => {
  it('datacenter, idle guest: plain pre-copy with the budget and bandwidth lifted', () => {
    const c = chooseStreamCapabilities({
      mode: 'datacenter',
      downtimeBudgetMs: 300,
      memoryBytes: 512 * MiB,
      carrier: relay,
    });
    expect(c.capabilities).toEqual({});
    expect(c.parameters).toEqual({ 'downtime-limit': 300, 'max-bandwidth': LIFTED_MAX_BANDWIDTH });
    expect(c.convergence).toBe('pre-copy');
  });

  it('multifd only when the carrier has channels: 2 in datacenter, 8 with zstd on the internet', () => {
    const dc = chooseStreamCapabilities({
      mode: 'datacenter',
      downtimeBudgetMs: 300,
      memoryBytes: 512 * MiB,
      carrier: multi,
    });
    expect(dc.capabilities).toEqual({ multifd: true });
    expect(dc.parameters['multifd-channels']).toBe(2);
    expect(dc.parameters['multifd-compression']).toBeUndefined();
    const wan = chooseStreamCapabilities({
      mode: 'internet',
      downtimeBudgetMs: 300,
      memoryBytes: 512 * MiB,
      carrier: multi,
      cores: 8,
      dirtyBytesPerSecond: 16 * MiB,
    });
    expect(wan.parameters['multifd-channels']).toBe(8);
    expect(wan.parameters['multifd-compression']).toBe('zstd');
    // xbzrle does not combine with multifd.
    expect(wan.capabilities.xbzrle).toBeUndefined();
  });

  it('xbzrle on a slow path when the carrier does not compress and there is no multifd', () => {
    const c = chooseStreamCapabilities({
      mode: 'internet',
      downtimeBudgetMs: 300,
      memoryBytes: 512 * MiB,
      carrier: { channels: 1, returnPath: false, compresses: false },
      dirtyBytesPerSecond: 16 * MiB,
      pathBytesPerSecond: 100 * MiB,
    });
    expect(c.capabilities).toEqual({ xbzrle: true });
    expect(c.parameters['xbzrle-cache-size']).toBe(128 * MiB);
    expect(c.parameters['avail-switchover-bandwidth']).toBe(100 * MiB);
  });

  it('auto-converge above half the path rate; post-copy above it only with a return path', () => {
    const base = {
      mode: 'hybrid' as const,
      downtimeBudgetMs: 300,
      memoryBytes: 512 * MiB,
      pathBytesPerSecond: 25 * MiB,
    };
    const half = chooseStreamCapabilities({ ...base, dirtyBytesPerSecond: 16 * MiB, carrier: relay });
    expect(half.capabilities['auto-converge']).toBe(true);
    expect(half.convergence).toBe('auto-converge');
    const over = chooseStreamCapabilities({ ...base, dirtyBytesPerSecond: 64 * MiB, carrier: multi });
    expect(over.capabilities).toMatchObject({ 'auto-converge': true, 'postcopy-ram': true });
    expect(over.convergence).toBe('post-copy');
    const noReturn = chooseStreamCapabilities({ ...base, dirtyBytesPerSecond: 64 * MiB, carrier: relay });
    expect(noReturn.capabilities['postcopy-ram']).toBeUndefined();
    expect(noReturn.convergence).toBe('auto-converge');
    expect(noReturn.reasons.join('\n')).toMatch(/no return path/);
  });

  it('never chooses what the backend does not offer', () => {
    const c = chooseStreamCapabilities({
      mode: 'hybrid',
      downtimeBudgetMs: 300,
      memoryBytes: 512 * MiB,
      pathBytesPerSecond: 10 * MiB,
      dirtyBytesPerSecond: 64 * MiB,
      carrier: multi,
      backendCapabilities: ['auto-converge'],
    });
    expect(c.capabilities).toEqual({ 'auto-converge': true });
    expect(c.convergence).toBe('auto-converge');
    expect(c.reasons.join('\n')).toMatch(/multifd wanted .* does not offer/);
  });

  it('rejects a non-positive budget', () => {
    expect(() =>
      chooseStreamCapabilities({ mode: 'datacenter', downtimeBudgetMs: 0, memoryBytes: MiB, carrier: relay }),
    ).toThrow(expect.objectContaining({ code: StreamRelayErrorCode.INVALID_OPTIONS }));
  });
});
