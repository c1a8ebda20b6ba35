/**
 * QEMU's own migration, no NovaCron in the path: the source QEMU connects
 * to the destination QEMU's `tcp:` listener (across the WAN emulator when
 * the QEMUs run in its namespaces) with one setting of {@link QEMU_SETTINGS}.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Clock, systemClock } from '@novacron/core';
import { HeartbeatMonitor, QemuProvider, type QmpClient } from '@novacron/providers';
import type { WanLink } from '@novacron/testkit/wan';
import type { CellResult } from './cell.js';
import { type GuestSpec, guestRequest, qemuInNamespace } from './guest.js';
import type { QemuSetting } from './settings.js';

interface QueryMigrate {
  status?: string;
  downtime?: number;
  'error-desc'?: string;
  ram?: { transferred?: number; 'dirty-sync-count'?: number };
  'socket-address'?: { host?: string; port: string }[];
}

const WARMUP_BEATS = 300;
const AFTER_BEATS = 200;

class DidNotFinish extends Error {}

const debug = process.env.MIGRATION_BENCH_DEBUG === '1';
const t0 = Date.now();
/** Progress lines on stderr with MIGRATION_BENCH_DEBUG=1. */
export function trace(what: string): void {
  if (debug) process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);
}

async function setCaps(qmp: QmpClient, s: QemuSetting): Promise<void> {
  const caps = { events: true, ...s.capabilities };
  await qmp.execute('migrate-set-capabilities', {
    capabilities: Object.entries(caps).map(([capability, state]) => ({ capability, state })),
  });
  await qmp.execute('migrate-set-parameters', { ...s.parameters });
}

/** Runs one QEMU-direct cell. `link` given: source QEMU in side A, destination in side B. */
export async function runDirectCell(o: {
  readonly guest: GuestSpec;
  readonly setting: QemuSetting;
  readonly path: string;
  readonly link?: WanLink;
  readonly timeoutMs: number;
}): Promise<CellResult> {
  const clock: Clock = systemClock();
  const dir = mkdtempSync(join(tmpdir(), 'nc-bench-direct-'));
  const mk = (name: string, ns?: string) =>
    new QemuProvider({
      clock,
      workDir: join(dir, name),
      defaultTimeoutMs: 120_000,
      ...(ns ? { binary: qemuInNamespace(dir, ns) } : {}),
    });
  const src = mk('a', o.link?.a.ns);
  const dst = mk('b', o.link?.b.ns);
  const monitor = new HeartbeatMonitor(clock);
  const cell = { path: o.path, dirtyMiBps: o.guest.dirtyMiBps, way: o.setting.name };
  try {
    trace(`direct ${o.setting.name}: starting providers`);
    await src.start();
    await dst.start();
    await src.createVm(guestRequest(o.guest, false));
    await src.startVm('vm');
    trace('source started');
    await monitor.attach('src', src.serialPath('vm'));
    await monitor.waitFor(WARMUP_BEATS);
    trace('guest warm');
    await dst.createVm(guestRequest(o.guest, true));
    await monitor.attach('dst', dst.serialPath('vm'));
    trace('destination ready');
    const sq = src.qmp('vm')!;
    const dq = dst.qmp('vm')!;
    await setCaps(sq, o.setting);
    await setCaps(dq, o.setting);
    const host = o.link ? o.link.b.address : '127.0.0.1';
    await dq.execute('migrate-incoming', { uri: `tcp:${host}:0` });
    const incoming = await dq.execute<QueryMigrate>('query-migrate');
    const port = incoming['socket-address']?.[0]?.port;
    if (!port) throw new Error(`destination did not report its port: ${JSON.stringify(incoming)}`);
    const wireBefore = o.link ? (await o.link.stats()).aToB.txBytes : 0;
    const started = clock.now();
    const deadline = started + o.timeoutMs;
    await sq.execute('migrate', { uri: `tcp:${host}:${port}` });
    trace('migrating');
    let q: QueryMigrate;
    let postcopyStarted = false;
    for (;;) {
      q = await sq.execute<QueryMigrate>('query-migrate');
      if (q.status === 'completed') break;
      if (q.status === 'failed' || q.status === 'cancelled')
        throw new Error(`migration ${q.status}: ${q['error-desc']}`);
      if (o.setting.postcopy && !postcopyStarted && (q.ram?.['dirty-sync-count'] ?? 0) >= 2) {
        await sq.execute('migrate-start-postcopy');
        postcopyStarted = true;
      }
      if (clock.now() > deadline) {
        await sq.execute('migrate_cancel').catch(() => undefined);
        throw new DidNotFinish();
      }
      await clock.sleep(20);
    }
    // The destination runs as soon as it has the state (in post-copy, while pages still arrive).
    for (;;) {
      const d = await dq.execute<QueryMigrate>('query-migrate');
      if (d.status === 'completed' || d.status === 'postcopy-active') break;
      if (d.status === 'failed') throw new Error(`destination failed: ${d['error-desc']}`);
      if (clock.now() > deadline) throw new DidNotFinish();
      await clock.sleep(5);
    }
    await dq.execute('cont').catch(() => undefined);
    trace('destination running');
    const totalTimeMs = clock.now() - started;
    const wire = o.link ? (await o.link.stats()).aToB.txBytes - wireBefore : undefined;
    await monitor.waitFor(monitor.lastSeq + AFTER_BEATS);
    const hb = monitor.report();
    const transferred = q.ram?.transferred ?? 0;
    return {
      ...cell,
      status: 'ok',
      totalTimeMs,
      downtimeMs: hb.maxGapMs,
      ...(q.downtime !== undefined ? { qemuDowntimeMs: q.downtime } : {}),
      wireBytes: wire ?? transferred,
      wireSource: wire !== undefined ? 'wan emulator a→b delivered (IP)' : 'qemu ram.transferred',
      streamBytes: transferred,
      lostBeats: hb.lost.length,
    };
  } catch (err) {
    if (err instanceof DidNotFinish) return { ...cell, status: 'dnf' };
    return { ...cell, status: 'failed', error: String((err as Error).message ?? err) };
  } finally {
    monitor.close();
    await src.stop().catch(() => undefined);
    await dst.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
