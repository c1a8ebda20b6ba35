import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreErrorCode, ProviderErrorCode, type ProviderEvent, systemClock } from '@novacron/core';
import { QemuProvider } from '@novacron/providers';
import { boundedPipe } from '@novacron/testkit';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { qemuProcessesUnder } from '../helpers/leaks.js';

const MiB = 2 ** 20;
const slow = process.env.NOVACRON_SLOW === '1';
const CYCLES = slow ? 200 : 10;

describe('QemuProvider', () => {
  let workDir: string;
  let provider: QemuProvider;
  const request = (id: string, extra: Record<string, unknown> = {}) => ({
    spec: { id, resources: { cpuMillis: 1000, memoryBytes: 32 * MiB } },
    hostId: 'local',
    ...extra,
  });

  beforeEach(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'nc-qemu-'));
    provider = new QemuProvider({ clock: systemClock(), workDir });
    await provider.start();
  });
  afterEach(async () => {
    await provider.stop();
    expect(qemuProcessesUnder(workDir)).toEqual([]);
    rmSync(workDir, { recursive: true, force: true });
  });

  it(
    `${CYCLES} create/start/stop/delete cycles leave no process or socket behind`,
    async () => {
      for (let i = 0; i < CYCLES; i++) {
        const id = `cycle-${i}`;
        await provider.createVm(request(id));
        await provider.startVm(id);
        expect(provider.livePids).toHaveLength(1);
        await provider.stopVm(id);
        await provider.deleteVm(id);
        expect(provider.livePids).toEqual([]);
      }
      expect(qemuProcessesUnder(workDir)).toEqual([]);
      expect(readdirSync(workDir)).toEqual([]);
    },
    slow ? 1_200_000 : 120_000,
  );

  it('probes the QEMU version and its migration capabilities', async () => {
    const caps = await provider.probe();
    expect(caps.backend).toMatch(/^qemu \d+\.\d+/);
    expect(caps.migration).toEqual(['stream']);
    expect(caps.migrationCapabilities).toEqual(
      expect.arrayContaining(['multifd', 'xbzrle', 'auto-converge', 'postcopy-ram']),
    );
    expect(readdirSync(workDir)).toEqual([]);
  });

  it('a QEMU that dies marks its VM failed; stop and delete still work', async () => {
    await provider.createVm(request('v'));
    await provider.startVm('v');
    const events: ProviderEvent[] = [];
    provider.onEvent((e) => events.push(e));
    const [pid] = provider.livePids;
    process.kill(pid!, 'SIGKILL');
    while ((await provider.getVm('v')).state !== 'failed') await new Promise((r) => setTimeout(r, 10));
    expect(events.at(-1)).toMatchObject({ type: 'state', from: 'running', to: 'failed' });
    await expectNovacronRejection(provider.pauseVm('v'), ProviderErrorCode.Conflict);
    expect((await provider.stopVm('v')).state).toBe('stopped');
    expect((await provider.startVm('v')).state).toBe('running');
    await provider.deleteVm('v');
  });

  it('a start that times out leaves no process behind and can be retried', async () => {
    await provider.createVm(request('t'));
    await expectNovacronRejection(provider.startVm('t', { timeoutMs: 1 }), CoreErrorCode.TIMEOUT);
    // The next operation on the VM waits for the timed-out one to unwind.
    expect((await provider.getVm('t')).state).toBe('stopped');
    expect((await provider.startVm('t')).state).toBe('running');
    expect(provider.livePids).toHaveLength(1);
    await provider.deleteVm('t');
    expect(qemuProcessesUnder(workDir)).toEqual([]);
    // Timeouts landing at different points of the start: the VM is either running with one process or stopped with none.
    for (const timeoutMs of [5, 15, 30, 60, 120, 250]) {
      const id = `t${timeoutMs}`;
      await provider.createVm(request(id));
      const outcome = await provider.startVm(id, { timeoutMs }).then(
        () => 'ok',
        (err: { code?: string }) => err.code,
      );
      expect(['ok', CoreErrorCode.TIMEOUT]).toContain(outcome);
      await provider.listSnapshots(id); // serialized behind the start's unwinding
      const { state } = await provider.getVm(id);
      expect(state === 'running' ? 1 : 0).toBe(provider.livePids.length);
      await provider.deleteVm(id);
    }
    expect(qemuProcessesUnder(workDir)).toEqual([]);
  });

  it('rejects bad configurations with Invalid before spawning anything', async () => {
    await expectNovacronRejection(
      provider.createVm({ spec: { id: 'x', resources: { cpuMillis: 1000, memoryBytes: 1000 } }, hostId: 'local' }),
      ProviderErrorCode.Invalid,
    );
    await expectNovacronRejection(
      provider.createVm(request('y', { config: { kernel: '/nonexistent/vmlinuz' } })),
      ProviderErrorCode.Invalid,
    );
    await expectNovacronRejection(provider.createVm(request('z', { config: { vcpus: 0 } })), ProviderErrorCode.Invalid);
    expect(provider.livePids).toEqual([]);
  });

  it('creates a qcow2 disk with qemu-img and boots with it attached', async () => {
    await provider.createVm(request('d', { config: { diskBytes: 64 * MiB } }));
    expect(readdirSync(join(workDir, 'd'))).toContain('disk.qcow2');
    expect((await provider.startVm('d')).state).toBe('running');
    const snap = await provider.snapshotVm('d');
    expect(snap.sizeBytes).toBeGreaterThan(0);
    await provider.deleteVm('d');
  });

  it('migration takes QEMU capabilities and parameters, emits progress, and an unknown capability is Invalid', async () => {
    await provider.createVm(request('src'));
    await provider.startVm('src');
    await provider.createVm(request('dst', { incoming: true }));
    const events: ProviderEvent[] = [];
    provider.onEvent((e) => events.push(e));
    const bad = boundedPipe();
    await expectNovacronRejection(
      provider.migrateSend('src', bad.a, { capabilities: { 'no-such-capability': true } }),
      ProviderErrorCode.Invalid,
    );
    expect((await provider.getVm('src')).state).toBe('running');
    const pipe = boundedPipe({ capacityBytes: 256 * 1024 });
    const [sent, received] = await Promise.all([
      provider.migrateSend('src', pipe.a, {
        capabilities: { xbzrle: true, 'auto-converge': true },
        parameters: { 'max-bandwidth': 64 * MiB, 'downtime-limit': 500 },
        progressIntervalMs: 20,
      }),
      provider.migrateReceive('dst', pipe.b, { capabilities: { xbzrle: true } }),
    ]);
    expect(sent.bytes).toBe(pipe.aToB.written);
    expect(received.bytes).toBe(sent.bytes);
    expect(pipe.aToB.peakBuffered).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    const progress = events.filter((e) => e.type === 'migration' && e.vmId === 'src');
    expect(progress.at(-1)).toMatchObject({ role: 'source', progress: { status: 'completed' } });
    expect((await provider.resumeVm('dst')).state).toBe('running');
  });

  it('an aborted migration is cancelled and the source keeps running', async () => {
    await provider.createVm(
      request('src', { spec: { id: 'src', resources: { cpuMillis: 1000, memoryBytes: 128 * MiB } } }),
    );
    await provider.startVm('src');
    await provider.createVm(
      request('dst', { incoming: true, spec: { id: 'dst', resources: { cpuMillis: 1000, memoryBytes: 128 * MiB } } }),
    );
    const pipe = boundedPipe({ capacityBytes: 64 * 1024 });
    const ac = new AbortController();
    // Nobody reads the pipe: QEMU stalls on backpressure until the abort.
    const sending = provider.migrateSend('src', pipe.a, { signal: ac.signal });
    while (pipe.aToB.written === 0) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await expectNovacronRejection(sending, CoreErrorCode.ABORTED);
    // The VM lock is released once QEMU has cancelled.
    expect((await provider.getVm('src')).state).toBe('running');
    expect((await provider.pauseVm('src')).state).toBe('paused');
  });
});

