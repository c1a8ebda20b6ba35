import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreErrorCode,
  type FileHandle,
  type FileIO,
  type OpenFlags,
  isNovacronError,
  nodeFileIO,
} from '@novacron/core';
import { MemoryFileIO } from '@novacron/testkit';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** One scripted call; paths are relative to the working directory, handles live in numbered slots. */
type Step =
  | { op: 'open'; h: number; path: string; flags: OpenFlags; mode?: number }
  | { op: 'write'; h: number; data: string; position?: number }
  | { op: 'read'; h: number; position: number; length: number }
  | { op: 'truncate'; h: number; length: number }
  | { op: 'size' | 'sync' | 'datasync' | 'close'; h: number }
  | { op: 'readFile' | 'remove' | 'list' | 'mkdir' | 'stat' | 'syncDir'; path: string }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'rename'; from: string; to: string };

/** What a step produced, in a form both file systems can agree on. */
type Outcome = { ok: unknown } | { error: string; errno: unknown };

/** Runs a script against `io` inside `dir`, then describes the final tree. */
async function runScript(
  io: FileIO,
  dir: string,
  steps: readonly Step[],
): Promise<{ outcomes: Outcome[]; tree: unknown }> {
  const handles = new Map<number, { handle: FileHandle; isDir: boolean }>();
  const at = (rel: string) => (rel === '' ? dir : join(dir, rel));
  const outcomes: Outcome[] = [];
  for (const step of steps) {
    try {
      outcomes.push({ ok: await runStep(io, step, handles, at) });
    } catch (err) {
      if (!isNovacronError(err)) throw err;
      outcomes.push({ error: err.code, errno: err.details.errno });
    }
  }
  for (const { handle } of handles.values()) await handle.close();
  return { outcomes, tree: await describeTree(io, dir) };
}

async function runStep(
  io: FileIO,
  step: Step,
  handles: Map<number, { handle: FileHandle; isDir: boolean }>,
  at: (rel: string) => string,
): Promise<unknown> {
  if ('h' in step && step.op !== 'open') {
    const slot = handles.get(step.h);
    if (!slot) return 'no handle';
    const h = slot.handle;
    switch (step.op) {
      case 'write':
        return h.write(enc(step.data), step.position);
      case 'read':
        return dec(await h.read(step.position, step.length));
      case 'truncate':
        return h.truncate(step.length);
      case 'size':
        // Directory sizes are file-system specific (ext4 says 4096).
        return slot.isDir ? 'directory' : h.size();
      case 'sync':
        return h.sync();
      case 'datasync':
        return h.datasync();
      case 'close':
        handles.delete(step.h);
        return h.close();
    }
  }
  switch (step.op) {
    case 'open': {
      await handles.get(step.h)?.handle.close();
      handles.delete(step.h);
      const handle = await io.open(at(step.path), step.flags, step.mode);
      const isDir = (await io.stat(at(step.path)))?.isDirectory ?? false;
      handles.set(step.h, { handle, isDir });
      return 'opened';
    }
    case 'readFile':
      return dec(await io.readFile(at(step.path)));
    case 'remove':
      return io.remove(at(step.path));
    case 'list':
      return io.list(at(step.path));
    case 'mkdir':
      return io.mkdir(at(step.path));
    case 'stat': {
      const st = await io.stat(at(step.path));
      return st && (st.isDirectory ? { dir: true, mode: st.mode } : st);
    }
    case 'syncDir':
      return io.syncDir(at(step.path));
    case 'chmod':
      return io.chmod(at(step.path), step.mode);
    case 'rename':
      return io.rename(at(step.from), at(step.to));
  }
  throw new Error(`unhandled step ${JSON.stringify(step)}`);
}

