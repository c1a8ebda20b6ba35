import { ManualClock, ProviderErrorCode, seededRng } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

const MiB = 2 ** 20;

function world(seed: number, config: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const provider = new MemoryProvider({
    clock,
    rng: seededRng(seed),
    hosts: [
      { id: 'a', capacity: { cpuMillis: 4000, memoryBytes: 4096 * MiB } },
      { id: 'b', capacity: { cpuMillis: 4000, memoryBytes: 4096 * MiB } },
    ],
  });
  const create = (id: string, hostId = 'a', incoming = false) =>
    provider.createVm({
      spec: { id, resources: { cpuMillis: 1000, memoryBytes: 64 * MiB } },
      hostId,
      incoming,
      config: { dirtyBytesPerSecond: 8 * MiB, workingSetBytes: 4 * MiB, ...config },
    });
  return { clock, provider, create };
}

async function dirtyAfter(seed: number, ms: number) {
  const { clock, provider, create } = world(seed);
  await create('v');
  await provider.startVm('v');
  await provider.startDirtyTracking('v');
  await provider.collectDirtyPages('v');
  clock.advance(ms);
  const dirty = await provider.collectDirtyPages('v');
  return { dirty, data: await provider.readPages('v', dirty), provider };
}

describe('MemoryProvider', () => {
  it('is deterministic under a seed and differs across seeds', async () => {
    const a = await dirtyAfter(1, 100);
    const b = await dirtyAfter(1, 100);
    const c = await dirtyAfter(2, 100);
    expect(a.dirty).toEqual(b.dirty);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
    expect(a.dirty).not.toEqual(c.dirty);
  });

  it('dirties pages only inside the working set, at the configured rate', async () => {
    const { dirty } = await dirtyAfter(3, 100);
    // 8 MiB/s for 100 ms = 204.8 writes of 4 KiB over 1024 working-set pages: some land twice.
    expect(dirty.length).toBeGreaterThan(150);
    expect(dirty.length).toBeLessThanOrEqual(205);
    expect(Math.max(...dirty)).toBeLessThan(1024);
  });

  it('a paused guest dirties nothing; the throttle caps the rate', async () => {
    const { clock, provider, create } = world(4);
    await create('v');
    await provider.startVm('v');
    await provider.startDirtyTracking('v');
    await provider.collectDirtyPages('v');
    await provider.pauseVm('v');
    clock.advance(1000);
    expect(await provider.collectDirtyPages('v')).toHaveLength(0);
    await provider.resumeVm('v');
    await provider.setDirtyRateLimit('v', 40960);
    clock.advance(1000);
    expect((await provider.collectDirtyPages('v')).length).toBeLessThanOrEqual(10);
    await provider.setDirtyRateLimit('v', undefined);
    clock.advance(1000);
    expect((await provider.collectDirtyPages('v')).length).toBeGreaterThan(500);
  });

  it('pre-copy converges when the throttle drops the dirty rate below the copy rate', async () => {
    const { clock, provider, create } = world(5, { dirtyBytesPerSecond: 64 * MiB, workingSetBytes: 32 * MiB });
    await create('src');
    await provider.startVm('src');
    clock.advance(500);
    await create('dst', 'b', true);
    await provider.startDirtyTracking('src');
    const copyRate = 32 * MiB; // bytes per second the simulated link moves
    const rounds: number[] = [];
    for (let round = 0; round < 20; round++) {
      const dirty = await provider.collectDirtyPages('src');
      rounds.push(dirty.length);
      await provider.writePages('dst', dirty, await provider.readPages('src', dirty));
      if (dirty.length * 4096 < 256 * 1024) break;
      if (round === 2) await provider.setDirtyRateLimit('src', copyRate / 4);
      clock.advance(((dirty.length * 4096) / copyRate) * 1000);
    }
    expect(rounds.at(-1)! * 4096).toBeLessThan(256 * 1024);
    await provider.pauseVm('src');
    const last = await provider.collectDirtyPages('src');
    await provider.writePages('dst', last, await provider.readPages('src', last));
    await provider.completeIncoming('dst');
    expect(provider.memoryOf('dst').equals(provider.memoryOf('src'))).toBe(true);
  });

  it('snapshots and restores memory contents', async () => {
    const { clock, provider, create } = world(6);
    await create('v');
    await provider.startVm('v');
    clock.advance(100);
    const snap = await provider.snapshotVm('v');
    const saved = provider.memoryOf('v').clone();
    clock.advance(100);
    expect(provider.memoryOf('v').equals(saved)).toBe(false);
    await provider.restoreVm('v', snap.id);
    expect(provider.memoryOf('v').equals(saved)).toBe(true);
    await expectNovacronRejection(provider.restoreVm('v', 'nope'), ProviderErrorCode.NotFound);
  });

  it('a failed VM can only be stopped or deleted', async () => {
    const { provider, create } = world(7);
    await create('v');
    await provider.startVm('v');
    provider.failVm('v');
    await expectNovacronRejection(provider.resumeVm('v'), ProviderErrorCode.Conflict);
    await expectNovacronRejection(provider.snapshotVm('v'), ProviderErrorCode.Conflict);
    expect((await provider.stopVm('v')).state).toBe('stopped');
  });

  it('rejects bad page requests with Invalid', async () => {
    const { provider, create } = world(8);
    await create('d', 'b', true);
    await expectNovacronRejection(provider.readPages('d', new Uint32Array([1 << 20])), ProviderErrorCode.Invalid);
    await expectNovacronRejection(
      provider.writePages('d', new Uint32Array([0]), new Uint8Array(10)),
      ProviderErrorCode.Invalid,
    );
    await expectNovacronRejection(
      provider.createVm({ spec: { id: 'x', resources: { cpuMillis: 1, memoryBytes: 1000 } }, hostId: 'a' }),
      ProviderErrorCode.Invalid,
    );
  });
});
