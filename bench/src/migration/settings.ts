/**
 * QEMU's own migration settings the benchmark compares against, each as
 * capabilities + parameters for both QEMUs, and the bench's command line.
 */
import { LIFTED_MAX_BANDWIDTH } from '@novacron/node';

const MiB = 2 ** 20;

/** One QEMU-direct configuration. */
export interface QemuSetting {
  readonly name: string;
  readonly capabilities: Readonly<Record<string, boolean>>;
  readonly parameters: Readonly<Record<string, number | string>>;
  /** Switch to post-copy once the first pre-copy pass is done. */
  readonly postcopy?: boolean;
}

/** The downtime budget for every cell, NovaCron and QEMU alike (ms). */
export const DOWNTIME_LIMIT_MS = 300;

const base = { 'max-bandwidth': LIFTED_MAX_BANDWIDTH, 'downtime-limit': DOWNTIME_LIMIT_MS };

function withAc(s: QemuSetting): QemuSetting[] {
  return [s, { ...s, name: `${s.name}+ac`, capabilities: { ...s.capabilities, 'auto-converge': true } }];
}

/** Every QEMU setting of the issue: plain, multifd 2/4/8, multifd+zstd, xbzrle (each also with auto-converge), postcopy. */
export const QEMU_SETTINGS: readonly QemuSetting[] = [
  ...withAc({ name: 'plain', capabilities: {}, parameters: base }),
  ...[2, 4, 8].flatMap((n) =>
    withAc({ name: `multifd${n}`, capabilities: { multifd: true }, parameters: { ...base, 'multifd-channels': n } }),
  ),
  ...withAc({
    name: 'multifd4-zstd',
    capabilities: { multifd: true },
    parameters: { ...base, 'multifd-channels': 4, 'multifd-compression': 'zstd', 'multifd-zstd-level': 1 },
  }),
  ...withAc({
    name: 'xbzrle',
    capabilities: { xbzrle: true },
    parameters: { ...base, 'xbzrle-cache-size': 128 * MiB },
  }),
  { name: 'postcopy', capabilities: { 'postcopy-ram': true }, parameters: base, postcopy: true },
];

/** Paths: loopback, or the WAN emulator's profile with a congestion control in both namespaces. */
export const PATHS = [
  'loopback',
  'intercontinental-cubic',
  'intercontinental-bbr',
  'lossy-cubic',
  'lossy-bbr',
] as const;
export type PathName = (typeof PATHS)[number];

/** What to run. */
export interface BenchArgs {
  readonly paths: PathName[];
  readonly dirty: number[];
  readonly settings: QemuSetting[];
  readonly novacron: boolean;
  readonly memoryMiB: number;
  readonly timeoutMs: number;
}

/**
 * `--full` (every path, dirty rate and setting), or the default subset
 * narrowed by `--paths a,b`, `--dirty 0,16`, `--settings plain,multifd4`
 * (`--settings none` runs NovaCron only), `--no-novacron`, `--memory MiB`,
 * `--timeout-s N` (did-not-finish after N seconds; the 600 by default).
 */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const full = argv.includes('--full');
  const paths = (get('--paths')?.split(',') ?? (full ? [...PATHS] : ['loopback'])) as PathName[];
  for (const p of paths) if (!PATHS.includes(p)) throw new Error(`unknown path ${p}; known: ${PATHS.join(', ')}`);
  const dirty = (get('--dirty') ?? (full ? '0,16,64' : '0,16')).split(',').map(Number);
  const names =
    get('--settings')?.split(',') ?? (full ? QEMU_SETTINGS.map((s) => s.name) : ['plain', 'multifd4', 'xbzrle+ac']);
  const settings = names
    .filter((n) => n !== 'none')
    .map((n) => {
      const s = QEMU_SETTINGS.find((x) => x.name === n);
      if (!s) throw new Error(`unknown setting ${n}; known: ${QEMU_SETTINGS.map((x) => x.name).join(', ')}`);
      return s;
    });
  return {
    paths,
    dirty,
    settings,
    novacron: !argv.includes('--no-novacron'),
    memoryMiB: Number(get('--memory') ?? 512),
    timeoutMs: Number(get('--timeout-s') ?? 600) * 1000,
  };
}