describe('QemuProvider guest RAM from a file', () => {
  it('loads the file into guest memory (read back with pmemsave)', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'nc-qemu-ram-'));
    const provider = new QemuProvider({ clock: systemClock(), workDir: join(workDir, 'vms') });
    await provider.start();
    try {
      const ram = Buffer.alloc(32 * MiB);
      for (let i = 0; i < ram.length; i += 4) ram.writeUInt32LE((i * 2654435761) >>> 0, i);
      const ramFile = join(workDir, 'ram.bin');
      writeFileSync(ramFile, ram);
      await provider.createVm({
        spec: { id: 'r', resources: { cpuMillis: 1000, memoryBytes: 32 * MiB } },
        hostId: 'local',
        config: { ramFile },
      });
      await provider.startVm('r');
      await provider.pauseVm('r');
      // 24 MiB is above anything the firmware touches in a 32 MiB guest that never boots an OS.
      const dump = join(workDir, 'dump.bin');
      await provider.qmp('r')!.execute('pmemsave', { val: 24 * MiB, size: 64 * 1024, filename: dump });
      expect(Buffer.compare(readFileSync(dump), ram.subarray(24 * MiB, 24 * MiB + 64 * 1024))).toBe(0);
      // The mapping is private: the guest's writes never reach the file.
      expect(Buffer.compare(readFileSync(ramFile), ram)).toBe(0);
    } finally {
      await provider.stop();
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
