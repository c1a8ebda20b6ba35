import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TcpTransport } from '@novacron/amst';
import type { QemuProvider } from '@novacron/providers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  StreamRelayErrorCode,
  chooseStreamCapabilities,
  relayStreamReceive,
  relayStreamSend,
} from '../../src/index.js';
import { buildWorkloadInitramfs, qemuGuestUnavailable, startWorkloadPair } from './qemu-guest.js';

const MiB = 2 ** 20;
const MEMORY_MIB = 128;
const unavailable = qemuGuestUnavailable();
if (unavailable) console.log(`stream relay QEMU e2e skipped: ${unavailable}`);

/** Guest RAM above the first MiB (below it sit the BIOS ROMs and the legacy hole), hashed through QMP `pmemsave`. */
async function ramHash(provider: QemuProvider, vmId: string, dir: string): Promise<string> {
  const file = join(dir, `${vmId}-${Math.random().toString(36).slice(2)}.ram`);
  await provider.qmp(vmId)!.execute('pmemsave', { val: MiB, size: (MEMORY_MIB - 1) * MiB, filename: file });
  const hash = createHash('sha256').update(readFileSync(file)).digest('hex');
  rmSync(file, { force: true });
  return hash;
}

describe.skipIf(unavailable !== undefined)('stream relay with real QEMU (loopback TCP, amst lanes, hde)', () => {
  let initramfs: string;
  let work: string;
  beforeAll(() => {
    initramfs = buildWorkloadInitramfs();
    work = mkdtempSync(join(tmpdir(), 'nc-relay-e2e-'));
  });
  afterAll(() => {
    rmSync(dirname(initramfs), { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  const setup = (name: string) =>
    startWorkloadPair({ work, name, initramfs, memoryMiB: MEMORY_MIB, dirtyMiBps: 4, workingSetMiB: 32 });

  it('migrates the running workload guest: RAM identical at switchover, heartbeat continues, bytes agree', async () => {
    const t = await setup('ok');
    try {
      const transport = new TcpTransport();
      const caps = await t.source.probe();
      const choice = chooseStreamCapabilities({
        mode: 'datacenter',
        downtimeBudgetMs: 300,
        memoryBytes: MEMORY_MIB * MiB,
        dirtyBytesPerSecond: 4 * MiB,
        carrier: { channels: 1, returnPath: false, compresses: true },
        backendCapabilities: caps.migrationCapabilities ?? [],
      });
      const migration = { capabilities: choice.capabilities, parameters: choice.parameters };
      const rx = await relayStreamReceive({
        transport,
        listenAddress: '127.0.0.1:0',
        migrationId: 'mig-1',
        provider: t.destination,
        vmId: 'vm',
        migration,
      });
      const sent = await relayStreamSend({
        transport,
        address: rx.address,
        migrationId: 'mig-1',
        vmId: 'vm',
        provider: t.source,
        lanes: 2,
        migration,
      });
      const got = await rx.done;
      expect((await t.source.getVm('vm')).state).toBe('migrated');
      expect((await t.destination.getVm('vm')).state).toBe('paused');
      // Both QEMUs stopped: the destination holds exactly the source's RAM.
      expect(await ramHash(t.destination, 'vm', work)).toBe(await ramHash(t.source, 'vm', work));
      // Every byte QEMU wrote crossed the relay and reached the destination QEMU.
      expect(sent.relay.bytes).toBe(sent.migration.bytes);
      expect(got.relay.bytes).toBe(sent.migration.bytes);
      expect(got.migration.bytes).toBe(sent.migration.bytes);
      expect(got.relay.vmId).toBe('vm');
      expect(sent.migration.bytes).toBeGreaterThan(8 * MiB);
      expect(sent.relay.transfer.maxLanes).toBe(2);
      await t.destination.resumeVm('vm');
      const resumedAt = t.monitor.lastSeq;
      await t.monitor.waitFor(resumedAt + 100);
      const hb = t.monitor.report();
      expect(hb.lost).toEqual([]);
      expect(hb.bySource.dst).toBeGreaterThan(50);
      console.log(
        JSON.stringify({
          bytes: sent.migration.bytes,
          wireBytes: sent.relay.wireBytes,
          totalTimeMs: sent.migration.totalTimeMs,
          qemuDowntimeMs: sent.migration.downtimeMs,
          // Includes the two RAM hashes taken while both sides were stopped.
          heartbeatGapWithHashingMs: hb.maxGapMs,
        }),
      );
    } finally {
      await t.close();
    }
  }, 120_000);

  it('cancelled mid-stream: both halves reject and the source VM keeps running', async () => {
    const t = await setup('cancel');
    try {
      const transport = new TcpTransport();
      const ac = new AbortController();
      const rx = await relayStreamReceive({
        transport,
        listenAddress: '127.0.0.1:0',
        migrationId: 'mig-2',
        provider: t.destination,
        vmId: 'vm',
        resumeWindowMs: 1_000,
      });
      // A small max-bandwidth keeps the migration going long enough to cancel it mid-way.
      const off = t.source.onEvent((e) => {
        if (e.type === 'migration' && e.role === 'source' && e.progress.transferredBytes > 2 * MiB) ac.abort();
      });
      const sent = relayStreamSend({
        transport,
        address: rx.address,
        migrationId: 'mig-2',
        vmId: 'vm',
        provider: t.source,
        signal: ac.signal,
        migration: { parameters: { 'max-bandwidth': 16 * MiB }, progressIntervalMs: 50 },
      });
      await expect(sent).rejects.toMatchObject({ code: StreamRelayErrorCode.ABORTED });
      off();
      await expect(rx.done).rejects.toBeDefined();
      expect((await t.source.getVm('vm')).state).toBe('running');
      const from = t.monitor.lastSeq;
      await t.monitor.waitFor(from + 50);
      expect(t.monitor.report().lost).toEqual([]);
    } finally {
      await t.close();
    }
  }, 120_000);
});
