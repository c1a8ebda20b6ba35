import { dirname } from 'node:path';
import {
  CoreErrorCode,
  type FileHandle,
  type FileIO,
  ManualClock,
  atomicWriteFile,
  isNovacronError,
  seededRng,
} from '@novacron/core';
import { CrashConsistentFileIO, SimWorld } from '@novacron/testkit';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function writeAll(io: FileIO, path: string, text: string, sync: 'none' | 'datasync' | 'sync'): Promise<void> {
  const h = await io.open(path, 'w');
  await h.write(enc(text), 0);
  if (sync === 'datasync') await h.datasync();
  if (sync === 'sync') await h.sync();
  await h.close();
}

async function readText(io: FileIO, path: string): Promise<string | undefined> {
  try {
    return dec(await io.readFile(path));
  } catch (err) {
    if (isNovacronError(err, CoreErrorCode.FILE_NOT_FOUND)) return undefined;
    throw err;
  }
}

describe('CrashConsistentFileIO: what survives a crash', () => {
  let io: CrashConsistentFileIO;
  beforeEach(async () => {
    io = new CrashConsistentFileIO(seededRng('crash-tests'));
    await io.mkdir('/data');
    io.syncAll();
  });

  it('an un-fsynced write vanishes', async () => {
    await writeAll(io, '/data/f', 'v1', 'sync');
    await io.syncDir('/data');
    const h = await io.open('/data/f', 'a');
    await h.write(enc('+unsynced'));
    await h.close();
    expect(await readText(io, '/data/f')).toBe('v1+unsynced');
    io.crash();
    expect(await readText(io, '/data/f')).toBe('v1');
  });

  it('a write covered by datasync survives, and so do its size changes', async () => {
    await writeAll(io, '/data/f', 'abcdef', 'sync');
    await io.syncDir('/data');
    const h = await io.open('/data/f', 'r+');
    await h.write(enc('XY'), 1);
    await h.truncate(4);
    await h.datasync();
    await h.write(enc('lost'));
    io.crash();
    expect(await readText(io, '/data/f')).toBe('aXYd');
  });

  it('a shrink then a zero-extension is durable as zeros, not as the old bytes', async () => {
    await writeAll(io, '/data/f', 'abcdefghij', 'sync');
    await io.syncDir('/data');
    const h = await io.open('/data/f', 'r+');
    await h.truncate(2);
    await h.truncate(6);
    await h.datasync();
    io.crash();
    expect(Array.from(await io.readFile('/data/f'))).toEqual([97, 98, 0, 0, 0, 0]);
  });

  it('closing a handle makes nothing durable', async () => {
    io.syncAll();
    await writeAll(io, '/data/f', 'closed', 'none');
    await io.syncDir('/data');
    io.crash();
    // The name was synced, the data never was.
    expect(await readText(io, '/data/f')).toBe('');
  });

  it('a new file whose directory was never synced vanishes even if its data was fsynced', async () => {
    await writeAll(io, '/data/new', 'payload', 'sync');
    io.crash();
    expect(await io.stat('/data/new')).toBeUndefined();
    await writeAll(io, '/data/new', 'payload', 'sync');
    await io.syncDir('/data');
    io.crash();
    expect(await readText(io, '/data/new')).toBe('payload');
  });

  it('a rename not covered by syncDir reverts; covered, it survives', async () => {
    await writeAll(io, '/data/current', 'old', 'sync');
    await writeAll(io, '/data/next', 'new', 'sync');
    await io.syncDir('/data');
    await io.rename('/data/next', '/data/current');
    expect(await io.list('/data')).toEqual(['current']);
    io.crash();
    expect(await io.list('/data')).toEqual(['current', 'next']);
    expect(await readText(io, '/data/current')).toBe('old');
    await io.rename('/data/next', '/data/current');
    await io.syncDir('/data');
    io.crash();
    expect(await io.list('/data')).toEqual(['current']);
    expect(await readText(io, '/data/current')).toBe('new');
  });

  it('a remove not covered by syncDir comes back', async () => {
    await writeAll(io, '/data/f', 'keep', 'sync');
    await io.syncDir('/data');
    await io.remove('/data/f');
    io.crash();
    expect(await readText(io, '/data/f')).toBe('keep');
    await io.remove('/data/f');
    await io.syncDir('/data');
    io.crash();
    expect(await io.stat('/data/f')).toBeUndefined();
  });

  it('a directory made by mkdir is durable only once its parent is synced', async () => {
    await io.mkdir('/data/a/b');
    await io.syncDir('/data/a');
    io.crash();
    expect(await io.stat('/data/a')).toBeUndefined();
    await io.mkdir('/data/a/b');
    await io.syncDir('/data');
    await io.syncDir('/data/a');
    io.crash();
    expect(await io.stat('/data/a/b')).toMatchObject({ isDirectory: true });
  });

  it('a cross-directory rename synced only at the destination leaves both names', async () => {
    await io.mkdir('/data/x');
    await io.mkdir('/data/y');
    await writeAll(io, '/data/x/f', 'linked', 'sync');
    io.syncAll();
    await io.rename('/data/x/f', '/data/y/f');
    await io.syncDir('/data/y');
    io.crash();
    expect(await readText(io, '/data/x/f')).toBe('linked');
    expect(await readText(io, '/data/y/f')).toBe('linked');
  });

  it('chmod is durable after sync on a handle, not after datasync', async () => {
    await writeAll(io, '/data/f', 'x', 'sync');
    await io.syncDir('/data');
    await io.chmod('/data/f', 0o600);
    const h = await io.open('/data/f', 'r');
    await h.datasync();
    io.crash();
    expect((await io.stat('/data/f'))?.mode).toBe(0o644);
    await io.chmod('/data/f', 0o600);
    const g = await io.open('/data/f', 'r');
    await g.sync();
    io.crash();
    expect((await io.stat('/data/f'))?.mode).toBe(0o600);
  });

  it('syncDir through a directory handle works like io.syncDir', async () => {
    await writeAll(io, '/data/f', 'x', 'sync');
    const dir = await io.open('/data', 'r');
    await dir.sync();
    await dir.close();
    io.crash();
    expect(await readText(io, '/data/f')).toBe('x');
  });

  it('handles opened before a crash are stale; close still succeeds; new handles work', async () => {
    await writeAll(io, '/data/f', 'x', 'sync');
    await io.syncDir('/data');
    const h = await io.open('/data/f', 'r+');
    io.crash();
    for (const call of [() => h.write(enc('y'), 0), () => h.read(0, 1), () => h.sync(), () => h.size()]) {
      await expect(call()).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO, details: { errno: 'ESTALE' } });
    }
    await h.close();
    const g = await io.open('/data/f', 'r+');
    await g.write(enc('z'), 0);
    expect(await readText(io, '/data/f')).toBe('z');
    await g.close();
  });

  it('durable and volatile snapshots show what a crash keeps', async () => {
    await writeAll(io, '/data/a', 'A', 'sync');
    await io.syncDir('/data');
    await writeAll(io, '/data/b', 'B', 'sync');
    expect([...io.volatileSnapshot().keys()]).toEqual(['/data/a', '/data/b']);
    const durable = io.durableSnapshot();
    expect([...durable.keys()]).toEqual(['/data/a']);
    io.crash();
    expect(io.volatileSnapshot()).toEqual(durable);
  });
});

