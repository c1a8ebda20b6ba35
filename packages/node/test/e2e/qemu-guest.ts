import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
