/**
 * Live migration of the QEMU workload guest (#11) side by side in one run:
 * QEMU's own direct migration with each of its settings against NovaCron's
 * stream-style migration (QEMU's stream carried over amst lanes with hde
 * codecs between two NovaCron endpoint processes), on the same path, with
 * the same guest (512 MiB by default, dirtying 0 / 16 / 64 MiB/s over half
 * its RAM) and the same 300 ms downtime limit. Per cell: total time (start
 * command to destination running), downtime as the guest's heartbeat gap,
 * wire bytes; NovaCron's ratios against QEMU's best finishing setting of the
 * same path and dirty rate. A cell not finished within the timeout (600 s,
 * the issue's) is did-not-finish.
 *
 * Default: loopback × dirty 0,16 × {plain, multifd4, xbzrle+ac} + NovaCron
 * (about 6-10 min on a quiet 2-core machine). `--full` is every path
 * (loopback; intercontinental and lossy through the WAN emulator, each with
 * CUBIC and with BBR), dirty 0,16,64, every QEMU setting: many hours.
 * Narrow with `--paths`, `--dirty`, `--settings` (see migration/settings.ts),
 * `--timeout-s`, `--memory`; `--link-hint` hands the emulated profile to
 * hde's codec selector as the link estimate (as pba would in a node).
 *
 * Needs: qemu-system-x86 10.0, linux-image-amd64, gcc + libc6-dev + cpio
 * (guest), and for WAN paths root + iproute2. Run after `pnpm build`:
 * `npx tsx bench/src/migration.ts [flags]`. Writes results/migration.json
 * (or results/migration-<tag>.json with `--tag`).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LinkMode } from '@novacron/core';
import { WAN_PROFILES, type WanLink, startWanLink, wanSupport } from '@novacron/testkit/wan';
import type { CellResult } from './migration/cell.js';
import { runDirectCell } from './migration/direct.js';
import { buildInitramfs, distributionKernel } from './migration/guest.js';
import { runRelayCell } from './migration/relay.js';
import { DOWNTIME_LIMIT_MS, type PathName, parseArgs } from './migration/settings.js';

const argv = process.argv.slice(2);
const args = parseArgs(argv);
const tagAt = argv.indexOf('--tag');
const tag = tagAt >= 0 ? argv[tagAt + 1] : undefined;
const kernel = distributionKernel();
const initramfs = buildInitramfs();
const results: CellResult[] = [];
const MiB = 2 ** 20;

function modeOf(path: PathName): LinkMode {
  return path === 'loopback' ? 'datacenter' : 'internet';
}

async function withPath<T>(path: PathName, f: (link: WanLink | undefined) => Promise<T>): Promise<T | undefined> {
  if (path === 'loopback') return f(undefined);
  const support = wanSupport();
  if (!support.ok) {
    console.log(`${path}: skipped: ${support.reason}`);
    return undefined;
  }
  const [profile, cc] = path.split('-') as [keyof typeof WAN_PROFILES, 'cubic' | 'bbr'];
  const link = await startWanLink({ ...WAN_PROFILES[profile], congestionControl: cc, seed: 13 });
  try {
    return await f(link);
  } finally {
    await link.close();
  }
}

const fmtMs = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
function show(r: CellResult): void {
  const mib = r.wireBytes === undefined ? '-' : (r.wireBytes / MiB).toFixed(1);
  console.log(
    `${r.path.padEnd(24)}${String(r.dirtyMiBps).padStart(6)}  ${r.way.padEnd(16)}${r.status.padEnd(7)}${fmtMs(r.totalTimeMs).padStart(9)}${fmtMs(r.downtimeMs).padStart(11)}${fmtMs(r.qemuDowntimeMs).padStart(11)}${mib.padStart(11)}  ${r.lostBeats ?? '-'}${r.error ? `  ${r.error.slice(0, 120)}` : ''}`,
  );
}

console.log(
  `migration bench: guest ${args.memoryMiB} MiB, TCG, downtime-limit ${DOWNTIME_LIMIT_MS} ms, timeout ${args.timeoutMs / 1000} s; ${cpus().length} CPUs shared with other work (load ${loadavg()[0]!.toFixed(1)})`,
);
console.log('path                     dirty  way             status  total ms  hb gap ms  qemu dt ms  wire MiB  lost');
try {
  for (const path of args.paths) {
    await withPath(path, async (link) => {
      for (const dirty of args.dirty) {
        const guest = {
          kernel,
          initramfs,
          memoryMiB: args.memoryMiB,
          dirtyMiBps: dirty,
          // Half the RAM (256 MiB of 512, as in #11); a quarter of small guests, whose kernel needs the rest.
          workingSetMiB: Math.floor(args.memoryMiB >= 512 ? args.memoryMiB / 2 : args.memoryMiB / 4),
        };
        for (const setting of args.settings) {
          const r = await runDirectCell({ guest, setting, path, ...(link ? { link } : {}), timeoutMs: args.timeoutMs });
          results.push(r);
          show(r);
        }
        if (args.novacron) {
          const r = await runRelayCell({
            guest,
            path,
            ...(link ? { link } : {}),
            mode: modeOf(path),
            timeoutMs: args.timeoutMs,
          });
          results.push(r);
          show(r);
        }
      }
    });
  }
} finally {
  rmSync(dirname(initramfs), { recursive: true, force: true });
}

/** NovaCron against QEMU's best finishing setting (least total time) of the same path and dirty rate. */
const ratios = [];
for (const r of results.filter((x) => x.way === 'novacron')) {
  const peers = results.filter(
    (x) => x.way !== 'novacron' && x.path === r.path && x.dirtyMiBps === r.dirtyMiBps && x.status === 'ok',
  );
  const best = peers.sort((a, b) => a.totalTimeMs! - b.totalTimeMs!)[0];
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? Number((a / b).toFixed(2)) : undefined;
  ratios.push({
    path: r.path,
    dirtyMiBps: r.dirtyMiBps,
    novacron: r.status,
    qemuBest: best?.way ?? (peers.length === 0 ? 'none finished' : undefined),
    timeRatio: r.status === 'ok' ? ratio(r.totalTimeMs, best?.totalTimeMs) : undefined,
    downtimeRatio: r.status === 'ok' ? ratio(r.downtimeMs, best?.downtimeMs) : undefined,
    wireRatio: r.status === 'ok' ? ratio(r.wireBytes, best?.wireBytes) : undefined,
    downtimeWithinBudget: r.downtimeMs !== undefined ? r.downtimeMs <= DOWNTIME_LIMIT_MS : undefined,
  });
}
console.log('\nNovaCron ÷ QEMU best setting of the cell (time, heartbeat downtime, wire bytes):');
for (const x of ratios)
  console.log(
    `${x.path.padEnd(24)}${String(x.dirtyMiBps).padStart(6)}  best ${String(x.qemuBest).padEnd(14)} time ×${x.timeRatio ?? '-'}  downtime ×${x.downtimeRatio ?? '-'}  wire ×${x.wireRatio ?? '-'}  downtime ≤ ${DOWNTIME_LIMIT_MS} ms: ${x.downtimeWithinBudget ?? '-'}`,
  );

const out = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, tag ? `migration-${tag}.json` : 'migration.json'),
  `${JSON.stringify(
    {
      bench: 'migration',
      date: new Date().toISOString(),
      note: `2 CPUs shared with other processes during the run; TCG (no KVM); load average at start ${loadavg()[0]!.toFixed(1)}`,
      memoryMiB: args.memoryMiB,
      downtimeLimitMs: DOWNTIME_LIMIT_MS,
      timeoutS: args.timeoutMs / 1000,
      argv,
      cells: results,
      ratios,
    },
    null,
    2,
  )}\n`,
);
