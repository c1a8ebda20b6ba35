import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreErrorCode, NovacronError } from '@novacron/core';

/** A WAN path's shape: what the emulator imposes on each direction. */
export interface WanProfile {
  /** Round-trip time added by the link (half each way), ms. */
  readonly rttMs: number;
  /** Uniform jitter on each one-way delay, ± ms (default 0; never reorders). */
  readonly jitterMs?: number;
  /** Packet loss probability per direction (0.005 = 0.5%). */
  readonly loss: number;
  /** Bottleneck rate each way, Mbit/s (0 = unlimited). */
  readonly rateMbit: number;
  /** Bottleneck queue, packets (default: one bandwidth-delay product, at least 100). */
  readonly queuePackets?: number;
  /** MTU of both TUN devices (default 1500). */
  readonly mtu?: number;
}

/** The profiles (#5): continental, intercontinental and lossy paths. */
export const WAN_PROFILES = {
  continental: { rttMs: 40, loss: 0.0001, rateMbit: 500 },
  intercontinental: { rttMs: 150, loss: 0.005, rateMbit: 200 },
  lossy: { rttMs: 80, loss: 0.02, rateMbit: 100 },
} as const satisfies Record<string, WanProfile>;

/** Congestion control a namespace's TCP sockets use by default. */
export type CongestionControl = 'cubic' | 'bbr' | 'reno';

/** Options for {@link startWanLink}. */
export interface WanLinkOptions extends WanProfile {
  /** Default congestion control in both namespaces (default `cubic`). */
  readonly congestionControl?: CongestionControl;
  /** Seeds the loss and jitter draws (default 1). */
  readonly seed?: number;
}

/** One end of a link: a network namespace with one TUN device and one address. */
export interface WanSide {
  /** Namespace name (`ip netns` name). */
  readonly ns: string;
  /** This side's IPv4 address on the link. */
  readonly address: string;
}

/** Per-direction counters of the emulator. */
export interface WanDirectionStats {
  /** Packets read from the sending side's device. */
  readonly rx: number;
  /** Packets written to the receiving side's device. */
  readonly tx: number;
  readonly txBytes: number;
  /** Packets dropped by the random loss. */
  readonly lost: number;
  /** Packets dropped at the full bottleneck queue. */
  readonly queueDrops: number;
  readonly writeErrors: number;
  /** Deepest bottleneck queue seen, packets. */
  readonly maxQueue: number;
}

/** Emulator counters for both directions (`aToB` carries what side A sends). */
export interface WanStats {
  readonly aToB: WanDirectionStats;
  readonly bToA: WanDirectionStats;
}

/** Result of {@link WanLink.run}. */
export interface WanRunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const NS_PREFIX = 'ncwan';
const SUBNET = '10.77.0';
let counter = 0;

/**
 * Whether this machine can run the emulator (root, `ip netns`, TUN, gcc);
 * tests skip with the reason when it cannot.
 */
export function wanSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'needs Linux (network namespaces and TUN)' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (network namespaces, TUN devices)' };
  if (!existsSync('/dev/net/tun')) return { ok: false, reason: '/dev/net/tun is missing' };
  for (const [tool, args] of [
    ['ip', ['-V']],
    ['gcc', ['--version']],
  ] as const) {
    const r = spawnSync(tool, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0)
      return { ok: false, reason: `\`${tool}\` is not installed (${tool === 'ip' ? 'iproute2' : 'gcc, libc6-dev'})` };
  }
  const probe = `${NS_PREFIX}-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return { ok: false, reason: `\`ip netns add\` failed: ${add.stderr.trim()}` };
  spawnSync('ip', ['netns', 'del', probe]);
  return { ok: true };
}

function sourcePath(): string {
  // From src/wan/ (tests, tsx) and from dist/ (the published package ships src/ too).
  for (const rel of ['./wanem.c', '../src/wan/wanem.c', '../../src/wan/wanem.c']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new NovacronError(CoreErrorCode.INVALID_STATE, 'wanem.c not found next to the testkit sources');
}

/** Compiles the emulator once per source version into the temp dir; returns the binary's path. */
export function buildWanEmulator(): string {
  const src = sourcePath();
  const hash = createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'novacron-wanem');
  const bin = join(dir, `wanem-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', tmp, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new NovacronError(CoreErrorCode.INVALID_STATE, `gcc failed: ${r.stderr || r.error}`);
  renameSync(tmp, bin); // atomic: a parallel build never sees a half-written binary
  return bin;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new NovacronError(CoreErrorCode.INVALID_STATE, `ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
  }
}

function sysctlIn(ns: string, key: string, value: string): void {
  const path = `/proc/sys/${key.replace(/\./g, '/')}`;
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', `echo "$1" > "$2"`, 'sh', value, path], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    throw new NovacronError(CoreErrorCode.INVALID_STATE, `setting ${key}=${value} in ${ns} failed: ${r.stderr.trim()}`);
  }
}