describe('CrashConsistentFileIO: the atomic write pattern', () => {
  it('write tmp, fsync, rename, syncDir survives a crash', async () => {
    const io = new CrashConsistentFileIO(seededRng(1));
    await io.mkdir('/state');
    io.syncAll();
    await atomicWriteFile(io, '/state/config', enc('v2'));
    io.crash({ tear: true });
    expect(await readText(io, '/state/config')).toBe('v2');
    expect(await io.list('/state')).toEqual(['config']);
  });

  it('a crash at any instant leaves the old contents or the new, never a mix', async () => {
    const seen = new Set<string | undefined>();
    for (let at = 0; at <= 8; at++) {
      const world = new SimWorld({ seed: `atomic-${at}` });
      const node = world.addNode('n1');
      const io = CrashConsistentFileIO.forNode(node, { tear: true, latency: { writeMs: 1, syncMs: 1 } });
      await io.mkdir('/state');
      // Disk calls now take virtual time, so the setup runs the world until it is done.
      let ready = false;
      void writeAll(io, '/state/config', 'old contents', 'none').then(() => {
        ready = true;
      });
      expect(await world.runUntil(() => ready, 100)).toBe(true);
      io.syncAll();
      void atomicWriteFile(io, '/state/config', enc('the new contents'), { rng: node.rng.fork('tmp') });
      await world.runFor(at);
      world.crash('n1');
      world.restart('n1');
      const after = await readText(io, '/state/config');
      expect(['old contents', 'the new contents']).toContain(after);
      // A temp file never survives: it was never named in a synced directory before its rename.
      expect(await io.list('/state')).toEqual(['config']);
      seen.add(after);
    }
    // The sweep crashed both before and after the commit point.
    expect(seen).toEqual(new Set(['old contents', 'the new contents']));
  });

  it('the same pattern without the directory fsync loses the update', async () => {
    const io = new CrashConsistentFileIO(seededRng(2));
    await io.mkdir('/state');
    await writeAll(io, '/state/config', 'old', 'sync');
    io.syncAll();
    await writeAll(io, '/state/.config.tmp', 'new', 'sync');
    await io.rename('/state/.config.tmp', '/state/config');
    io.crash();
    expect(await readText(io, '/state/config')).toBe('old');
  });
});

