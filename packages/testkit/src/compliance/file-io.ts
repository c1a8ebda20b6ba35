import { join } from 'node:path';
import { CoreErrorCode, type FileIO } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link fileIOCompliance} tests: a file system and an existing, empty directory on it to work in. */
export interface FileIOFixture {
  /** The implementation under test. */
  readonly io: FileIO;
  /** An existing, empty directory; every test stays inside it. */
  readonly dir: string;
}

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/**
 * The `FileIO` contract as a vitest suite: open flags and their errors,
 * positional and appending writes, reads at and past the end, truncate,
 * rename, remove, list, mkdir, stat, chmod, syncDir, closed handles and
 * argument validation. Semantics follow `nodeFileIO()` on Linux; the suite
 * avoids what real file systems disagree on (directory sizes, umask-filtered
 * default modes). It checks behaviour only, not durability: crash
 * behaviour is the business of testkit's `CrashConsistentFileIO`.
 *
 * ```ts
 * import { fileIOCompliance } from '@novacron/testkit/compliance/file-io';
 * fileIOCompliance('my fs', { setup: async () => ({ io: myIO(), dir: await makeEmptyDir() }) });
 * ```
 */
export function fileIOCompliance(name: string, fixtures: ComplianceFixtures<FileIOFixture>): void {
  describe(`FileIO compliance: ${name}`, () => {
    let f: FileIOFixture;
    let io: FileIO;
    const p = (...parts: string[]) => join(f.dir, ...parts);
    const put = async (path: string, text: string) => {
      const h = await io.open(path, 'w');
      await h.write(enc(text), 0);
      await h.close();
    };

    beforeEach(async () => {
      f = await fixtures.setup();
      io = f.io;
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    describe('open', () => {
      it("'r' and 'r+' on a missing file fail with CORE_FILE_NOT_FOUND", async () => {
        await expect(io.open(p('missing'), 'r')).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
        await expect(io.open(p('missing'), 'r+')).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
        expect(await io.stat(p('missing'))).toBeUndefined();
      });

      it("'wx' creates a new file and fails with CORE_FILE_EXISTS on an existing one", async () => {
        const h = await io.open(p('x'), 'wx');
        await h.close();
        expect(await io.stat(p('x'))).toMatchObject({ size: 0, isDirectory: false });
        await expect(io.open(p('x'), 'wx')).rejects.toMatchObject({ code: CoreErrorCode.FILE_EXISTS });
        await io.mkdir(p('d'));
        await expect(io.open(p('d'), 'wx')).rejects.toMatchObject({ code: CoreErrorCode.FILE_EXISTS });
      });

      it("'w' creates a file or truncates an existing one", async () => {
        await put(p('f'), 'hello world');
        const h = await io.open(p('f'), 'w');
        expect(await h.size()).toBe(0);
        await h.write(enc('hi'));
        await h.close();
        expect(dec(await io.readFile(p('f')))).toBe('hi');
      });

      it("'a' creates a missing file and keeps an existing one", async () => {
        const a = await io.open(p('log'), 'a');
        await a.write(enc('one'));
        await a.close();
        const b = await io.open(p('log'), 'a');
        expect(await b.size()).toBe(3);
        await b.write(enc('two'));
        await b.close();
        expect(dec(await io.readFile(p('log')))).toBe('onetwo');
      });

      it("'r+' keeps contents and allows positional reads and writes", async () => {
        await put(p('f'), 'abcdef');
        const h = await io.open(p('f'), 'r+');
        await h.write(enc('XY'), 2);
        expect(dec(await h.read(0, 6))).toBe('abXYef');
        await h.close();
      });

      it('creating a file in a missing directory fails with CORE_FILE_NOT_FOUND', async () => {
        for (const flags of ['w', 'wx', 'a'] as const) {
          await expect(io.open(p('nodir', 'f'), flags)).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
        }
        expect(await io.list(f.dir)).toEqual([]);
      });

      it('opening a directory for writing fails with CORE_FILE_IO', async () => {
        await io.mkdir(p('d'));
        for (const flags of ['w', 'r+', 'a'] as const) {
          await expect(io.open(p('d'), flags)).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        }
      });

      it('applies an explicit mode and keeps the path it was given', async () => {
        const h = await io.open(p('secret'), 'wx', 0o600);
        expect(h.path).toBe(p('secret'));
        await h.close();
        expect((await io.stat(p('secret')))?.mode).toBe(0o600);
      });

      it('rejects bad arguments with CORE_INVALID_ARGUMENT', async () => {
        await expect(io.open('', 'r')).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
        await expect(io.open(p('f'), 'rw' as 'r')).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
        await expect(io.open(p('f'), 'w', -1)).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
        expect(await io.stat(p('f'))).toBeUndefined();
      });
    });

    describe('handles', () => {
      it('writes at a position, zero-filling a gap, and writes at the end without one', async () => {
        await put(p('f'), '');
        const h = await io.open(p('f'), 'r+');
        await h.write(enc('ab'), 4);
        expect(Array.from(await h.read(0, 10))).toEqual([0, 0, 0, 0, 97, 98]);
        await h.write(enc('cd'));
        await h.write(enc('Z'), 0);
        expect(dec(await h.read(4, 4))).toBe('abcd');
        expect(await h.size()).toBe(8);
        await h.close();
        expect(Array.from(await io.readFile(p('f')))).toEqual([90, 0, 0, 0, 97, 98, 99, 100]);
      });

      it("'a' handles append whatever position is given", async () => {
        await put(p('f'), 'abc');
        const h = await io.open(p('f'), 'a');
        await h.write(enc('d'), 0);
        await h.write(enc('e'));
        await h.close();
        expect(dec(await io.readFile(p('f')))).toBe('abcde');
      });

      it('reads return fewer bytes only at the end, and none past it', async () => {
        await put(p('f'), '0123456789');
        const h = await io.open(p('f'), 'r');
        expect(dec(await h.read(2, 3))).toBe('234');
        expect(dec(await h.read(8, 100))).toBe('89');
        expect((await h.read(10, 5)).length).toBe(0);
        expect((await h.read(1000, 5)).length).toBe(0);
        expect((await h.read(0, 0)).length).toBe(0);
        await h.close();
      });

      it('a huge read length on a small file allocates only what exists', async () => {
        await put(p('f'), 'abc');
        const h = await io.open(p('f'), 'r');
        expect(dec(await h.read(0, 2 ** 31 - 1))).toBe('abc');
        await h.close();
      });

      it('truncate cuts and zero-extends', async () => {
        await put(p('f'), 'abcdef');
        const h = await io.open(p('f'), 'r+');
        await h.truncate(2);
        expect(await h.size()).toBe(2);
        await h.truncate(5);
        expect(Array.from(await h.read(0, 10))).toEqual([97, 98, 0, 0, 0]);
        await h.close();
        expect((await io.stat(p('f')))?.size).toBe(5);
      });

      it('sync and datasync succeed, also on read-only handles', async () => {
        const w = await io.open(p('f'), 'w');
        await w.write(enc('data'));
        await w.datasync();
        await w.sync();
        await w.close();
        const r = await io.open(p('f'), 'r');
        await r.sync();
        await r.close();
      });

      it('a handle keeps the bytes it was given, and reads return copies', async () => {
        const h = await io.open(p('f'), 'w');
        const buf = enc('abc');
        await h.write(buf, 0);
        buf[0] = 120;
        await h.close();
        const r = await io.open(p('f'), 'r');
        const got = await r.read(0, 3);
        got[1] = 120;
        expect(dec(await r.read(0, 3))).toBe('abc');
        await r.close();
      });

      it('large writes round-trip', async () => {
        const big = new Uint8Array(1 << 20);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
        const h = await io.open(p('big'), 'w');
        await h.write(big, 0);
        await h.close();
        const back = await io.readFile(p('big'));
        // Byte-wise deep equality on a megabyte is slow in expect; compare natively.
        expect(back.length).toBe(big.length);
        expect(Buffer.compare(back, big)).toBe(0);
      });

      it('reading a write-only handle and writing a read-only one fail with CORE_FILE_IO', async () => {
        await put(p('f'), 'abc');
        const w = await io.open(p('f'), 'a');
        await expect(w.read(0, 1)).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await w.close();
        const r = await io.open(p('f'), 'r');
        await expect(r.write(enc('x'), 0)).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await expect(r.truncate(0)).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await r.close();
        expect(dec(await io.readFile(p('f')))).toBe('abc');
      });

      it('a closed handle fails with CORE_FILE_IO and closing twice is harmless', async () => {
        const h = await io.open(p('f'), 'w');
        await h.close();
        await h.close();
        await expect(h.write(enc('x'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await expect(h.read(0, 1)).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await expect(h.sync()).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await expect(h.size()).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
      });

      it('rejects bad handle arguments with CORE_INVALID_ARGUMENT', async () => {
        const h = await io.open(p('f'), 'w');
        await expect(h.read(-1, 1)).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
        await expect(h.read(0, 1.5)).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
        await expect(h.write('x' as unknown as Uint8Array)).rejects.toMatchObject({
          code: CoreErrorCode.INVALID_ARGUMENT,
        });
        await expect(h.write(enc('x'), -3)).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
        await expect(h.truncate(-1)).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
        expect(await h.size()).toBe(0);
        await h.close();
      });

      it('a removed file stays usable through a handle opened before', async () => {
        const h = await io.open(p('f'), 'w');
        await io.remove(p('f'));
        await h.write(enc('ghost'), 0);
        expect(await h.size()).toBe(5);
        await h.close();
        expect(await io.stat(p('f'))).toBeUndefined();
      });
    });

    describe('readFile', () => {
      it('reads whole files and fails on missing files and directories', async () => {
        await put(p('f'), 'contents');
        expect(dec(await io.readFile(p('f')))).toBe('contents');
        await expect(io.readFile(p('missing'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
        await io.mkdir(p('d'));
        await expect(io.readFile(p('d'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
      });
    });

    describe('rename', () => {
      it('moves a file, replacing an existing target', async () => {
        await put(p('a'), 'new');
        await put(p('b'), 'old');
        await io.rename(p('a'), p('b'));
        expect(await io.list(f.dir)).toEqual(['b']);
        expect(dec(await io.readFile(p('b')))).toBe('new');
      });

      it('moves files between directories and renames directories', async () => {
        await io.mkdir(p('d1'));
        await io.mkdir(p('d2'));
        await put(p('d1', 'f'), 'x');
        await io.rename(p('d1', 'f'), p('d2', 'g'));
        expect(await io.list(p('d1'))).toEqual([]);
        expect(await io.list(p('d2'))).toEqual(['g']);
        await io.rename(p('d2'), p('d3'));
        expect(dec(await io.readFile(p('d3', 'g')))).toBe('x');
        expect(await io.stat(p('d2'))).toBeUndefined();
      });

      it('renaming a file onto itself changes nothing', async () => {
        await put(p('a'), 'same');
        await io.rename(p('a'), p('a'));
        expect(dec(await io.readFile(p('a')))).toBe('same');
      });

      it('fails with CORE_FILE_NOT_FOUND for a missing source or destination directory', async () => {
        await expect(io.rename(p('missing'), p('b'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
        await put(p('a'), 'x');
        await expect(io.rename(p('a'), p('nodir', 'b'))).rejects.toMatchObject({
          code: CoreErrorCode.FILE_NOT_FOUND,
        });
        expect(dec(await io.readFile(p('a')))).toBe('x');
      });

      it('fails with CORE_FILE_IO for a file onto a directory or a directory onto a non-empty one', async () => {
        await put(p('a'), 'x');
        await io.mkdir(p('d'));
        await put(p('d', 'inner'), 'y');
        await io.mkdir(p('e'));
        await expect(io.rename(p('a'), p('d'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await expect(io.rename(p('e'), p('d'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        await expect(io.rename(p('e'), p('a'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        expect(await io.list(f.dir)).toEqual(['a', 'd', 'e']);
      });
    });

    describe('remove', () => {
      it('removes a file; a missing file or directory is not an error', async () => {
        await put(p('a'), 'x');
        await io.remove(p('a'));
        expect(await io.stat(p('a'))).toBeUndefined();
        await io.remove(p('a'));
        await io.remove(p('nodir', 'a'));
      });

      it('refuses a directory with CORE_FILE_IO', async () => {
        await io.mkdir(p('d'));
        await expect(io.remove(p('d'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
        expect((await io.stat(p('d')))?.isDirectory).toBe(true);
      });
    });

    describe('list and mkdir', () => {
      it('lists names sorted, directories included', async () => {
        await put(p('b'), '');
        await put(p('a'), '');
        await put(p('C'), '');
        await io.mkdir(p('d'));
        expect(await io.list(f.dir)).toEqual(['C', 'a', 'b', 'd']);
      });

      it('list fails with CORE_FILE_NOT_FOUND on a missing directory and CORE_FILE_IO on a file', async () => {
        await expect(io.list(p('missing'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
        await put(p('f'), '');
        await expect(io.list(p('f'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
      });

      it('mkdir creates missing parents and accepts an existing directory', async () => {
        await io.mkdir(p('a', 'b', 'c'));
        await io.mkdir(p('a', 'b', 'c'));
        await io.mkdir(p('a'));
        expect(await io.list(p('a'))).toEqual(['b']);
        expect(await io.stat(p('a', 'b', 'c'))).toMatchObject({ isDirectory: true });
      });

      it('mkdir on an existing file fails with CORE_FILE_EXISTS, through one with CORE_FILE_IO', async () => {
        await put(p('f'), '');
        await expect(io.mkdir(p('f'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_EXISTS });
        await expect(io.mkdir(p('f', 'sub'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
      });
    });

    describe('stat, chmod and syncDir', () => {
      it('stat reports size, kind and mode, and undefined for missing paths', async () => {
        await put(p('f'), 'abcd');
        expect(await io.stat(p('f'))).toMatchObject({ size: 4, isDirectory: false });
        expect(await io.stat(f.dir)).toMatchObject({ isDirectory: true });
        expect(await io.stat(p('missing'))).toBeUndefined();
        expect(await io.stat(p('nodir', 'missing'))).toBeUndefined();
      });

      it('chmod changes permission bits and fails with CORE_FILE_NOT_FOUND on a missing path', async () => {
        await put(p('f'), '');
        await io.chmod(p('f'), 0o600);
        expect((await io.stat(p('f')))?.mode).toBe(0o600);
        await io.chmod(p('f'), 0o640);
        expect((await io.stat(p('f')))?.mode).toBe(0o640);
        await expect(io.chmod(p('missing'), 0o600)).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
        await expect(io.chmod(p('f'), 0o10000)).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
      });

      it('syncDir succeeds on a directory and fails with CORE_FILE_NOT_FOUND on a missing one', async () => {
        await put(p('f'), 'x');
        await io.syncDir(f.dir);
        await expect(io.syncDir(p('missing'))).rejects.toMatchObject({ code: CoreErrorCode.FILE_NOT_FOUND });
      });
    });

    describe('patterns stores rely on', () => {
      it('atomic replace: write temp, sync, rename over the target, sync the directory', async () => {
        await put(p('state'), 'v1');
        const h = await io.open(p('.state.tmp'), 'wx', 0o600);
        await h.write(enc('v2'), 0);
        await h.sync();
        await h.close();
        await io.rename(p('.state.tmp'), p('state'));
        await io.syncDir(f.dir);
        expect(await io.list(f.dir)).toEqual(['state']);
        expect(dec(await io.readFile(p('state')))).toBe('v2');
      });

      it('append log: appends accumulate across handles and reopen reads them back', async () => {
        const h = await io.open(p('log'), 'a');
        for (let i = 0; i < 50; i++) {
          await h.write(enc(`${i};`));
          if (i % 10 === 9) await h.datasync();
        }
        await h.close();
        const r = await io.open(p('log'), 'r');
        const size = await r.size();
        const text = dec(await r.read(0, size));
        await r.close();
        expect(text.split(';').filter(Boolean).map(Number)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      });
    });
  });
}
