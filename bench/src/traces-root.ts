import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the shared throughput traces are: NOVACRON_TRACES, else the
 * nearest `../shared/traces` above this folder (the repository's sibling).
 */
export function tracesRoot(): string {
  if (process.env.NOVACRON_TRACES) return resolve(process.env.NOVACRON_TRACES);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, '..', 'shared', 'traces');
    if (existsSync(candidate)) return resolve(candidate);
    const up = dirname(dir);
    if (up === dir) throw new Error('trace folder not found: set NOVACRON_TRACES');
    dir = up;
  }
}
