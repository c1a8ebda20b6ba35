import { mkdtemp, open as nodeOpen, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFile, type FileIO, isNovacronError, nodeFileIO, seededRng } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Runs `fn` and returns what it threw (failing the test when it did not throw). */
async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

let dir: string;
let io: FileIO;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'novacron-fileio-'));
  io = nodeFileIO();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe('nodeFileIO handles', () => {
  it('writes at positions, reads back, and reports size', async () => {
    const path = join(dir, 'a.bin');
    const w = await io.open(path, 'w');
    await w.write(bytes('hello world'), 0);
    await w.sync();
    await w.close();
    const h = await io.open(path, 'r+');
    await h.write(bytes('HELLO'), 0);
    expect(await h.size()).toBe(11);
    expect(text(await h.read(0, 11))).toBe('HELLO world');
    expect(text(await h.read(6, 100))).toBe('world');
    expect((await h.read(11, 10)).length).toBe(0);
    expect((await h.read(500, 10)).length).toBe(0);
    await h.close();
    expect(text(await io.readFile(path))).toBe('HELLO world');
  });

  it('writes without a position at the end of the file, also for r+', async () => {
    const path = join(dir, 'log');
    await writeFile(path, 'abc');
    const h = await io.open(path, 'r+');
    await h.write(bytes('def'));
    await h.write(bytes('g'));
    await h.datasync();
    await h.close();
    expect(await readFile(path, 'utf8')).toBe('abcdefg');

    const a = await io.open(path, 'a');
    await a.write(bytes('h'));
    // O_APPEND ignores positions: the contract says append handles always write at the end.
    await a.write(bytes('i'), 0);
    await a.close();
    expect(await readFile(path, 'utf8')).toBe('abcdefghi');
  });

  it('loops until every byte is written when the platform writes short', async () => {
    const path = join(dir, 'short');
    const probe = await nodeOpen(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as {
      write: (buf: Uint8Array, off: number, len: number, pos: number | null) => Promise<{ bytesWritten: number }>;
    };
    await probe.close();
    const original = proto.write;
    const spy = vi.spyOn(proto, 'write').mockImplementation(function (this: unknown, buf, off, len, pos) {
      return original.call(this, buf, off, Math.min(len, 3), pos);
    });
    const h = await io.open(path, 'w');
    const data = bytes('0123456789abcdefghij');
    await h.write(data, 0);
    await h.write(bytes('XYZW'));
    await h.close();
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(9);
    spy.mockRestore();
    expect(await readFile(path, 'utf8')).toBe('0123456789abcdefghijXYZW');
  });

  it('fails with CORE_FILE_IO instead of spinning when a write makes no progress', async () => {
    const probe = await nodeOpen(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<{ bytesWritten: number }> };
    await probe.close();
    vi.spyOn(proto, 'write').mockResolvedValue({ bytesWritten: 0 });
    const h = await io.open(join(dir, 'stuck'), 'w');
    const err = await rejection(() => h.write(bytes('data'), 0));
    vi.restoreAllMocks();
    await h.close();
    expect(isNovacronError(err, 'CORE_FILE_IO')).toBe(true);
    expect((err as { details: unknown }).details).toMatchObject({ op: 'write' });
  });

  it('truncates and zero-extends', async () => {
    const path = join(dir, 't');
    await writeFile(path, 'abcdef');
    const h = await io.open(path, 'r+');
    await h.truncate(2);
    expect(await h.size()).toBe(2);
    await h.truncate(4);
    expect(Array.from(await h.read(0, 10))).toEqual([97, 98, 0, 0]);
    await h.close();
  });

  it('follows the platform flag: a w handle is write-only', async () => {
    const h = await io.open(join(dir, 'wo'), 'w');
    await h.write(bytes('x'), 0);
    const err = await rejection(() => h.read(0, 1));
    await h.close();
    expect(isNovacronError(err, 'CORE_FILE_IO')).toBe(true);
    expect((err as { details: unknown }).details).toMatchObject({ op: 'read', errno: 'EBADF' });
  });

  it('a closed handle refuses work with CORE_FILE_IO and closing twice is harmless', async () => {
    const h = await io.open(join(dir, 'c'), 'w');
    await h.close();
    await h.close();
    for (const op of [() => h.read(0, 1), () => h.write(bytes('x')), () => h.sync(), () => h.size()]) {
      const err = await rejection(op);
      expect(isNovacronError(err, 'CORE_FILE_IO')).toBe(true);
    }
  });

  it('validates arguments', async () => {
    const h = await io.open(join(dir, 'v'), 'w');
    for (const op of [
      () => h.read(-1, 1),
      () => h.read(0, -1),
      () => h.read(0, 1.5),
      () => h.write('x' as unknown as Uint8Array),
      () => h.truncate(-5),
      () => io.open(join(dir, 'x'), 'rw' as 'r'),
      () => io.open('', 'r'),
    ]) {
      expect(isNovacronError(await rejection(op), 'CORE_INVALID_ARGUMENT')).toBe(true);
    }
    await h.close();
  });
});

describe('nodeFileIO errors', () => {
  it('maps ENOENT to CORE_FILE_NOT_FOUND with path, op and cause', async () => {
    const path = join(dir, 'missing');
    const err = await rejection(() => io.readFile(path));
    expect(isNovacronError(err, 'CORE_FILE_NOT_FOUND')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ path, op: 'readFile', errno: 'ENOENT' });
    expect((err as Error).cause).toMatchObject({ code: 'ENOENT' });
    expect(isNovacronError(await rejection(() => io.open(path, 'r')), 'CORE_FILE_NOT_FOUND')).toBe(true);
    expect(isNovacronError(await rejection(() => io.rename(path, join(dir, 'x'))), 'CORE_FILE_NOT_FOUND')).toBe(true);
    expect(isNovacronError(await rejection(() => io.syncDir(join(dir, 'nodir'))), 'CORE_FILE_NOT_FOUND')).toBe(true);
  });

  it('maps EEXIST to CORE_FILE_EXISTS', async () => {
    const path = join(dir, 'exists');
    await writeFile(path, 'x');
    const err = await rejection(() => io.open(path, 'wx'));
    expect(isNovacronError(err, 'CORE_FILE_EXISTS')).toBe(true);
    expect((err as { details: unknown }).details).toMatchObject({ path, op: 'open' });
  });

  it('maps other failures to CORE_FILE_IO', async () => {
    const err = await rejection(() => io.readFile(dir));
    expect(isNovacronError(err, 'CORE_FILE_IO')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ path: dir, op: 'readFile', errno: 'EISDIR' });
  });
});

