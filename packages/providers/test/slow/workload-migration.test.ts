import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorkloadInitramfs, distributionKernel, runWorkloadMigration } from '../helpers/workload-migration.js';

const MiB = 2 ** 20;

describe('QEMU live migration of the workload guest', () => {
  let initramfs: string;
  beforeAll(() => {
    initramfs = buildWorkloadInitramfs();
  });
  afterAll(() => rmSync(dirname(initramfs), { recursive: true, force: true }));

  it('512 MiB guest dirtying 16 MiB/s: completes through a socket pipe, bytes agree, no heartbeat lost', async () => {
    const kernel = distributionKernel();
    expect(kernel, 'linux-image-amd64 must be installed').toBeDefined();
    const r = await runWorkloadMigration({
      memoryMiB: 512,
      dirtyMiBps: 16,
      workingSetMiB: 256,
      initramfs,
      kernel: kernel!,
    });
    console.log(JSON.stringify({ ...r, heartbeats: { ...r.heartbeats, lost: r.heartbeats.lost.length } }));
    expect(r.status).toBe('completed');
    // Every byte QEMU wrote crossed the pipe and reached the destination QEMU.
    expect(r.pipeBytes).toBe(r.sourceBytes);
    expect(r.destinationBytes).toBe(r.sourceBytes);
    // QEMU's RAM counter covers the RAM pages; the stream also holds device state and headers (a few MiB at most).
    expect(r.sourceBytes).toBeGreaterThanOrEqual(r.qemuTransferredBytes);
    expect(r.sourceBytes - r.qemuTransferredBytes).toBeLessThan(8 * MiB);
    expect(r.qemuTransferredBytes).toBeGreaterThan(256 * MiB);
    expect(r.heartbeats.lost).toEqual([]);
    expect(r.heartbeats.bySource.dst).toBeGreaterThan(100);
  }, 600_000);
});
