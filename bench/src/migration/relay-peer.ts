/**
 * One NovaCron endpoint of the migration benchmark, run as its own process
 * (inside a WAN namespace when the path is emulated): a QemuProvider and
 * one half of the stream relay. Talks JSON lines: stdout reports, stdin
 * commands.
 *
 *   src: boots the guest, prints {type:'ready', serial}; on {type:'go',
 *        address} migrates through relayStreamSend, prints {type:'sent', ...}.
 *   dst: creates the incoming VM, listens, prints {type:'listening', address,
 *        serial}; when the stream is in, resumes the VM, prints {type:'resumed', ...}.
 *   Both stop their QEMUs on {type:'quit'} (or stdin closing) and exit.
 */
import { createInterface } from 'node:readline';
import { TcpTransport } from '@novacron/amst';
import { type LinkMode, type StreamMigrationOptions, isNovacronError, systemClock } from '@novacron/core';
import { chooseStreamCapabilities, relayStreamReceive, relayStreamSend } from '@novacron/node';
import { QemuProvider } from '@novacron/providers';
import { type GuestSpec, guestRequest } from './guest.js';
import { DOWNTIME_LIMIT_MS } from './settings.js';

interface PeerConfig {
  readonly workDir: string;
  readonly guest: GuestSpec;
  readonly listenHost: string;
  readonly mode: LinkMode;
  readonly migrationId: string;
  /** The emulated path's profile, given to hde's selector as the link estimate (what pba would supply). */
  readonly link?: { readonly rttMs: number; readonly bandwidthBps: number; readonly lossRate: number };
}

const [role, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson!) as PeerConfig;
const say = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);
const clock = systemClock();
const provider = new QemuProvider({ clock, workDir: config.workDir, defaultTimeoutMs: 900_000 });
const MiB = 2 ** 20;

let quitting = false;
async function quit(code: number): Promise<never> {
  if (!quitting) {
    quitting = true;
    await provider.stop().catch(() => undefined);
  }
  process.exit(code);
}
function failed(err: unknown): Promise<never> {
  say({
    type: 'error',
    message: String((err as Error).message ?? err),
    code: isNovacronError(err) ? err.code : undefined,
  });
  return quit(1);
}

async function migrationOptions(): Promise<{ options: StreamMigrationOptions; reasons: readonly string[] }> {
  const caps = await provider.probe();
  const choice = chooseStreamCapabilities({
    mode: config.mode,
    downtimeBudgetMs: DOWNTIME_LIMIT_MS,
    memoryBytes: config.guest.memoryMiB * MiB,
    dirtyBytesPerSecond: config.guest.dirtyMiBps * MiB,
    // The QemuProvider stream is one connection with no return path; the relay compresses with hde.
    carrier: { channels: 1, returnPath: false, compresses: true },
    backendCapabilities: caps.migrationCapabilities ?? [],
  });
  return { options: { capabilities: choice.capabilities, parameters: choice.parameters }, reasons: choice.reasons };
}

const lines = createInterface({ input: process.stdin });
const commands: Record<string, unknown>[] = [];
let wake: (() => void) | undefined;
lines.on('line', (l) => {
  commands.push(JSON.parse(l) as Record<string, unknown>);
  wake?.();
});
lines.on('close', () => void quit(0));
async function next(): Promise<Record<string, unknown>> {
  for (;;) {
    const c = commands.shift();
    if (c) {
      if (c.type === 'quit') await quit(0);
      return c;
    }
    await new Promise<void>((r) => {
      wake = r;
    });
  }
}

try {
  await provider.start();
  const transport = new TcpTransport();
  const { options, reasons } = await migrationOptions();
  if (role === 'src') {
    await provider.createVm(guestRequest(config.guest, false));
    await provider.startVm('vm');
    say({ type: 'ready', serial: provider.serialPath('vm'), reasons });
    const go = await next();
    const out = await relayStreamSend({
      transport,
      address: String(go.address),
      migrationId: config.migrationId,
      vmId: 'vm',
      provider,
      mode: config.mode,
      migration: options,
      ...(config.link ? { link: () => ({ at: clock.now(), mode: config.mode, ...config.link! }) } : {}),
    });
    say({
      type: 'sent',
      bytes: out.migration.bytes,
      wireBytes: out.relay.wireBytes,
      qemuDowntimeMs: out.migration.downtimeMs,
      maxLanes: out.relay.transfer.maxLanes,
      finalLanes: out.relay.transfer.finalLanes,
      retransmittedChunks: out.relay.transfer.retransmittedChunks,
      capabilities: options.capabilities,
    });
  } else {
    await provider.createVm(guestRequest(config.guest, true));
    const rx = await relayStreamReceive({
      transport,
      listenAddress: `${config.listenHost}:0`,
      migrationId: config.migrationId,
      provider,
      vmId: 'vm',
      mode: config.mode,
      migration: options,
    });
    say({ type: 'listening', address: rx.address, serial: provider.serialPath('vm') });
    const got = await rx.done;
    await provider.resumeVm('vm');
    say({ type: 'resumed', bytes: got.relay.bytes });
  }
  await next();
} catch (err) {
  await failed(err);
}
