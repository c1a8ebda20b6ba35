/**
 * The workload guest of #11 for the migration benchmark: the distribution
 * kernel with an initramfs whose init dirties memory at a set rate and
 * prints a heartbeat on the serial console every guest millisecond.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 2 ** 20;

/** The distribution kernel (linux-image-amd64). */
export function distributionKernel(): string {
  const k = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .sort()
    .at(-1);
  if (!k) throw new Error('no /boot/vmlinuz-* (install linux-image-amd64)');
  return join('/boot', k);
}

/** Builds the initramfs with packages/providers/guest/build.sh (gcc, libc6-dev, cpio). */
export function buildInitramfs(): string {
  const script = fileURLToPath(new URL('../../../packages/providers/guest/build.sh', import.meta.url));
  return execFileSync(script, [mkdtempSync(join(tmpdir(), 'nc-bench-guest-'))], { encoding: 'utf8' }).trim();
}

/** What one guest boots with. */
export interface GuestSpec {
  readonly kernel: string;
  readonly initramfs: string;
  readonly memoryMiB: number;
  readonly dirtyMiBps: number;
  /** Half the RAM: the dirtier's working set. */
  readonly workingSetMiB: number;
}

/** `createVm` arguments for the guest. */
export function guestRequest(g: GuestSpec, incoming: boolean) {
  return {
    spec: { id: 'vm', resources: { cpuMillis: 1000, memoryBytes: g.memoryMiB * MiB } },
    hostId: 'local',
    incoming,
    config: {
      kernel: g.kernel,
      initrd: g.initramfs,
      append: `console=ttyS0 quiet panic=-1 nc_rate_mib=${g.dirtyMiBps} nc_ws_mib=${g.workingSetMiB}`,
      serialSocket: true,
    },
  };
}

/**
 * A QEMU binary that runs inside a network namespace: a two-line wrapper
 * around `ip netns exec`, so a provider in this process drives a QEMU whose
 * sockets live on one side of the WAN emulator.
 */
export function qemuInNamespace(dir: string, ns: string): string {
  const path = join(dir, `qemu-${ns}.sh`);
  writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${ns} qemu-system-x86_64 "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}
