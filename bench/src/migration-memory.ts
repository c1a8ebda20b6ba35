/**
 * Memory-provider live migration of a 1 GiB VM whose guest dirties 1%, 5%
 * and 20% of its pages per second (uniformly over all of memory), moved by
 * the node's pages-style engine (pre-copy rounds, hde page-mode delta,
 * auto-converge, post-copy when pre-copy cannot converge) over real TCP on
 * loopback through amst, in one process. Reports total time, rounds,
 * downtime (source paused → destination resumed), raw and wire bytes, and
 * whether it switched over by pre-copy or post-copy. No
 * outside tool migrates memory-provider VMs, so there is no ratio column;
 * the QEMU comparison is bench/src/migration/ (the stream style).
 *
 * npx tsx bench/src/migration-memory.ts [GiB] [dirty shares, e.g. 0.01,0.05,0.2]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRng, systemClock } from '@novacron/core';
import {
  type ControlMessage,
  type MigrationControl,
  MigrationDestination,
  type MigrationEngineConfig,
  MigrationRates,
  MigrationSource,
  migrationDataTransport,
} from '@novacron/node';
import { MemoryProvider } from '@novacron/providers';

const GiB = 2 ** 30;
const size = Number(process.argv[2] ?? 1) * GiB;
const clock = systemClock();

function controlPair(): { a: MigrationControl; b: MigrationControl } {
  const hs = {
    a: new Set<(f: string, m: ControlMessage) => void>(),
    b: new Set<(f: string, m: ControlMessage) => void>(),
  };
  const end = (me: 'a' | 'b', other: 'a' | 'b'): MigrationControl => ({
    send: (_to, m) =>
      queueMicrotask(() => {
        for (const h of hs[other]) h(me, m);
      }),
    onMessage: (h) => {
      hs[me].add(h);
      return () => hs[me].delete(h);
    },
  });
  return { a: end('a', 'b'), b: end('b', 'a') };
}

async function run(dirtyShare: number) {
  const host = (id: string) => ({ id, capacity: { cpuMillis: 8000, memoryBytes: 4 * GiB } });
  const src = new MemoryProvider({ clock, rng: seededRng('src'), hosts: [host('A')] });
  const dst = new MemoryProvider({ clock, rng: seededRng('dst'), hosts: [host('B')] });
  const config = { dirtyBytesPerSecond: dirtyShare * size };
  await src.createVm({ spec: { id: 'vm', resources: { cpuMillis: 1000, memoryBytes: size } }, hostId: 'A', config });
  await src.startVm('vm');
  // Let the guest touch memory for a second before the migration starts.
  await new Promise((r) => setTimeout(r, 1000));
  const control = controlPair();
  const data = migrationDataTransport({ listen: '127.0.0.1:0', clock });
  const destination = new MigrationDestination({ ...data, provider: dst, hostId: 'B', control: control.b, clock });
  await destination.start();
  let resumedAt = 0;
  const engine: MigrationEngineConfig = {
    downtimeBudgetMs: 300,
    maxRounds: 30,
    autoConverge: true,
    throttleSteps: [0.5, 0.25, 0.1, 0.02],
    postCopy: true,
    switchoverCostMs: 20,
    batchPages: 256,
    postCopyStreamPages: 256,
    chunkBytes: 256 * 1024,
    lanes: 'adaptive',
    codec: 'lz4',
    verifyDigest: false,
    resumeWindowMs: 5_000,
  };
  const source = new MigrationSource({
    id: `bench-${dirtyShare}`,
    vmId: 'vm',
    sourceNode: 'a',
    destinationNode: 'b',
    destinationAddress: destination.address!,
    provider: src,
    vmConfig: config,
    transport: data.transport,
    control: control.a,
    rates: new MigrationRates({ bytesPerSecond: 0 }),
    clock,
    mode: 'datacenter',
    config: engine,
    commit: async () => {
      await dst.resumeVm('vm');
      resumedAt = Date.now();
      return { committed: true, resumedAt };
    },
    abandon: async () => true,
  });
  const p = await source.run();
  await destination.stop();
  return {
    dirtyPercentPerSecond: dirtyShare * 100,
    totalMs: Math.round(p.totalMs ?? 0),
    rounds: p.round,
    mode: p.mode,
    downtimeMs: p.downtimeMs,
    rawBytes: p.rawBytes,
    wireBytes: p.wireBytes,
    lanes: p.lanes,
    throttled: p.throttleBytesPerSecond !== undefined,
    faults: p.faults ?? 0,
    // The destination equals the source at switchover: checked by the e2e tests (hashing 1 GiB here would add to the downtime).
  };
}

async function main() {
  const rows = [];
  const out = join(dirname(fileURLToPath(import.meta.url)), '../results/migration-memory.json');
  mkdirSync(dirname(out), { recursive: true });
  const shares = process.argv[3] ? process.argv[3].split(',').map(Number) : [0.01, 0.05, 0.2];
  for (const share of shares) {
    const r = await run(share);
    rows.push(r);
    // Written after every row, so a run stopped early keeps what it measured.
    writeFileSync(out, `${JSON.stringify({ vmBytes: size, when: new Date().toISOString(), rows }, null, 2)}\n`);
    console.log(
      `dirty ${String(r.dirtyPercentPerSecond).padStart(3)}%/s  ${String(r.totalMs).padStart(6)} ms  rounds ${String(r.rounds).padStart(2)}  ${r.mode}  downtime ${String(r.downtimeMs).padStart(4)} ms  raw ${(r.rawBytes / 2 ** 20).toFixed(0)} MiB  wire ${(r.wireBytes / 2 ** 20).toFixed(1)} MiB  lanes ${r.lanes}${r.throttled ? '  throttled' : ''}${r.faults ? `  faults ${r.faults}` : ''}`,
    );
  }
  console.log(`wrote ${out}`);
}

await main();