describe('nodeFileIO directory operations', () => {
  it('mkdir creates parents, list is sorted, remove ignores missing files', async () => {
    const nested = join(dir, 'a', 'b', 'c');
    await io.mkdir(nested);
    await io.mkdir(nested);
    for (const name of ['zeta', 'alpha', 'Mid', '10', '9']) await writeFile(join(nested, name), '');
    expect(await io.list(nested)).toEqual(['10', '9', 'Mid', 'alpha', 'zeta']);
    await io.remove(join(nested, 'alpha'));
    await io.remove(join(nested, 'alpha'));
    expect(await io.list(nested)).toEqual(['10', '9', 'Mid', 'zeta']);
    expect(isNovacronError(await rejection(() => io.list(join(dir, 'none'))), 'CORE_FILE_NOT_FOUND')).toBe(true);
  });

  it('stat reports size, mode and kind, or undefined', async () => {
    const path = join(dir, 's');
    await writeFile(path, '12345');
    await io.chmod(path, 0o640);
    expect(await io.stat(path)).toEqual({ size: 5, mode: 0o640, isDirectory: false });
    expect((await io.stat(dir))?.isDirectory).toBe(true);
    expect(await io.stat(join(dir, 'nope'))).toBeUndefined();
  });

  it('rename replaces the target and syncDir succeeds on a real directory', async () => {
    await writeFile(join(dir, 'from'), 'new');
    await writeFile(join(dir, 'to'), 'old');
    await io.rename(join(dir, 'from'), join(dir, 'to'));
    await io.syncDir(dir);
    expect(await readFile(join(dir, 'to'), 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['to']);
  });
});

/** Wraps `inner`, recording each call and letting a test fail chosen operations. */
function recordingIO(inner: FileIO, failOn?: string): { io: FileIO; calls: string[] } {
  const calls: string[] = [];
  const io: FileIO = {
    async open(path, flags, mode) {
      calls.push(`open ${flags}`);
      const h = await inner.open(path, flags, mode);
      return {
        path: h.path,
        read: (p, l) => h.read(p, l),
        write: async (d, p) => {
          calls.push('write');
          if (failOn === 'write') throw new Error('injected write failure');
          return h.write(d, p);
        },
        sync: async () => {
          calls.push('sync');
          return h.sync();
        },
        datasync: () => h.datasync(),
        truncate: (l) => h.truncate(l),
        size: () => h.size(),
        close: async () => {
          calls.push('close');
          return h.close();
        },
      };
    },
    readFile: (p) => inner.readFile(p),
    async rename(from, to) {
      calls.push('rename');
      if (failOn === 'rename') throw new Error('injected rename failure');
      return inner.rename(from, to);
    },
    async remove(p) {
      calls.push('remove');
      return inner.remove(p);
    },
    list: (d) => inner.list(d),
    mkdir: (p) => inner.mkdir(p),
    stat: (p) => inner.stat(p),
    async chmod(p, m) {
      calls.push(`chmod ${m.toString(8)}`);
      return inner.chmod(p, m);
    },
    async syncDir(p) {
      calls.push('syncDir');
      return inner.syncDir(p);
    },
  };
  return { io, calls };
}

describe('atomicWriteFile', () => {
  it('creates and replaces a file, leaving no temporary files', async () => {
    const path = join(dir, 'state.json');
    await atomicWriteFile(io, path, bytes('v1'));
    await atomicWriteFile(io, path, bytes('version two'));
    expect(await readFile(path, 'utf8')).toBe('version two');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('follows write, fsync, rename, directory fsync — in that order', async () => {
    const rec = recordingIO(io);
    await atomicWriteFile(rec.io, join(dir, 'f'), bytes('data'), { mode: 0o600 });
    expect(rec.calls).toEqual(['open wx', 'write', 'sync', 'close', 'chmod 600', 'rename', 'syncDir']);
  });

  it('sets the exact mode whatever the umask', async () => {
    const path = join(dir, 'secret');
    const previous = process.umask(0o077);
    try {
      await atomicWriteFile(io, path, bytes('k'), { mode: 0o640 });
    } finally {
      process.umask(previous);
    }
    expect((await stat(path)).mode & 0o777).toBe(0o640);
  });

  it('keeps the old contents and removes the temp file when a step fails', async () => {
    const path = join(dir, 'keep');
    await writeFile(path, 'old');
    for (const step of ['write', 'rename']) {
      const rec = recordingIO(io, step);
      const err = await rejection(() => atomicWriteFile(rec.io, path, bytes('new')));
      expect((err as Error).message).toContain(`injected ${step} failure`);
      expect(rec.calls).toContain('remove');
      expect(await readFile(path, 'utf8')).toBe('old');
      expect(await readdir(dir)).toEqual(['keep']);
    }
  });

  it('fails with CORE_FILE_NOT_FOUND when the directory is missing', async () => {
    const err = await rejection(() => atomicWriteFile(io, join(dir, 'no', 'file'), bytes('x')));
    expect(isNovacronError(err, 'CORE_FILE_NOT_FOUND')).toBe(true);
  });

  it('derives temp names from the target and a seeded rng when given', async () => {
    const names: string[] = [];
    const spyIO: FileIO = {
      ...io,
      open: (p, f, m) => {
        names.push(p);
        return io.open(p, f, m);
      },
    };
    await atomicWriteFile(spyIO, join(dir, 'x.json'), bytes('1'), { rng: seededRng('temp') });
    await atomicWriteFile(spyIO, join(dir, 'x.json'), bytes('2'), { rng: seededRng('temp') });
    expect(names[0]).toBe(names[1]);
    expect(names[0]).toMatch(/\/\.x\.json\.[0-9a-f]{12}\.tmp$/);
  });
});
