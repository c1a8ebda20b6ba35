import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, seededRng } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import { providerCompliance } from '@novacron/testkit/compliance/provider';
import { AuditedProvider } from '../src/audited-provider.js';

const GiB = 2 ** 30;
const dir = mkdtempSync(join(tmpdir(), 'audited-'));
let n = 0;

providerCompliance('audited memory provider', {
  setup: () => {
    const clock = new ManualClock();
    const inner = new MemoryProvider({
      clock,
      rng: seededRng(7),
      hosts: [
        { id: 'h1', capacity: { cpuMillis: 8000, memoryBytes: 8 * GiB } },
        { id: 'h2', capacity: { cpuMillis: 8000, memoryBytes: 8 * GiB } },
      ],
    });
    return {
      provider: new AuditedProvider(inner, join(dir, `audit-${++n}.jsonl`)),
      request: (vmId: string, hostId: string) => ({
        spec: { id: vmId, resources: { cpuMillis: 1000, memoryBytes: 16 * 2 ** 20 } },
        hostId,
        config: { dirtyBytesPerSecond: 4 * 2 ** 20, workingSetBytes: 2 * 2 ** 20 },
      }),
      advance: async (ms: number) => clock.advance(ms),
    };
  },
  teardown: (f) => (f.provider as AuditedProvider).close(),
});
