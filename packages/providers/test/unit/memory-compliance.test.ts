import { ManualClock, seededRng } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import { providerCompliance } from '@novacron/testkit/compliance/provider';

const GiB = 2 ** 30;

providerCompliance('memory', {
  setup: () => {
    const clock = new ManualClock();
    const provider = new MemoryProvider({
      clock,
      rng: seededRng(7),
      hosts: [
        { id: 'h1', capacity: { cpuMillis: 8000, memoryBytes: 8 * GiB } },
        { id: 'h2', capacity: { cpuMillis: 8000, memoryBytes: 8 * GiB } },
      ],
    });
    return {
      provider,
      request: (vmId: string, hostId: string) => ({
        spec: { id: vmId, resources: { cpuMillis: 1000, memoryBytes: 16 * 2 ** 20 } },
        hostId,
        config: { dirtyBytesPerSecond: 4 * 2 ** 20, workingSetBytes: 2 * 2 ** 20 },
      }),
      advance: async (ms: number) => clock.advance(ms),
    };
  },
});
