import { ManualClock, ProviderErrorCode, seededRng } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

const host = { id: 'h', capacity: { cpuMillis: 4000, memoryBytes: 1 << 30 } };
const spec = { id: 'v', resources: { cpuMillis: 1000, memoryBytes: 16 * 4096 } };

describe('MemoryProvider post-copy', () => {
  it('holds guest writes to missing pages until the page arrives, then applies them on top, reporting each fault once', async () => {
    const clock = new ManualClock();
    // Same seed on both sides: the guest's write sequence is the same, so the result can be checked page by page.
    const mk = () => new MemoryProvider({ clock, rng: seededRng('g'), hosts: [host] });
    const ref = mk();
    const dst = mk();
    const config = { dirtyBytesPerSecond: 4096 * 64 };
    const page = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
    const all = Uint32Array.from({ length: 16 }, (_, i) => i);
    // Reference: all pages present from the start.
    await ref.createVm({ spec, hostId: 'h', incoming: true, config });
    await ref.writePages(
      'v',
      all,
      new Uint8Array(16 * 4096).map((_, i) => i & 0xff),
    );
    await ref.completeIncoming('v');
    // Post-copy: pages 0..7 present, 8..15 missing.
    await dst.createVm({ spec, hostId: 'h', incoming: true, config });
    await dst.writePages(
      'v',
      all.subarray(0, 8),
      new Uint8Array(8 * 4096).map((_, i) => i & 0xff),
    );
    expect((await dst.probe()).operations).toContain('migrate-postcopy');
    await dst.beginPostCopy('v', all.subarray(8));
    const faults: number[] = [];
    dst.onPageFault((vm, p) => {
      expect(vm).toBe('v');
      faults.push(p);
    });
    await Promise.all([ref.resumeVm('v'), dst.resumeVm('v')]);
    clock.advance(1000);
    expect(Array.from(await dst.missingPages('v'))).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
    expect(faults.length).toBeGreaterThan(0);
    expect(new Set(faults).size).toBe(faults.length);
    for (let p = 8; p < 16; p++) await dst.writePages('v', Uint32Array.of(p), page);
    expect(await dst.missingPages('v')).toHaveLength(0);
    expect(dst.memoryOf('v').equals(ref.memoryOf('v'))).toBe(true);
    // Once complete, pages are written only into incoming VMs again.
    await expectNovacronRejection(dst.writePages('v', Uint32Array.of(0), page), ProviderErrorCode.Conflict);
  });

  it('a late copy of a page that already arrived does not overwrite it', async () => {
    const clock = new ManualClock();
    const p = new MemoryProvider({ clock, rng: seededRng('x'), hosts: [host] });
    await p.createVm({ spec, hostId: 'h', incoming: true });
    await p.beginPostCopy('v', Uint32Array.of(1, 2));
    await p.writePages('v', Uint32Array.of(1), new Uint8Array(4096).fill(7));
    await p.writePages('v', Uint32Array.of(1, 2), new Uint8Array(8192).fill(9));
    const got = await p.readPages('v', Uint32Array.of(1, 2));
    expect(got[0]).toBe(7);
    expect(got[4096]).toBe(9);
    await expectNovacronRejection(p.beginPostCopy('v', Uint32Array.of(1)), ProviderErrorCode.Conflict);
  });
});
