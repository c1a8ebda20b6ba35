import { ManualClock, seededRng } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import { expect, it } from 'vitest';

it('the README example migrates a VM between simulated hosts', async () => {
  const clock = new ManualClock();
  const p = new MemoryProvider({
    clock,
    rng: seededRng(1),
    hosts: [
      { id: 'a', capacity: { cpuMillis: 4000, memoryBytes: 2 ** 33 } },
      { id: 'b', capacity: { cpuMillis: 4000, memoryBytes: 2 ** 33 } },
    ],
  });
  const resources = { cpuMillis: 1000, memoryBytes: 256 * 2 ** 20 };
  await p.createVm({ spec: { id: 'vm', resources }, hostId: 'a', config: { dirtyBytesPerSecond: 32 * 2 ** 20 } });
  await p.startVm('vm');
  await p.createVm({ spec: { id: 'vm-b', resources }, hostId: 'b', incoming: true });

  await p.startDirtyTracking('vm');
  for (let round = 0; round < 5; round++) {
    const dirty = await p.collectDirtyPages('vm');
    await p.writePages('vm-b', dirty, await p.readPages('vm', dirty));
    clock.advance(100);
  }
  await p.pauseVm('vm');
  const last = await p.collectDirtyPages('vm');
  await p.writePages('vm-b', last, await p.readPages('vm', last));
  await p.completeIncoming('vm-b');
  expect(p.memoryOf('vm-b').equals(p.memoryOf('vm'))).toBe(true);
  await p.resumeVm('vm-b');
  await p.deleteVm('vm');
  expect((await p.listVms()).map((v) => v.id)).toEqual(['vm-b']);
});
