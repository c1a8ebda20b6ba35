import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TcpTransport } from '@novacron/amst';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseStreamCapabilities, relayStreamReceive, relayStreamSend } from '../../src/index.js';
import { buildWorkloadInitramfs, qemuGuestUnavailable, startWorkloadPair } from '../e2e/qemu-guest.js';

const MiB = 2 ** 20;
const unavailable = qemuGuestUnavailable();
if (unavailable) console.log(`stream relay QEMU slow test skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('stream relay, 512 MiB workload guest dirtying 16 MiB/s', () => {
  let initramfs: string;
  let work: string;
  beforeAll(() => {
    initramfs = buildWorkloadInitramfs();
    work = mkdtempSync(join(tmpdir(), 'nc-relay-slow-'));
  });
  afterAll(() => {
    rmSync(dirname(initramfs), { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('completes over adaptive lanes with hde, no heartbeat lost, bytes agree', async () => {
    const t = await startWorkloadPair({
      work,
      name: 'big',
      initramfs,
      memoryMiB: 512,
      dirtyMiBps: 16,
      workingSetMiB: 256,
    });
    try {
      const transport = new TcpTransport();
      const choice = chooseStreamCapabilities({
        mode: 'datacenter',
        downtimeBudgetMs: 300,
        memoryBytes: 512 * MiB,
        dirtyBytesPerSecond: 16 * MiB,
        carrier: { channels: 1, returnPath: false, compresses: true },
        backendCapabilities: (await t.source.probe()).migrationCapabilities ?? [],
      });
      const migration = { capabilities: choice.capabilities, parameters: choice.parameters };
      const common = { transport, migrationId: 'slow-1', vmId: 'vm', migration };
      const rx = await relayStreamReceive({ ...common, listenAddress: '127.0.0.1:0', provider: t.destination });
      const sent = await relayStreamSend({ ...common, address: rx.address, provider: t.source });
      const got = await rx.done;
      await t.destination.resumeVm('vm');
      await t.monitor.waitFor(t.monitor.lastSeq + 200);
      const hb = t.monitor.report();
      console.log(
        JSON.stringify({
          bytes: sent.migration.bytes,
          wireBytes: sent.relay.wireBytes,
          lanes: sent.relay.transfer.maxLanes,
          totalTimeMs: sent.migration.totalTimeMs,
          qemuDowntimeMs: sent.migration.downtimeMs,
          heartbeatGapMs: hb.maxGapMs,
        }),
      );
      expect(got.relay.bytes).toBe(sent.migration.bytes);
      expect(got.migration.bytes).toBe(sent.migration.bytes);
      expect(sent.migration.bytes).toBeGreaterThan(256 * MiB);
      expect(hb.lost).toEqual([]);
      expect(hb.bySource.dst).toBeGreaterThan(100);
    } finally {
      await t.close();
    }
  }, 600_000);
});
