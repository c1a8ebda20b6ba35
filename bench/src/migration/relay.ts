/**
 * NovaCron's stream-style migration between two endpoint processes (each a
 * QemuProvider plus one half of the relay; in the WAN namespaces when the
 * path is emulated): QEMU's stream crosses the path as amst lanes with hde
 * chunks, QEMU's settings chosen by `chooseStreamCapabilities`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LinkMode } from '@novacron/core';
import { systemClock } from '@novacron/core';
import { HeartbeatMonitor } from '@novacron/providers';
import type { WanLink } from '@novacron/testkit/wan';
import type { CellResult } from './cell.js';
import type { GuestSpec } from './guest.js';

const WARMUP_BEATS = 300;
const AFTER_BEATS = 200;
const peerScript = fileURLToPath(new URL('./relay-peer.ts', import.meta.url));

interface Peer {
  readonly child: ChildProcess;
  next(type: string, timeoutMs: number): Promise<Record<string, unknown>>;
  send(m: Record<string, unknown>): void;
  kill(): void;
}

function startPeer(role: 'src' | 'dst', config: unknown, link: WanLink | undefined): Peer {
  const args = [...process.execArgv, peerScript, role, JSON.stringify(config)];
  // Own process group: the peer's QEMUs go down with it whatever happens.
  const child = link
    ? link.spawn(role === 'src' ? link.a : link.b, process.execPath, args, { detached: true })
    : spawn(process.execPath, args, { stdio: 'pipe', detached: true });
  const queue: Record<string, unknown>[] = [];
  let waiter: (() => void) | undefined;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout! }).on('line', (l) => {
    if (!l.startsWith('{')) return;
    queue.push(JSON.parse(l) as Record<string, unknown>);
    waiter?.();
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
    waiter?.();
  });
  return {
    child,
    async next(type, timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const m = queue.shift();
        if (m?.type === 'error') throw new Error(`${role} peer: ${m.message} (${m.code ?? ''})`);
        if (m?.type === type) return m;
        if (m) continue;
        if (exited) throw new Error(`${role} peer exited: ${stderr}`);
        const left = until - Date.now();
        if (left <= 0) throw new RelayDidNotFinish();
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiter = () => {
            clearTimeout(t);
            r();
          };
        });
      }
    },
    send(m) {
      child.stdin?.write(`${JSON.stringify(m)}\n`);
    },
    kill() {
      if (child.pid !== undefined && !exited) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
    },
  };
}

class RelayDidNotFinish extends Error {}

/** Runs one NovaCron cell. */
export async function runRelayCell(o: {
  readonly guest: GuestSpec;
  readonly path: string;
  readonly link?: WanLink;
  readonly mode: LinkMode;
  readonly timeoutMs: number;
  /** Link estimate handed to the codec selector (`--link-hint`): the emulated profile. */
  readonly linkHint?: { readonly rttMs: number; readonly bandwidthBps: number; readonly lossRate: number };
}): Promise<CellResult> {
  const clock = systemClock();
  const dir = mkdtempSync(join(tmpdir(), 'nc-bench-relay-'));
  const monitor = new HeartbeatMonitor(clock);
  const cell = { path: o.path, dirtyMiBps: o.guest.dirtyMiBps, way: 'novacron' };
  const common = {
    guest: o.guest,
    mode: o.mode,
    migrationId: `bench-${process.pid}-${Date.now()}`,
    ...(o.linkHint ? { link: o.linkHint } : {}),
  };
  const src = startPeer(
    'src',
    { ...common, workDir: join(dir, 'a'), listenHost: o.link?.a.address ?? '127.0.0.1' },
    o.link,
  );
  const dst = startPeer(
    'dst',
    { ...common, workDir: join(dir, 'b'), listenHost: o.link?.b.address ?? '127.0.0.1' },
    o.link,
  );
  const setupMs = 180_000;
  try {
    const ready = await src.next('ready', setupMs);
    await monitor.attach('src', String(ready.serial));
    const listening = await dst.next('listening', setupMs);
    await monitor.waitFor(WARMUP_BEATS);
    await monitor.attach('dst', String(listening.serial));
    const wireBefore = o.link ? (await o.link.stats()).aToB.txBytes : 0;
    const started = clock.now();
    src.send({ type: 'go', address: listening.address });
    await dst.next('resumed', o.timeoutMs);
    const totalTimeMs = clock.now() - started;
    const sent = await src.next('sent', 60_000);
    const wire = o.link ? (await o.link.stats()).aToB.txBytes - wireBefore : undefined;
    await monitor.waitFor(monitor.lastSeq + AFTER_BEATS);
    const hb = monitor.report();
    return {
      ...cell,
      status: 'ok',
      totalTimeMs,
      downtimeMs: hb.maxGapMs,
      ...(typeof sent.qemuDowntimeMs === 'number' ? { qemuDowntimeMs: sent.qemuDowntimeMs } : {}),
      wireBytes: wire ?? Number(sent.wireBytes),
      wireSource: wire !== undefined ? 'wan emulator a→b delivered (IP)' : 'amst wireBytes',
      streamBytes: Number(sent.bytes),
      lostBeats: hb.lost.length,
      detail: {
        amstWireBytes: sent.wireBytes,
        maxLanes: sent.maxLanes,
        finalLanes: sent.finalLanes,
        retransmittedChunks: sent.retransmittedChunks,
        capabilities: sent.capabilities,
        reasons: ready.reasons,
      },
    };
  } catch (err) {
    if (err instanceof RelayDidNotFinish) return { ...cell, status: 'dnf' };
    return { ...cell, status: 'failed', error: String((err as Error).message ?? err) };
  } finally {
    monitor.close();
    for (const p of [src, dst]) p.send({ type: 'quit' });
    const exited = (p: Peer) =>
      new Promise<void>((r) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) r();
        else p.child.once('exit', () => r());
      });
    await Promise.race([Promise.all([exited(src), exited(dst)]), new Promise((r) => setTimeout(r, 15_000))]);
    src.kill();
    dst.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
