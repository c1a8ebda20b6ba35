import { readFileSync, readdirSync } from 'node:fs';

/** Pids of live processes whose command line mentions `dir` (QEMU processes of one provider's work dir). */
export function qemuProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('qemu-system') && cmdline.includes(dir)) {
        const status = readFileSync(`/proc/${entry}/status`, 'utf8');
        if (!/^State:\s+Z/m.test(status)) pids.push(Number(entry));
      }
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}