describe('CrashConsistentFileIO: torn writes', () => {
  async function tornAppend(seed: string) {
    const io = new CrashConsistentFileIO(seededRng(seed));
    await io.mkdir('/log');
    const h = await io.open('/log/wal', 'a');
    await h.write(enc('committed;'));
    await h.datasync();
    io.syncAll();
    await h.write(enc('first-unsynced;'));
    await h.write(enc('0123456789abcdefghij'));
    const report = io.crash({ tear: true });
    return { report, bytes: await io.readFile('/log/wal'), io };
  }

  it('keeps a prefix of the last unsynced write, zero-filling any gap before it', async () => {
    const { report, bytes } = await tornAppend('tear-1');
    expect(report.torn).toHaveLength(1);
    const [torn] = report.torn;
    expect(torn).toMatchObject({ path: '/log/wal', position: 25, length: 20 });
    const kept = torn!.kept;
    expect(kept).toBeGreaterThanOrEqual(0);
    expect(kept).toBeLessThanOrEqual(20);
    const expected =
      kept === 0
        ? 'committed;'
        : `committed;${'\0'.repeat('first-unsynced;'.length)}${'0123456789abcdefghij'.slice(0, kept)}`;
    expect(dec(bytes)).toBe(expected);
  });

  it('is deterministic per seed and varies across seeds', async () => {
    const a = await tornAppend('same-seed');
    const b = await tornAppend('same-seed');
    expect(a.report.torn).toEqual(b.report.torn);
    expect(a.bytes).toEqual(b.bytes);
    const kepts = new Set<number>();
    for (let s = 0; s < 40; s++) kepts.add((await tornAppend(`seed-${s}`)).report.torn[0]!.kept);
    expect(kepts.size).toBeGreaterThan(5);
    expect([...kepts].some((k) => k > 0 && k < 20)).toBe(true);
  });

  it('a torn tail right after the synced end is a plain prefix of the write', async () => {
    for (let s = 0; s < 10; s++) {
      const io = new CrashConsistentFileIO(seededRng(`tail-${s}`));
      const h = await io.open('/wal', 'a');
      await h.write(enc('AAAA'));
      await h.datasync();
      io.syncAll();
      await h.write(enc('BBBBBBBB'));
      const { torn } = io.crash({ tear: true });
      expect(dec(await io.readFile('/wal'))).toBe(`AAAA${'B'.repeat(torn[0]!.kept)}`);
    }
  });

  it('without tear the unsynced writes are lost whole, and synced files are never torn', async () => {
    const { io } = await tornAppend('no-tear');
    const h = await io.open('/log/wal', 'a');
    await h.write(enc('more'));
    await h.datasync();
    expect(io.crash({ tear: true }).torn).toEqual([]);
    await h.close();
    const g = await io.open('/log/wal', 'a');
    const before = await io.readFile('/log/wal');
    await g.write(enc('dropped'));
    expect(io.crash().torn).toEqual([]);
    expect(await io.readFile('/log/wal')).toEqual(before);
  });
});

