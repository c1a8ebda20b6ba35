import { type FileHandle, FileDurableLog, type OpenFlags } from '@novacron/core';
import { MemoryFileIO } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';

/** A MemoryFileIO that counts fdatasync calls. */
class CountingFileIO extends MemoryFileIO {
  syncs = 0;
  override async open(path: string, flags: OpenFlags, mode?: number): Promise<FileHandle> {
    const h = await super.open(path, flags, mode);
    return new Proxy(h, {
      get: (target, prop) => {
        if (prop === 'datasync') {
          return async () => {
            this.syncs++;
            await target.datasync();
          };
        }
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
}

const entry = (index: number, term = 1) => ({ index, term, data: new Uint8Array([index]) });

describe('FileDurableLog group commit', () => {
  it('mutations issued in the same turn share one fsync', async () => {
    const io = new CountingFileIO();
    const log = new FileDurableLog({ io, dir: '/wal' });
    await log.open();
    const before = io.syncs;
    await Promise.all([
      log.append([entry(1), entry(2)]),
      log.setHardState({ term: 1, vote: 'a', commit: 2 }),
      log.append([entry(3)]),
    ]);
    expect(io.syncs - before).toBe(1);
    await log.close();
    const again = new FileDurableLog({ io, dir: '/wal' });
    await again.open();
    expect(again.lastIndex()).toBe(3);
    expect(again.hardState()).toEqual({ term: 1, vote: 'a', commit: 2 });
    await again.close();
  });

  it('mutations issued while an fsync is in flight share the next one', async () => {
    const io = new CountingFileIO();
    const log = new FileDurableLog({ io, dir: '/wal' });
    await log.open();
    const before = io.syncs;
    const first = log.append([entry(1)]);
    await Promise.resolve(); // the first batch is now being written
    await Promise.resolve();
    const rest = [2, 3, 4].map((i) => log.append([entry(i)]));
    await Promise.all([first, ...rest]);
    expect(io.syncs - before).toBeLessThanOrEqual(2);
    expect(log.lastIndex()).toBe(4);
    await log.close();
  });
});