/**
 * A namespace may only choose congestion controls the host allows for
 * unprivileged use; this host's default (bbr) leaves cubic out, so add it.
 * Only widens the allowed list (a no-op when already there).
 */
function allowCongestionControl(cc: CongestionControl): void {
  const path = '/proc/sys/net/ipv4/tcp_allowed_congestion_control';
  const allowed = readFileSync(path, 'utf8').trim().split(/\s+/);
  if (allowed.includes(cc)) return;
  const available = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
  if (!available.includes(cc)) {
    throw new NovacronError(CoreErrorCode.INVALID_STATE, `congestion control ${cc} is not available in this kernel`);
  }
  const r = spawnSync('sh', ['-c', 'echo "$1" > "$2"', 'sh', [...allowed, cc].join(' '), path]);
  if (r.status !== 0) throw new NovacronError(CoreErrorCode.INVALID_STATE, `cannot allow ${cc} in namespaces`);
}

function check(o: WanLinkOptions): void {
  const bad = (what: string) => new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `wan link: ${what}`);
  if (!(o.rttMs >= 0 && o.rttMs <= 10_000)) throw bad('rttMs must be in [0, 10000]');
  if (!((o.jitterMs ?? 0) >= 0 && (o.jitterMs ?? 0) <= o.rttMs / 2 + 1_000)) throw bad('jitterMs out of range');
  if (!(o.loss >= 0 && o.loss < 1)) throw bad('loss must be in [0, 1)');
  if (!(o.rateMbit >= 0 && o.rateMbit <= 100_000)) throw bad('rateMbit must be in [0, 100000]');
  if (o.queuePackets !== undefined && !(Number.isInteger(o.queuePackets) && o.queuePackets >= 1))
    throw bad('queuePackets must be a positive integer');
  if (o.mtu !== undefined && !(Number.isInteger(o.mtu) && o.mtu >= 576 && o.mtu <= 65_535))
    throw bad('mtu must be an integer in [576, 65535]');
}

/** Default bottleneck queue: one bandwidth-delay product of full-size packets, at least 100. */
export function defaultQueuePackets(p: WanProfile): number {
  const mtu = p.mtu ?? 1500;
  if (p.rateMbit <= 0) return 1000;
  return Math.max(100, Math.ceil((p.rateMbit * 1e6 * (p.rttMs / 1000)) / 8 / mtu));
}

/**
 * Creates two network namespaces joined by the userspace WAN emulator
 * (wanem.c, built with gcc on first use) and returns a handle to run
 * programs on either side. Side A is `10.77.0.1`, side B `10.77.0.2`; the
 * link is their only route. TCP buffers in both namespaces may grow to
 * 32 MiB so a single flow can fill a long fat path.
 *
 * Always `close()` the link (try/finally): it kills what it spawned and
 * deletes the namespaces. Namespaces left by a crashed process are removed
 * by {@link cleanupStaleWanLinks}, which this calls first.
 */
export async function startWanLink(options: WanLinkOptions): Promise<WanLink> {
  check(options);
  cleanupStaleWanLinks();
  const bin = buildWanEmulator();
  const cc = options.congestionControl ?? 'cubic';
  allowCongestionControl(cc);
  const id = `${process.pid}-${counter++}`;
  const link = new WanLink(
    { ns: `${NS_PREFIX}-${id}-a`, address: `${SUBNET}.1` },
    { ns: `${NS_PREFIX}-${id}-b`, address: `${SUBNET}.2` },
  );
  try {
    await link.setUp(bin, options, cc);
  } catch (err) {
    await link.close();
    throw err;
  }
  return link;
}

/** Deletes emulator namespaces whose creating process is gone. */
export function cleanupStaleWanLinks(): void {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${NS_PREFIX}-(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) spawnSync('ip', ['netns', 'del', name]);
  }
}

const live = new Set<WanLink>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous teardown on exit: namespaces must not outlive the process that made them.
  process.once('exit', () => {
    for (const l of live) l.closeSync();
  });
  // A signal would skip 'exit' handlers: tear down, then die of the same signal.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const l of live) l.closeSync();
      process.kill(process.pid, sig);
    });
  }
}

/** Two namespaces joined by the emulator; see {@link startWanLink}. */
export class WanLink {
  private emulator: ChildProcess | undefined;
  private readonly children = new Set<ChildProcess>();
  private statsWaiters: ((line: string) => void)[] = [];
  private lastLine = '';
  private exited: Promise<void> = Promise.resolve();
  private closed = false;

  /** @internal Use {@link startWanLink}. */
  constructor(
    /** Side A: the sender's side in the benches. */
    readonly a: WanSide,
    /** Side B. */
    readonly b: WanSide,
  ) {}