/**
 * A tiny append-only log store of the kind later packages write: one record
 * per line, acknowledged when `append` resolves. `durable: false` is the bug
 * under test: it forgets the fdatasync.
 */
class LineLog {
  private constructor(
    private readonly handle: FileHandle,
    private readonly durable: boolean,
  ) {}

  static async open(io: FileIO, path: string, durable: boolean): Promise<LineLog> {
    const created = (await io.stat(path)) === undefined;
    const handle = await io.open(path, 'a');
    if (created) {
      await handle.sync();
      await io.syncDir(dirname(path));
    }
    return new LineLog(handle, durable);
  }

  async append(record: string): Promise<void> {
    await this.handle.write(enc(`${record}\n`));
    if (this.durable) await this.handle.datasync();
  }

  /** Complete records only: a torn last line is ignored, as a real log would after a checksum check. */
  static async recover(io: FileIO, path: string): Promise<string[]> {
    const text = (await readText(io, path)) ?? '';
    const lines = text.split('\n');
    lines.pop();
    return lines;
  }
}

/** The crash test a log store must pass: every acknowledged record is there after a crash. */
async function acknowledgedRecordsSurvive(durable: boolean, seed: string): Promise<void> {
  const io = new CrashConsistentFileIO(seededRng(seed));
  await io.mkdir('/wal');
  io.syncAll();
  const log = await LineLog.open(io, '/wal/log', durable);
  const acked: string[] = [];
  for (let i = 0; i < 20; i++) {
    await log.append(`record-${i}`);
    acked.push(`record-${i}`);
  }
  io.crash({ tear: true });
  const recovered = await LineLog.recover(io, '/wal/log');
  expect(recovered.slice(0, acked.length)).toEqual(acked);
}

describe('CrashConsistentFileIO catches a store that forgets to fsync', () => {
  it('the correct store passes the crash test', async () => {
    for (let s = 0; s < 5; s++) await acknowledgedRecordsSurvive(true, `ok-${s}`);
  });

  it('the store without datasync fails it', async () => {
    await expect(acknowledgedRecordsSurvive(false, 'buggy')).rejects.toThrow();
  });

  it('the operation log shows the datasync after every acknowledged write', async () => {
    const io = new CrashConsistentFileIO(seededRng('ops'));
    const log = await LineLog.open(io, '/log', true);
    io.clearOperations();
    await log.append('a');
    await log.append('b');
    expect(io.operations).toEqual([
      { op: 'write', path: '/log', bytes: 2 },
      { op: 'datasync', path: '/log' },
      { op: 'write', path: '/log', bytes: 2 },
      { op: 'datasync', path: '/log' },
    ]);
  });
});