async function describeTree(io: FileIO, dir: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const walk = async (path: string, rel: string) => {
    for (const name of await io.list(path)) {
      const child = join(path, name);
      const st = (await io.stat(child))!;
      if (st.isDirectory) {
        out[`${rel}${name}/`] = st.mode;
        await walk(child, `${rel}${name}/`);
      } else {
        out[`${rel}${name}`] = { mode: st.mode, text: dec(await io.readFile(child)) };
      }
    }
  };
  await walk(dir, '');
  return out;
}

/** Runs the same script on a fresh MemoryFileIO and on nodeFileIO in a fresh temp dir. */
async function differential(steps: readonly Step[]) {
  const real = await mkdtemp(join(tmpdir(), 'novacron-memfs-'));
  try {
    const memory = new MemoryFileIO();
    await memory.mkdir('/w');
    // mkdtemp makes its directory 0o700.
    await memory.chmod('/w', (await nodeFileIO().stat(real))!.mode);
    const expected = await runScript(nodeFileIO(), real, steps);
    const actual = await runScript(memory, '/w', steps);
    return { expected, actual };
  } finally {
    await rm(real, { recursive: true, force: true });
  }
}

describe('MemoryFileIO matches nodeFileIO', () => {
  const scripts: Record<string, Step[]> = {
    'open flags and their errors': [
      { op: 'open', h: 0, path: 'f', flags: 'r' },
      { op: 'open', h: 0, path: 'f', flags: 'r+' },
      { op: 'open', h: 0, path: 'f', flags: 'wx', mode: 0o600 },
      { op: 'write', h: 0, data: 'hello' },
      { op: 'open', h: 1, path: 'f', flags: 'wx' },
      { op: 'open', h: 1, path: 'f', flags: 'a' },
      { op: 'write', h: 1, data: '!', position: 0 },
      { op: 'read', h: 1, position: 0, length: 10 },
      { op: 'open', h: 2, path: 'f', flags: 'r' },
      { op: 'read', h: 2, position: 0, length: 100 },
      { op: 'write', h: 2, data: 'x', position: 0 },
      { op: 'truncate', h: 2, length: 0 },
      { op: 'open', h: 2, path: 'f', flags: 'w' },
      { op: 'size', h: 2 },
      { op: 'stat', path: 'f' },
      { op: 'open', h: 0, path: 'nodir/f', flags: 'w' },
      { op: 'open', h: 0, path: 'f/g', flags: 'w' },
    ],
    'positional writes, gaps and truncation': [
      { op: 'open', h: 0, path: 'f', flags: 'w' },
      { op: 'close', h: 0 },
      { op: 'open', h: 0, path: 'f', flags: 'r+' },
      { op: 'write', h: 0, data: 'abc', position: 5 },
      { op: 'write', h: 0, data: 'de' },
      { op: 'read', h: 0, position: 0, length: 20 },
      { op: 'truncate', h: 0, length: 3 },
      { op: 'truncate', h: 0, length: 6 },
      { op: 'read', h: 0, position: 2, length: 3 },
      { op: 'read', h: 0, position: 6, length: 3 },
      { op: 'size', h: 0 },
      { op: 'datasync', h: 0 },
      { op: 'sync', h: 0 },
      { op: 'readFile', path: 'f' },
    ],
    'rename in every shape': [
      { op: 'mkdir', path: 'd/e' },
      { op: 'open', h: 0, path: 'a', flags: 'w' },
      { op: 'write', h: 0, data: 'A' },
      { op: 'open', h: 1, path: 'b', flags: 'w' },
      { op: 'write', h: 1, data: 'B' },
      { op: 'rename', from: 'a', to: 'b' },
      { op: 'rename', from: 'a', to: 'c' },
      { op: 'rename', from: 'b', to: 'nodir/b' },
      { op: 'rename', from: 'b', to: 'b/x' },
      { op: 'rename', from: 'b', to: 'd' },
      { op: 'rename', from: 'd', to: 'b' },
      { op: 'rename', from: 'd', to: 'd/e/f' },
      { op: 'rename', from: 'd/e', to: 'd' },
      { op: 'rename', from: 'b', to: 'b' },
      { op: 'rename', from: 'b', to: 'd/e/b' },
      { op: 'rename', from: 'd', to: 'z' },
      { op: 'list', path: 'z/e' },
      { op: 'write', h: 1, data: 'still open' },
    ],
    'remove, list, mkdir, stat, chmod, syncDir': [
      { op: 'mkdir', path: 'd' },
      { op: 'mkdir', path: 'd' },
      { op: 'open', h: 0, path: 'd/f', flags: 'w', mode: 0o640 },
      { op: 'mkdir', path: 'd/f' },
      { op: 'mkdir', path: 'd/f/g' },
      { op: 'list', path: 'd' },
      { op: 'list', path: 'd/f' },
      { op: 'list', path: 'missing' },
      { op: 'remove', path: 'd' },
      { op: 'remove', path: 'missing' },
      { op: 'remove', path: 'missing/x' },
      { op: 'stat', path: 'd' },
      { op: 'stat', path: 'd/f' },
      { op: 'stat', path: 'missing/x' },
      { op: 'stat', path: 'd/f/x' },
      { op: 'chmod', path: 'd/f', mode: 0o600 },
      { op: 'chmod', path: 'missing', mode: 0o600 },
      { op: 'syncDir', path: 'd' },
      { op: 'syncDir', path: 'missing' },
      { op: 'syncDir', path: 'd/f' },
      { op: 'readFile', path: 'd' },
      { op: 'readFile', path: 'missing' },
      { op: 'remove', path: 'd/f' },
      { op: 'write', h: 0, data: 'unlinked but open' },
      { op: 'size', h: 0 },
      { op: 'list', path: 'd' },
    ],
    'directories opened read-only': [
      { op: 'mkdir', path: 'd' },
      { op: 'open', h: 0, path: 'd', flags: 'r' },
      { op: 'sync', h: 0 },
      { op: 'read', h: 0, position: 0, length: 4 },
      { op: 'write', h: 0, data: 'x' },
      { op: 'open', h: 1, path: 'd', flags: 'a' },
      { op: 'open', h: 1, path: 'd', flags: 'wx' },
    ],
  };

  for (const [name, steps] of Object.entries(scripts)) {
    it(name, async () => {
      const { expected, actual } = await differential(steps);
      expect(actual.outcomes).toEqual(expected.outcomes);
      expect(actual.tree).toEqual(expected.tree);
    });
  }

  it('random operation sequences give the same results and tree', async () => {
    const path = fc.constantFrom('a', 'b', 'd', 'd/a', 'd/e', 'a/x', '');
    const h = fc.integer({ min: 0, max: 2 });
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({
        op: fc.constant('open' as const),
        h,
        path,
        flags: fc.constantFrom<OpenFlags>('r', 'r+', 'w', 'wx', 'a'),
        mode: fc.constantFrom(0o600, 0o644, 0o640),
      }),
      fc.record(
        { op: fc.constant('write' as const), h, data: fc.string({ maxLength: 6 }), position: fc.nat(12) },
        { requiredKeys: ['op', 'h', 'data'] },
      ),
      fc.record({ op: fc.constant('read' as const), h, position: fc.nat(12), length: fc.nat(12) }),
      fc.record({ op: fc.constant('truncate' as const), h, length: fc.nat(12) }),
      fc.record({ op: fc.constantFrom('size' as const, 'sync' as const, 'datasync' as const, 'close' as const), h }),
      fc.record({
        op: fc.constantFrom(
          'readFile' as const,
          'remove' as const,
          'list' as const,
          'mkdir' as const,
          'stat' as const,
          'syncDir' as const,
        ),
        path,
      }),
      fc.record({ op: fc.constant('chmod' as const), path, mode: fc.constantFrom(0o600, 0o755) }),
      fc.record({ op: fc.constant('rename' as const), from: path, to: path }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const { expected, actual } = await differential(steps);
        expect(actual.outcomes).toEqual(expected.outcomes);
        expect(actual.tree).toEqual(expected.tree);
      }),
      { numRuns: 150 },
    );
  });
});

