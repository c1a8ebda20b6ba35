import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '@novacron/core';
import { HeartbeatMonitor, QemuProvider } from '@novacron/providers';

/** The distribution kernel (linux-image-amd64), if installed. */
export function distributionKernel(): string | undefined {
  const k = existsSync('/boot')
    ? readdirSync('/boot')
        .filter((f) => f.startsWith('vmlinuz-'))
        .sort()
        .at(-1)
    : undefined;
  return k ? join('/boot', k) : undefined;
}

function has(cmd: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the QEMU workload guest cannot run here, or `undefined` when it can. */
export function qemuGuestUnavailable(): string | undefined {
  if (!has('qemu-system-x86_64')) return 'qemu-system-x86_64 is not installed (qemu-system-x86)';
  if (!distributionKernel()) return 'no /boot/vmlinuz-* (linux-image-amd64)';
  if (!has('gcc')) return 'gcc is not installed (gcc, libc6-dev build the workload guest)';
  if (!has('cpio')) return 'cpio is not installed';
  return undefined;
}

/** Builds the workload guest's initramfs (packages/providers/guest/build.sh) into a temp dir. */
export function buildWorkloadInitramfs(): string {
  const script = fileURLToPath(new URL('../../../providers/guest/build.sh', import.meta.url));
  return execFileSync(script, [mkdtempSync(join(tmpdir(), 'nc-guest-'))], { encoding: 'utf8' }).trim();
}

/** The provider config that boots the workload guest dirtying `dirtyMiBps` over `workingSetMiB`. */
export function workloadConfig(kernel: string, initramfs: string, dirtyMiBps: number, workingSetMiB: number) {
  return {
    kernel,
    initrd: initramfs,
    append: `console=ttyS0 quiet panic=-1 nc_rate_mib=${dirtyMiBps} nc_ws_mib=${workingSetMiB}`,
    serialSocket: true,
  };
}

/**
 * Two QEMU providers (two nodes' worth) with the workload guest running on
 * the first (heartbeat warm) and an incoming VM `vm` on the second, both
 * consoles on one heartbeat monitor.
 */
export async function startWorkloadPair(o: {
  readonly work: string;
  readonly name: string;
  readonly initramfs: string;
  readonly memoryMiB: number;
  readonly dirtyMiBps: number;
  readonly workingSetMiB: number;
}) {
  const clock = systemClock();
  const source = new QemuProvider({ clock, workDir: join(o.work, `${o.name}-a`), defaultTimeoutMs: 600_000 });
  const destination = new QemuProvider({ clock, workDir: join(o.work, `${o.name}-b`), defaultTimeoutMs: 600_000 });
  await source.start();
  await destination.start();
  const monitor = new HeartbeatMonitor(clock);
  const config = workloadConfig(distributionKernel()!, o.initramfs, o.dirtyMiBps, o.workingSetMiB);
  const spec = { id: 'vm', resources: { cpuMillis: 1000, memoryBytes: o.memoryMiB * 2 ** 20 } };
  await source.createVm({ spec, hostId: 'local', config });
  await source.startVm('vm');
  await monitor.attach('src', source.serialPath('vm'));
  await monitor.waitFor(100);
  await destination.createVm({ spec, hostId: 'local', config, incoming: true });
  await monitor.attach('dst', destination.serialPath('vm'));
  return {
    source,
    destination,
    monitor,
    async close() {
      monitor.close();
      await source.stop();
      await destination.stop();
    },
  };
}
