/**
 * Live migration of the QEMU workload guest (512 MiB, dirtying 16 MiB/s
 * over a 256 MiB working set, heartbeat every guest millisecond) between
 * two local QEMUs, two ways in the same run:
 *
 * - **novacron**: `QemuProvider.migrateSend`/`migrateReceive`, the stream
 *   carried through a caller-provided loopback TCP socket (Node reads
 *   QEMU's socket into the pipe and the pipe into the destination QEMU);
 * - **qemu direct** (the outside baseline): the source QEMU migrates
 *   straight to the destination's `tcp:` listener, no NovaCron in the path.
 *
 * Both use QEMU's defaults (max-bandwidth 128 MiB/s, downtime-limit 300 ms).
 * Reports total time, QEMU's downtime, downtime seen from the guest's
 * heartbeat, and bytes; checks no heartbeat was lost. Writes
 * results/qemu-migration.json.
 *
 * Needs qemu-system-x86 10.0, linux-image-amd64, gcc, libc6-dev and cpio.
 * Run: `pnpm build && npx tsx bench/src/qemu-migration.ts` (about 1-2 min).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '@novacron/core';
import { HeartbeatMonitor, QemuProcess } from '@novacron/providers';
import { runWorkloadMigration } from '../../packages/providers/test/helpers/workload-migration.ts';

const MEMORY_MIB = 512;
const DIRTY_MIBPS = 16;
const WORKING_SET_MIB = 256;
const RUNS = Number(process.env.RUNS ?? 2);

const kernel = join(
  '/boot',
  readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .sort()
    .at(-1)!,
);
const guestDir = mkdtempSync(join(tmpdir(), 'nc-bench-guest-'));
const initramfs = execFileSync(
  fileURLToPath(new URL('../../packages/providers/guest/build.sh', import.meta.url)),
  [guestDir],
  { encoding: 'utf8' },
).trim();
const append = `console=ttyS0 quiet panic=-1 nc_rate_mib=${DIRTY_MIBPS} nc_ws_mib=${WORKING_SET_MIB}`;

interface Row {
  readonly way: string;
  readonly totalTimeMs: number;
  readonly qemuDowntimeMs: number | undefined;
  readonly heartbeatDowntimeMs: number;
  readonly bytes: number;
  readonly lostBeats: number;
}

async function direct(): Promise<Row> {
  const clock = systemClock();
  const dir = mkdtempSync(join(tmpdir(), 'nc-bench-direct-'));
  const monitor = new HeartbeatMonitor(clock);
  const args = (name: string, incoming: boolean) => [
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'pc,accel=tcg', '-m', `${MEMORY_MIB}M`, '-S'],
    ...['-kernel', kernel, '-initrd', initramfs, '-append', append],
    ...['-chardev', `socket,id=ser0,path=${join(dir, `${name}.serial`)},server=on,wait=off`, '-serial', 'chardev:ser0'],
    ...(incoming ? ['-incoming', 'defer'] : []),
  ];
  const launch = (name: string, incoming: boolean) =>
    QemuProcess.launch({
      binary: 'qemu-system-x86_64',
      args: args(name, incoming),
      qmpPath: join(dir, `${name}.qmp`),
      clock,
      startTimeoutMs: 30_000,
    });
  const src = await launch('src', false);
  const dst = await launch('dst', true);
  try {
    await src.qmp.execute('cont');
    await monitor.attach('src', join(dir, 'src.serial'));
    await monitor.waitFor(300);
    await monitor.attach('dst', join(dir, 'dst.serial'));
    await dst.qmp.execute('migrate-incoming', { uri: 'tcp:127.0.0.1:0' });
    const incoming = await dst.qmp.execute<{ 'socket-address'?: { port: string }[] }>('query-migrate');
    const port = incoming['socket-address']?.[0]?.port;
    if (!port) throw new Error(`destination did not report its port: ${JSON.stringify(incoming)}`);
    const started = clock.now();
    await src.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    let q: { status?: string; downtime?: number; ram?: { transferred?: number } };
    for (;;) {
      q = await src.qmp.execute('query-migrate');
      if (q.status === 'completed') break;
      if (q.status === 'failed') throw new Error(`direct migration failed: ${JSON.stringify(q)}`);
      await clock.sleep(20);
    }
    for (;;) {
      const d = await dst.qmp.execute<{ status?: string }>('query-migrate');
      if (d.status === 'completed') break;
      if (d.status === 'failed') throw new Error('direct migration failed on the destination');
      await clock.sleep(5);
    }
    await dst.qmp.execute('cont');
    const totalTimeMs = clock.now() - started;
    await monitor.waitFor(monitor.lastSeq + 200);
    const hb = monitor.report();
    return {
      way: 'qemu direct (tcp:)',
      totalTimeMs,
      qemuDowntimeMs: q.downtime,
      heartbeatDowntimeMs: hb.maxGapMs,
      bytes: q.ram?.transferred ?? 0,
      lostBeats: hb.lost.length,
    };
  } finally {
    monitor.close();
    await src.kill();
    await dst.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function viaProvider(): Promise<Row> {
  const r = await runWorkloadMigration({
    memoryMiB: MEMORY_MIB,
    dirtyMiBps: DIRTY_MIBPS,
    workingSetMiB: WORKING_SET_MIB,
    initramfs,
    kernel,
  });
  if (r.status !== 'completed' || r.pipeBytes !== r.sourceBytes) throw new Error(`bad run: ${JSON.stringify(r)}`);
  return {
    way: 'novacron QemuProvider via socket pipe',
    totalTimeMs: r.totalTimeMs,
    qemuDowntimeMs: r.qemuDowntimeMs,
    heartbeatDowntimeMs: r.heartbeatDowntimeMs,
    bytes: r.pipeBytes,
    lostBeats: r.heartbeats.lost.length,
  };
}

const rows: Row[] = [];
for (let i = 0; i < RUNS; i++) {
  rows.push(await direct());
  rows.push(await viaProvider());
}
rmSync(guestDir, { recursive: true, force: true });

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = ['qemu direct (tcp:)', 'novacron QemuProvider via socket pipe'].map((way) => {
  const mine = rows.filter((r) => r.way === way);
  return {
    way,
    runs: mine.length,
    totalTimeMs: median(mine.map((r) => r.totalTimeMs)),
    qemuDowntimeMs: median(mine.map((r) => r.qemuDowntimeMs ?? Number.NaN)),
    heartbeatDowntimeMs: median(mine.map((r) => r.heartbeatDowntimeMs)),
    bytes: median(mine.map((r) => r.bytes)),
    lostBeats: Math.max(...mine.map((r) => r.lostBeats)),
  };
});
const base = summary[0]!;
console.log(
  `\nworkload guest: ${MEMORY_MIB} MiB, dirtying ${DIRTY_MIBPS} MiB/s over ${WORKING_SET_MIB} MiB; TCG; medians of ${RUNS}`,
);
console.log(
  'way                                     total ms  ×direct  qemu downtime ms  heartbeat gap ms  MiB moved  lost beats',
);
for (const s of summary)
  console.log(
    `${s.way.padEnd(40)}${s.totalTimeMs.toFixed(0).padStart(8)}  ${(s.totalTimeMs / base.totalTimeMs).toFixed(2).padStart(6)}  ${String(s.qemuDowntimeMs).padStart(16)}  ${s.heartbeatDowntimeMs.toFixed(0).padStart(16)}  ${(s.bytes / 2 ** 20).toFixed(1).padStart(9)}  ${String(s.lostBeats).padStart(10)}`,
  );
const out = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, 'qemu-migration.json'),
  `${JSON.stringify({ bench: 'qemu-migration', memoryMiB: MEMORY_MIB, dirtyMiBps: DIRTY_MIBPS, workingSetMiB: WORKING_SET_MIB, summary, runs: rows }, null, 2)}\n`,
);