describe('MemoryFileIO', () => {
  let io: MemoryFileIO;
  beforeEach(async () => {
    io = new MemoryFileIO();
    await io.mkdir('/d');
  });
  afterEach(() => undefined);

  it('resolves relative paths against the root and keeps the given path on handles', async () => {
    const h = await io.open('d/../d/./f', 'w');
    expect(h.path).toBe('d/../d/./f');
    await h.write(enc('x'));
    await h.close();
    expect(await io.list('/d')).toEqual(['f']);
    expect(dec(await io.readFile('/d/f'))).toBe('x');
  });

  it('applies the umask to created files and directories but not to chmod', async () => {
    const strict = new MemoryFileIO({ umask: 0o077 });
    await strict.mkdir('/x');
    await (await strict.open('/x/f', 'w', 0o666)).close();
    expect((await strict.stat('/x'))?.mode).toBe(0o700);
    expect((await strict.stat('/x/f'))?.mode).toBe(0o600);
    await strict.chmod('/x/f', 0o666);
    expect((await strict.stat('/x/f'))?.mode).toBe(0o666);
  });

  it('refuses to grow a file past maxFileSize instead of allocating', async () => {
    const small = new MemoryFileIO({ maxFileSize: 1024 });
    const h = await small.open('/f', 'w');
    await h.write(new Uint8Array(1024), 0);
    await expect(h.write(new Uint8Array(1), 1024)).rejects.toMatchObject({
      code: CoreErrorCode.FILE_IO,
      details: { errno: 'EFBIG' },
    });
    await expect(h.truncate(2 ** 40)).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
    await expect(h.write(enc('x'), Number.MAX_SAFE_INTEGER)).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO });
    expect(await h.size()).toBe(1024);
  });

  it('errors carry op, path and errno like nodeFileIO', async () => {
    const err = await io.open('/d/missing', 'r').catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: CoreErrorCode.FILE_NOT_FOUND,
      details: { op: 'open', path: '/d/missing', errno: 'ENOENT' },
    });
    expect((err as Error).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('tracks volatile and durable views separately', async () => {
    io.syncAll();
    const h = await io.open('/d/f', 'w');
    await h.write(enc('v1'));
    expect(io.volatileSnapshot()).toEqual(new Map([['/d/f', enc('v1')]]));
    expect(io.durableSnapshot()).toEqual(new Map());
    await h.datasync();
    // The data is durable but the name is not until the directory is synced.
    expect(io.durableSnapshot()).toEqual(new Map());
    await io.syncDir('/d');
    expect(io.durableSnapshot()).toEqual(new Map([['/d/f', enc('v1')]]));
    await h.write(enc('+v2'));
    expect(dec(io.volatileSnapshot().get('/d/f')!)).toBe('v1+v2');
    expect(dec(io.durableSnapshot().get('/d/f')!)).toBe('v1');
    await h.close();
  });

  it('snapshots are copies', async () => {
    const h = await io.open('/d/f', 'w');
    await h.write(enc('abc'));
    const snap = io.volatileSnapshot();
    snap.get('/d/f')![0] = 0;
    expect(dec(await io.readFile('/d/f'))).toBe('abc');
    await h.close();
  });

  it('validates constructor options', () => {
    expect(() => new MemoryFileIO({ umask: -1 })).toThrow(expect.objectContaining({ code: 'CORE_INVALID_ARGUMENT' }));
    expect(() => new MemoryFileIO({ maxFileSize: 1.5 })).toThrow(
      expect.objectContaining({ code: 'CORE_INVALID_ARGUMENT' }),
    );
  });
});
