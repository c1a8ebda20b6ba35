import { createHash } from 'node:crypto';
import type { VmProvider } from '@novacron/core';

/** SHA-256 of a VM's whole memory, read in 1024-page slices (compares the two sides at switchover). */
export async function memoryDigest(provider: VmProvider, vmId: string, pageCount: number): Promise<string> {
  const h = createHash('sha256');
  for (let at = 0; at < pageCount; at += 1024) {
    const n = Math.min(1024, pageCount - at);
    const pages = new Uint32Array(n);
    for (let k = 0; k < n; k++) pages[k] = at + k;
    h.update(await provider.readPages(vmId, pages));
  }
  return h.digest('hex');
}