describe('CrashConsistentFileIO: operation log, latency and the simulated world', () => {
  it('records every call with its arguments, failures included', async () => {
    const io = new CrashConsistentFileIO(seededRng(0));
    const h = await io.open('/f', 'w', 0o600);
    await h.write(enc('abc'), 2);
    await h.read(0, 4).catch(() => undefined);
    await h.truncate(1);
    await h.sync();
    await h.close();
    await io.rename('/f', '/g');
    await io.chmod('/g', 0o640);
    await io.syncDir('/');
    await io.open('/missing', 'r').catch(() => undefined);
    expect(io.operations).toEqual([
      { op: 'open', path: '/f', flags: 'w', mode: 0o600 },
      { op: 'write', path: '/f', bytes: 3, position: 2 },
      { op: 'read', path: '/f', position: 0, length: 4 },
      { op: 'truncate', path: '/f', length: 1 },
      { op: 'sync', path: '/f' },
      { op: 'close', path: '/f' },
      { op: 'rename', path: '/f', to: '/g' },
      { op: 'chmod', path: '/g', mode: 0o640 },
      { op: 'syncDir', path: '/' },
      { op: 'open', path: '/missing', flags: 'r', mode: 0o644 },
    ]);
    expect(io.crash().operationsSinceLastCrash).toBe(10);
  });

  it('keeps only the most recent maxOperations calls', async () => {
    const io = new CrashConsistentFileIO(seededRng(0), { maxOperations: 3 });
    for (let i = 0; i < 10; i++) await io.stat(`/f${i}`);
    expect(io.operations.map((o) => o.path)).toEqual(['/f7', '/f8', '/f9']);
    expect(io.crash().operationsSinceLastCrash).toBe(10);
  });

  it('slow-disk latency takes virtual time; zero latency never touches the clock', async () => {
    const clock = new ManualClock();
    const io = new CrashConsistentFileIO(seededRng(0), { clock, latency: { writeMs: 5, syncMs: 20 } });
    const h = await io.open('/f', 'w');
    let written = false;
    const write = h.write(enc('x')).then(() => {
      written = true;
    });
    await Promise.resolve();
    expect(written).toBe(false);
    await clock.advanceAsync(4);
    expect(written).toBe(false);
    await clock.advanceAsync(1);
    await write;
    expect(written).toBe(true);
    const sync = h.sync();
    await clock.advanceAsync(20);
    await sync;
    expect(clock.now()).toBe(25);

    const fast = new CrashConsistentFileIO(seededRng(0), { clock });
    const g = await fast.open('/f', 'w');
    await g.write(enc('x'));
    await g.sync();
    expect(clock.pending).toBe(0);
  });

  it('a call in flight when the disk crashes fails as stale and changes nothing', async () => {
    const clock = new ManualClock();
    const io = new CrashConsistentFileIO(seededRng(0), { clock, latency: { writeMs: 10, syncMs: 10 } });
    const h = await io.open('/f', 'w');
    io.syncAll();
    const write = h.write(enc('late'));
    const syncDir = io.syncDir('/');
    io.crash();
    await clock.advanceAsync(10);
    await expect(write).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO, details: { errno: 'ESTALE' } });
    await expect(syncDir).rejects.toMatchObject({ code: CoreErrorCode.FILE_IO, details: { errno: 'ESTALE' } });
    expect(dec(await io.readFile('/f'))).toBe('');
  });

  it('validates its options', () => {
    expect(() => new CrashConsistentFileIO(seededRng(0), { latency: { syncMs: 5 } })).toThrow(
      expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }),
    );
    expect(
      () => new CrashConsistentFileIO(seededRng(0), { clock: new ManualClock(), latency: { writeMs: -1 } }),
    ).toThrow(expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }));
    expect(() => new CrashConsistentFileIO(undefined as never)).toThrow(
      expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('crashes with its node, and only its node, recording a trace event', async () => {
    const world = new SimWorld({ seed: 'disk-world', keepTrace: 100 });
    const n1 = world.addNode('n1');
    world.addNode('n2');
    const io = CrashConsistentFileIO.forNode(n1);
    await writeAll(io, '/f', 'unsynced', 'none');
    world.crash('n2');
    expect(io.crashes).toBe(0);
    expect(await readText(io, '/f')).toBe('unsynced');
    world.crash('n1');
    expect(io.crashes).toBe(1);
    expect(await io.stat('/f')).toBeUndefined();
    expect(world.trace.events.some((e) => e.kind === 'disk-crash' && e.fields.node === 'n1')).toBe(true);
    expect(() => io.attachToWorld(world, 'nobody')).toThrow(
      expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('replays identically from the same world seed', async () => {
    const run = async () => {
      const world = new SimWorld({ seed: 'replay' });
      const node = world.addNode('n1');
      const io = CrashConsistentFileIO.forNode(node, { tear: true });
      for (const name of ['a', 'b', 'c']) {
        const h = await io.open(`/${name}`, 'a');
        await h.write(enc('synced-'));
        await h.datasync();
        await h.write(enc('torn-tail-bytes'));
      }
      io.syncAll();
      for (const name of ['a', 'b', 'c']) {
        const h = await io.open(`/${name}`, 'a');
        await h.write(enc('x'.repeat(30)));
      }
      world.crash('n1');
      return { files: io.volatileSnapshot(), hash: world.trace.hash() };
    };
    const first = await run();
    expect(await run()).toEqual(first);
  });
});

/** A step of the crash property test; every file lives in `/d`, which is durable from the start. */
type CrashStep =
  | { op: 'create' | 'remove' | 'sync' | 'datasync'; name: string }
  | { op: 'write'; name: string; data: number[]; position?: number }
  | { op: 'truncate'; name: string; length: number }
  | { op: 'rename'; from: string; to: string }
  | { op: 'syncDir' }
  | { op: 'crash'; tear: boolean };

/**
 * The durability rules restated independently of the implementation: names
 * and file contents each have a volatile and a durable copy.
 */
class DurabilityModel {
  names = new Map<string, number>();
  durableNames = new Map<string, number>();
  files = new Map<number, { data: number[]; durable: number[]; last?: { position: number; bytes: number[] } }>();
  #next = 0;

  create(name: string): void {
    const id = this.names.get(name);
    if (id !== undefined) {
      this.files.get(id)!.data = [];
      return;
    }
    this.names.set(name, this.#next);
    this.files.set(this.#next++, { data: [], durable: [] });
  }

  write(name: string, bytes: number[], position: number | undefined): void {
    const file = this.files.get(this.names.get(name)!)!;
    // An empty write is no write at all: it neither extends the file nor counts as the last write.
    if (bytes.length === 0) return;
    const at = position ?? file.data.length;
    while (file.data.length < at) file.data.push(0);
    bytes.forEach((b, i) => {
      file.data[at + i] = b;
    });
    file.last = { position: at, bytes };
  }

  truncate(name: string, length: number): void {
    const file = this.files.get(this.names.get(name)!)!;
    file.data = file.data.slice(0, length);
    while (file.data.length < length) file.data.push(0);
  }

  sync(name: string): void {
    const file = this.files.get(this.names.get(name)!)!;
    file.durable = [...file.data];
    file.last = undefined;
  }

  rename(from: string, to: string): void {
    const id = this.names.get(from)!;
    if (from === to) return;
    this.names.delete(from);
    this.names.set(to, id);
  }

  crash(kept: Map<string, number>): void {
    this.names = new Map(this.durableNames);
    for (const [name, id] of this.names) {
      const file = this.files.get(id)!;
      file.data = [...file.durable];
      const k = kept.get(`/d/${name}`);
      if (file.last && k !== undefined) {
        const { position, bytes } = file.last;
        if (k > 0) {
          while (file.data.length < position) file.data.push(0);
          for (let i = 0; i < k; i++) file.data[position + i] = bytes[i]!;
        }
      }
      file.durable = [...file.data];
      file.last = undefined;
    }
  }

  view(durable: boolean): Map<string, Uint8Array> {
    const names = durable ? this.durableNames : this.names;
    const out = new Map<string, Uint8Array>();
    for (const name of [...names.keys()].sort()) {
      const file = this.files.get(names.get(name)!)!;
      out.set(`/d/${name}`, Uint8Array.from(durable ? file.durable : file.data));
    }
    return out;
  }
}

describe('CrashConsistentFileIO: property', () => {
  // Few names and short files, so steps collide on the same file often.
  const name = fc.constantFrom('a', 'b', 'c', 'a', 'b');
  const step: fc.Arbitrary<CrashStep> = fc.oneof(
    { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('create' as const, 'remove' as const), name }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('sync' as const, 'datasync' as const), name }) },
    {
      weight: 4,
      arbitrary: fc.record(
        {
          op: fc.constant('write' as const),
          name,
          data: fc.array(fc.integer({ min: 100, max: 255 }), { maxLength: 6 }),
          position: fc.nat(14),
        },
        { requiredKeys: ['op', 'name', 'data'] },
      ),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), name, length: fc.nat(14) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('rename' as const), from: name, to: name }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('syncDir' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const), tear: fc.boolean() }) },
  );

  it('after any crash the files equal what the last syncs covered (plus the reported tear)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.integer(), async (steps, seed) => {
        const io = new CrashConsistentFileIO(seededRng(seed));
        await io.mkdir('/d');
        const model = new DurabilityModel();
        // Start from two durable files, so shrinking and overwriting durable bytes is common.
        for (const n of ['a', 'b']) {
          const initial = Array.from({ length: 12 }, (_, i) => i + 1);
          await writeAll(io, `/d/${n}`, '', 'none');
          const h = await io.open(`/d/${n}`, 'r+');
          await h.write(Uint8Array.from(initial), 0);
          await h.close();
          model.create(n);
          model.write(n, initial, 0);
          model.sync(n);
        }
        io.syncAll();
        model.durableNames = new Map(model.names);
        for (const s of [...steps, { op: 'crash', tear: true } as const]) {
          const exists = 'name' in s && model.names.has(s.name);
          switch (s.op) {
            case 'create':
              await (await io.open(`/d/${s.name}`, 'w')).close();
              model.create(s.name);
              break;
            case 'remove':
              await io.remove(`/d/${s.name}`);
              model.names.delete(s.name);
              break;
            case 'sync':
            case 'datasync': {
              if (!exists) break;
              const h = await io.open(`/d/${s.name}`, 'r');
              await (s.op === 'sync' ? h.sync() : h.datasync());
              await h.close();
              model.sync(s.name);
              break;
            }
            case 'write': {
              if (!exists) break;
              const h = await io.open(`/d/${s.name}`, 'r+');
              await h.write(Uint8Array.from(s.data), s.position);
              await h.close();
              model.write(s.name, s.data, s.position);
              break;
            }
            case 'truncate': {
              if (!exists) break;
              const h = await io.open(`/d/${s.name}`, 'r+');
              await h.truncate(s.length);
              await h.close();
              model.truncate(s.name, s.length);
              break;
            }
            case 'rename':
              if (!model.names.has(s.from)) break;
              await io.rename(`/d/${s.from}`, `/d/${s.to}`);
              model.rename(s.from, s.to);
              break;
            case 'syncDir':
              await io.syncDir('/d');
              model.durableNames = new Map(model.names);
              break;
            case 'crash': {
              expect(io.durableSnapshot()).toEqual(model.view(true));
              const report = io.crash({ tear: s.tear });
              // Exactly the surviving files with an unsynced write are torn, at that write.
              const pending = s.tear
                ? [...model.durableNames.keys()].sort().flatMap((n) => {
                    const last = model.files.get(model.durableNames.get(n)!)!.last;
                    return last ? [{ path: `/d/${n}`, position: last.position, length: last.bytes.length }] : [];
                  })
                : [];
              expect(report.torn.map(({ path, position, length }) => ({ path, position, length }))).toEqual(pending);
              model.crash(new Map(report.torn.map((t) => [t.path, t.kept])));
              break;
            }
          }
          expect(io.volatileSnapshot()).toEqual(model.view(false));
        }
        expect(io.durableSnapshot()).toEqual(model.view(true));
      }),
      { numRuns: 500 },
    );
  });
});
