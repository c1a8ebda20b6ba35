import { isNovacronError } from '@novacron/core';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeErrorCode, nodeError } from '../../src/errors.js';
import { memoryDigest } from '../../src/migration/memory-digest.js';
import { engineConfig, MiB, stateOf, twoSides } from './migration-harness.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('pages-style migration engine (memory transport, memory providers)', () => {
  it('an idle VM moves in one round plus the final one, and the memory arrives intact', async () => {
    const s = await twoSides({ dirtyBytesPerSecond: 0 });
    cleanup = s.close;
    const before = await memoryDigest(s.src, 'vm1', 1024);
    const result = await s.source().run();
    expect(result.phase).toBe('completed');
    expect(result.mode).toBe('precopy');
    expect(result.round).toBe(1);
    expect(result.sourceDigest).toBe(before);
    expect(s.destination.arrival('vm1')?.digest).toBe(before);
    expect(await stateOf(s.dst, 'vm1')).toBe('running');
    // Zero pages and the compressible half cost far less than the raw memory.
    expect(result.rawBytes).toBe(4 * MiB);
    expect(result.wireBytes).toBeLessThan(result.rawBytes * 0.6);
    expect(Object.keys(result.codecs)).toEqual(['lz4']);
    expect(result.steps.map((x) => x.step).join('\n')).toMatch(/round 1: 1024 pages.*\n.*pausing/);
  });

  it('a VM dirtying slower than the link is copied round after round (delta against what the destination holds) while rounds shrink', async () => {
    const s = await twoSides({ dirtyBytesPerSecond: 4 * MiB, workingSetBytes: 1 * MiB });
    cleanup = s.close;
    s.rates.setCapacity(16 * MiB);
    const result = await s
      .source({ config: engineConfig({ downtimeBudgetMs: 1, autoConverge: false, postCopy: false, maxRounds: 4 }) })
      .run();
    expect(result.phase).toBe('completed');
    expect(result.mode).toBe('precopy');
    expect(result.round).toBeGreaterThanOrEqual(2); // a budget below the switchover cost is never met: several rounds
    expect(result.destinationDigest ?? s.destination.arrival('vm1')?.digest).toBe(result.sourceDigest);
    expect(result.throttleBytesPerSecond).toBeUndefined();
  });

  it('auto-converge throttles a guest that dirties as fast as the link copies (budget unreachable: switchover at the round limit)', async () => {
    const s = await twoSides({ dirtyBytesPerSecond: 256 * MiB, workingSetBytes: 2 * MiB, memoryBytes: 4 * MiB });
    cleanup = s.close;
    s.rates.setCapacity(4 * MiB);
    const limits: (number | undefined)[] = [];
    const setLimit = s.src.setDirtyRateLimit.bind(s.src);
    s.src.setDirtyRateLimit = (id, bps, o) => {
      limits.push(bps);
      return setLimit(id, bps, o);
    };
    const result = await s
      .source({ config: engineConfig({ downtimeBudgetMs: 1, postCopy: false, maxRounds: 6 }) })
      .run();
    expect(result.phase).toBe('completed');
    expect(result.mode).toBe('precopy');
    expect(result.throttleBytesPerSecond).toBeGreaterThan(0);
    expect(limits.filter((l) => l !== undefined).length).toBeGreaterThan(0);
    expect(limits.at(-1)).toBeUndefined(); // the throttle is lifted at the end
    expect(s.destination.arrival('vm1')?.digest).toBe(result.sourceDigest);
    expect(result.steps.some((x) => /auto-converge step 1/.test(x.step))).toBe(true);
  });

  it('a migration that cannot converge completes by post-copy, serving faults first', async () => {
    const s = await twoSides({ dirtyBytesPerSecond: 64 * MiB, workingSetBytes: 2 * MiB, memoryBytes: 4 * MiB });
    cleanup = s.close;
    s.rates.setCapacity(8 * MiB);
    let snapshotAtPause: Uint8Array | undefined;
    const src = s.src;
    const result = await s
      .source({
        // A budget below the fixed switchover cost cannot be met by pre-copy: after the round limit, post-copy.
        config: engineConfig({ downtimeBudgetMs: 1, autoConverge: false, maxRounds: 3, postCopyStreamPages: 32 }),
        commit: async (how) => {
          expect(how).toBe('postcopy');
          // The paused source's memory is what the destination must end up with (outside the pages it rewrites).
          const all = Uint32Array.from({ length: 1024 }, (_, i) => i);
          snapshotAtPause = await src.readPages('vm1', all);
          await s.dst.resumeVm('vm1');
          return { committed: true, resumedAt: Date.now() };
        },
      })
      .run();
    expect(result.phase).toBe('completed');
    expect(result.mode).toBe('postcopy');
    expect(result.postCopyRemaining).toBe(0);
    expect(result.faults).toBeGreaterThan(0);
    expect(await s.dst.missingPages('vm1')).toHaveLength(0);
    expect(await stateOf(s.dst, 'vm1')).toBe('running');
    // Pages outside the guest's working set were only ever copied: they match the source at the pause.
    const outside = Uint32Array.from({ length: 512 }, (_, i) => 512 + i);
    const got = await s.dst.readPages('vm1', outside);
    expect(Buffer.from(got).equals(Buffer.from(snapshotAtPause!.subarray(512 * 4096)))).toBe(true);
  });

  it('cancel rolls back: the VM keeps running at the source and the destination copy is not resumed', async () => {
    const s = await twoSides({ dirtyBytesPerSecond: 64 * MiB, workingSetBytes: 2 * MiB });
    cleanup = s.close;
    s.rates.setCapacity(4 * MiB);
    let abandoned = false;
    const m = s.source({
      config: engineConfig({ downtimeBudgetMs: 1, autoConverge: false, postCopy: false, maxRounds: 1000 }),
      abandon: async () => {
        abandoned = true;
        return true;
      },
    });
    const run = m.run();
    setTimeout(() => m.cancel('test'), 300);
    const err = await run.catch((e: unknown) => e);
    expect(isNovacronError(err, NodeErrorCode.MIGRATION_CANCELLED)).toBe(true);
    expect(abandoned).toBe(true);
    expect(m.progress.phase).toBe('cancelled');
    expect(await stateOf(s.src, 'vm1')).toBe('running');
    expect(await stateOf(s.dst, 'vm1')).toBe('incoming');
  });

  it('a commit that does not go through resumes the VM at the source', async () => {
    const s = await twoSides({ dirtyBytesPerSecond: 0 });
    cleanup = s.close;
    const err = await s
      .source({ commit: async () => ({ committed: false }) })
      .run()
      .catch((e: unknown) => e);
    expect(isNovacronError(err, NodeErrorCode.MIGRATION_FAILED)).toBe(true);
    expect(await stateOf(s.src, 'vm1')).toBe('running');
    expect(await stateOf(s.dst, 'vm1')).toBe('paused');
  });

  it('a destination that refuses the stream (fence) fails the migration with a typed error and rolls back', async () => {
    const s = await twoSides({
      dirtyBytesPerSecond: 0,
      admit: async (h) => {
        throw nodeError(NodeErrorCode.MIGRATION_FENCED, `no migration ${h.migrationId} to here`, {});
      },
    });
    cleanup = s.close;
    const err = await s
      .source()
      .run()
      .catch((e: unknown) => e);
    expect(isNovacronError(err, NodeErrorCode.MIGRATION_FAILED)).toBe(true);
    expect((err as { details: { cause?: string } }).details.cause).toMatch(/^AMST_/);
    expect(await stateOf(s.src, 'vm1')).toBe('running');
    expect(await stateOf(s.dst, 'vm1')).toBeUndefined();
  });
});
