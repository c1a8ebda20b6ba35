import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '@novacron/core';
import { HeartbeatMonitor, type HeartbeatReport, QemuProvider } from '@novacron/providers';
import { socketPipe } from '@novacron/testkit';

const MiB = 2 ** 20;
const here = dirname(fileURLToPath(import.meta.url));

/** The distribution kernel (linux-image-amd64). */
export function distributionKernel(): string | undefined {
  const k = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .sort()
    .at(-1);
  return k ? join('/boot', k) : undefined;
}

/** Builds the workload guest's initramfs (guest/build.sh) into a temp dir. */
export function buildWorkloadInitramfs(): string {
  const out = mkdtempSync(join(tmpdir(), 'nc-guest-'));
  return execFileSync(join(here, '../../guest/build.sh'), [out], { encoding: 'utf8' }).trim();
}

/** Options of one workload migration. */
export interface WorkloadMigrationOptions {
  readonly memoryMiB: number;
  readonly dirtyMiBps: number;
  readonly workingSetMiB: number;
  readonly initramfs: string;
  readonly kernel: string;
  /** QEMU migration parameters (e.g. max-bandwidth). */
  readonly parameters?: Record<string, number>;
  /** Heartbeats to wait for before migrating (guest booted and dirtying). */
  readonly warmupBeats?: number;
}

/** What one workload migration measured. */
export interface WorkloadMigrationResult {
  readonly status: string;
  readonly totalTimeMs: number;
  readonly qemuDowntimeMs: number | undefined;
  readonly heartbeatDowntimeMs: number;
  readonly pipeBytes: number;
  readonly sourceBytes: number;
  readonly destinationBytes: number;
  readonly qemuTransferredBytes: number;
  readonly heartbeats: HeartbeatReport;
  readonly resumedSeq: number;
}

/**
 * Boots the workload guest on a source QEMU, migrates it through a loopback
 * TCP socket (the caller's byte pipe) into a destination QEMU, resumes the
 * destination and watches the heartbeat continue there.
 */
export async function runWorkloadMigration(o: WorkloadMigrationOptions): Promise<WorkloadMigrationResult> {
  const clock = systemClock();
  const workDir = mkdtempSync(join(tmpdir(), 'nc-wl-'));
  const provider = new QemuProvider({ clock, workDir, defaultTimeoutMs: 300_000 });
  await provider.start();
  const monitor = new HeartbeatMonitor(clock);
  const pipe = await socketPipe();
  try {
    const config = {
      kernel: o.kernel,
      initrd: o.initramfs,
      append: `console=ttyS0 quiet panic=-1 nc_rate_mib=${o.dirtyMiBps} nc_ws_mib=${o.workingSetMiB}`,
      serialSocket: true,
    };
    const resources = { cpuMillis: 1000, memoryBytes: o.memoryMiB * MiB };
    await provider.createVm({ spec: { id: 'src', resources }, hostId: 'local', config });
    await provider.startVm('src');
    await monitor.attach('src', provider.serialPath('src'));
    await monitor.waitFor(o.warmupBeats ?? 300);
    await provider.createVm({ spec: { id: 'dst', resources }, hostId: 'local', config, incoming: true });
    await monitor.attach('dst', provider.serialPath('dst'));
    const started = clock.now();
    const [sent, received] = await Promise.all([
      provider.migrateSend('src', pipe.a, o.parameters ? { parameters: o.parameters } : {}),
      provider.migrateReceive('dst', pipe.b),
    ]);
    await provider.resumeVm('dst');
    const totalTimeMs = clock.now() - started;
    const resumedFrom = monitor.lastSeq;
    await monitor.waitFor(resumedFrom + 200);
    const stats = sent.stats as { ram?: { transferred?: number }; status?: string };
    return {
      status: stats.status ?? 'unknown',
      totalTimeMs,
      qemuDowntimeMs: sent.downtimeMs,
      heartbeatDowntimeMs: monitor.report().maxGapMs,
      pipeBytes: pipe.b.received,
      sourceBytes: sent.bytes,
      destinationBytes: received.bytes,
      qemuTransferredBytes: stats.ram?.transferred ?? 0,
      heartbeats: monitor.report(),
      resumedSeq: resumedFrom,
    };
  } finally {
    monitor.close();
    await pipe.close();
    await provider.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