  /** @internal */
  async setUp(bin: string, o: WanLinkOptions, cc: CongestionControl): Promise<void> {
    live.add(this);
    installExitHook();
    ip(['netns', 'add', this.a.ns]);
    ip(['netns', 'add', this.b.ns]);
    const mtu = o.mtu ?? 1500;
    const args = [
      '--ns-a',
      `/run/netns/${this.a.ns}`,
      '--dev-a',
      'wan0',
      '--ns-b',
      `/run/netns/${this.b.ns}`,
      '--dev-b',
      'wan0',
      '--delay-ms',
      String(o.rttMs / 2),
      '--jitter-ms',
      String(o.jitterMs ?? 0),
      '--loss',
      String(o.loss),
      '--rate-mbit',
      String(o.rateMbit),
      '--queue',
      String(o.queuePackets ?? defaultQueuePackets(o)),
      '--mtu',
      String(mtu),
      '--seed',
      String(o.seed ?? 1),
    ];
    const em = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.emulator = em;
    this.exited = new Promise((resolve) => em.once('exit', () => resolve()));
    let stderr = '';
    em.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let buffered = '';
    const ready = new Promise<void>((resolve, reject) => {
      em.once('exit', (code) =>
        reject(new NovacronError(CoreErrorCode.INVALID_STATE, `wanem exited (${code}): ${stderr.trim()}`)),
      );
      em.stdout!.on('data', (d: Buffer) => {
        buffered += d.toString();
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line === 'ready') resolve();
          else if (line.startsWith('{')) {
            this.lastLine = line;
            const w = this.statsWaiters;
            this.statsWaiters = [];
            for (const f of w) f(line);
          }
        }
      });
    });
    await ready;
    for (const [side, peer] of [
      [this.a, this.b],
      [this.b, this.a],
    ] as const) {
      ip(['-n', side.ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', side.ns, 'addr', 'add', side.address, 'peer', peer.address, 'dev', 'wan0']);
      // A long device queue: the emulator, not the kernel's 500-packet default, is where packets wait.
      ip(['-n', side.ns, 'link', 'set', 'wan0', 'up', 'mtu', String(mtu), 'txqueuelen', '10000']);
      sysctlIn(side.ns, 'net.ipv4.tcp_congestion_control', cc);
      sysctlIn(side.ns, 'net.ipv4.tcp_rmem', '4096 131072 33554432');
      sysctlIn(side.ns, 'net.ipv4.tcp_wmem', '4096 65536 33554432');
    }
  }

  /** Changes the default congestion control of one side or both (new sockets only). */
  setCongestionControl(cc: CongestionControl, sides: readonly WanSide[] = [this.a, this.b]): void {
    allowCongestionControl(cc);
    for (const s of sides) sysctlIn(s.ns, 'net.ipv4.tcp_congestion_control', cc);
  }

  /** Starts `command` inside a side's namespace; the link kills it on close. */
  spawn(side: WanSide, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    if (this.closed) throw new NovacronError(CoreErrorCode.INVALID_STATE, 'wan link is closed');
    const child = spawn('ip', ['netns', 'exec', side.ns, command, ...args], { stdio: 'pipe', ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `command` in a side's namespace to completion (killed after `timeoutMs`, default 120 s). */
  run(
    side: WanSide,
    command: string,
    args: readonly string[],
    options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
  ): Promise<WanRunResult> {
    const child = this.spawn(side, command, args, options.env ? { env: options.env } : {});
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    return new Promise((resolve, reject) => {
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** The emulator's counters so far. */
  async stats(): Promise<WanStats> {
    const em = this.emulator;
    if (!em || em.exitCode !== null) return JSON.parse(this.lastLine) as WanStats;
    const line = new Promise<string>((resolve) => this.statsWaiters.push(resolve));
    em.kill('SIGUSR1');
    return JSON.parse(await line) as WanStats;
  }

  /** Kills everything started in the namespaces, stops the emulator, deletes the namespaces; returns the final counters. */
  async close(): Promise<WanStats | undefined> {
    if (this.closed) return this.lastLine ? (JSON.parse(this.lastLine) as WanStats) : undefined;
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
    this.emulator?.kill('SIGTERM');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2_000))]);
    this.emulator?.kill('SIGKILL');
    this.deleteNamespaces();
    live.delete(this);
    return this.lastLine ? (JSON.parse(this.lastLine) as WanStats) : undefined;
  }

  /** @internal Synchronous teardown for process exit. */
  closeSync(): void {
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
    this.emulator?.kill('SIGKILL');
    this.deleteNamespaces();
  }

  private deleteNamespaces(): void {
    // Deleting a namespace kills nothing by itself; programs still inside keep it alive until they exit.
    for (const s of [this.a, this.b]) {
      const pids = spawnSync('ip', ['netns', 'pids', s.ns], { encoding: 'utf8' }).stdout?.trim().split(/\s+/) ?? [];
      for (const p of pids) if (p) spawnSync('kill', ['-9', p]);
      spawnSync('ip', ['netns', 'del', s.ns]);
    }
  }
}
