import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@novacron/core';
import { QemuProvider } from '@novacron/providers';
import { providerCompliance } from '@novacron/testkit/compliance/provider';
import { qemuProcessesUnder } from '../helpers/leaks.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const full = process.env.NOVACRON_SLOW === '1';

// CI runs one focused lifecycle and one local migration; NOVACRON_SLOW=1 runs the whole suite.
providerCompliance(
  'qemu',
  {
    setup: async () => {
      const workDir = mkdtempSync(join(tmpdir(), 'nc-qemu-'));
      const provider = new QemuProvider({
        clock: systemClock(),
        workDir,
        host: { id: 'local', capacity: { cpuMillis: 8000, memoryBytes: 4 * GiB } },
      });
      await provider.start();
      return {
        provider,
        request: (vmId: string, hostId: string) => ({
          spec: { id: vmId, resources: { cpuMillis: 1000, memoryBytes: 32 * MiB } },
          hostId,
        }),
        leaks: async () => [
          ...qemuProcessesUnder(workDir).map((pid) => `qemu pid ${pid}`),
          ...readdirSync(workDir).map((f) => `file ${f}`),
        ],
        workDir,
      };
    },
    teardown: async (f) => {
      await (f.provider as QemuProvider).stop();
      rmSync((f as unknown as { workDir: string }).workDir, { recursive: true, force: true });
    },
  },
  { include: full ? undefined : ['lifecycle', 'migration', 'cleanup'], testTimeoutMs: 120_000 },
);
