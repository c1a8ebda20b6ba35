/**
 * Runs every benchmark in turn, each in its own Node process so one
 * benchmark's heap, JIT state and leftover timers cannot skew the next.
 *
 * `pnpm bench` runs all; `pnpm bench checksum` runs those whose name
 * contains one of the arguments. Add a new benchmark by adding its file to
 * {@link BENCHES}.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Benchmark programs in this folder, run in this order. */
const BENCHES = [
  'checksum.ts',
  'checker.ts',
  'sim-speed.ts',
  'amst.ts',
  'ass.ts',
  'wan.ts',
  'amst-tls.ts',
  'hde.ts',
  'pba.ts',
  'itp.ts',
  'itp-batch.ts',
  'pbft.ts',
  'qemu-migration.ts',
  'migration.ts',
  'raft.ts',
  'gossip.ts',
  'node-reconfigure.ts',
  'migration-memory.ts',
];

const filters = process.argv.slice(2);
const selected = BENCHES.filter((b) => filters.length === 0 || filters.some((f) => b.includes(f)));
if (selected.length === 0) {
  console.error(`no benchmark matches ${filters.join(', ')}; known: ${BENCHES.join(', ')}`);
  process.exit(2);
}

let failed = 0;
for (const bench of selected) {
  const file = fileURLToPath(new URL(bench, import.meta.url));
  console.log(`\n=== ${bench} ===`);
  // process.execArgv carries tsx's loader flags, so the child runs TypeScript too.
  const result = spawnSync(process.execPath, [...process.execArgv, file], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`${bench} failed (${result.signal ?? `exit ${result.status}`})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
