import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileIO, seededRng } from '@novacron/core';
import { CrashConsistentFileIO, MemoryFileIO } from '@novacron/testkit';
import { fileIOCompliance } from '@novacron/testkit/compliance/file-io';

fileIOCompliance('MemoryFileIO', {
  async setup() {
    const io = new MemoryFileIO();
    await io.mkdir('/work/data');
    return { io, dir: '/work/data' };
  },
});

fileIOCompliance('CrashConsistentFileIO', {
  async setup() {
    const io = new CrashConsistentFileIO(seededRng('compliance'));
    await io.mkdir('/data');
    io.syncAll();
    return { io, dir: '/data' };
  },
});

fileIOCompliance('nodeFileIO', {
  async setup() {
    return { io: nodeFileIO(), dir: await mkdtemp(join(tmpdir(), 'novacron-fileio-')) };
  },
  async teardown(f) {
    await rm(f.dir, { recursive: true, force: true });
  },
});
