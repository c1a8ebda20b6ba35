import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Free loopback TCP ports (bound then released; good enough on a quiet loopback). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A fresh temporary directory. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function until<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Creates a VM, retrying while the control log has no quorum (an election on a loaded machine); a retry
 * that finds the VM already there means the earlier attempt committed.
 */
export async function createVmRetrying(
  client: import('../../src/index.js').NovacronClient,
  request: Parameters<import('../../src/index.js').NovacronClient['createVm']>[0],
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.createVm(request);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NODE_VM_EXISTS' && attempt > 0) return;
      if ((code !== 'NODE_NO_QUORUM' && code !== 'NODE_CLIENT_UNREACHABLE') || attempt >= 8) throw err;
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
  }
}
