import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDurableLog, MemoryDurableLog, nodeFileIO, seededRng } from '@novacron/core';
import { CrashConsistentFileIO, MemoryFileIO } from '@novacron/testkit';
import { durableLogCompliance } from '@novacron/testkit/compliance/durable-log';

durableLogCompliance('MemoryDurableLog', { setup: () => ({ log: new MemoryDurableLog() }) });

durableLogCompliance('FileDurableLog on MemoryFileIO', {
  setup() {
    const io = new MemoryFileIO();
    return { log: new FileDurableLog({ io, dir: '/wal' }), reopen: () => new FileDurableLog({ io, dir: '/wal' }) };
  },
});

durableLogCompliance('FileDurableLog on MemoryFileIO with tiny segments', {
  setup() {
    const io = new MemoryFileIO();
    const make = () => new FileDurableLog({ io, dir: '/wal', segmentBytes: 256 });
    return { log: make(), reopen: make };
  },
});

durableLogCompliance('FileDurableLog on CrashConsistentFileIO (crash before each reopen)', {
  setup() {
    const io = new CrashConsistentFileIO(seededRng('durable-log'));
    const make = () => new FileDurableLog({ io, dir: '/var/wal', segmentBytes: 512 });
    return {
      log: make(),
      reopen: () => {
        io.crash({ tear: true });
        return make();
      },
    };
  },
});

durableLogCompliance('FileDurableLog on nodeFileIO', {
  async setup() {
    const dir = await mkdtemp(join(tmpdir(), 'novacron-wal-'));
    const make = () => new FileDurableLog({ io: nodeFileIO(), dir, segmentBytes: 4096 });
    return { log: make(), reopen: make, dir };
  },
  async teardown(f) {
    await rm((f as unknown as { dir: string }).dir, { recursive: true, force: true });
  },
});
