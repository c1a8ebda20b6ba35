/**
 * One amst transfer across a WAN emulator link, each end in its own network
 * namespace and process (bench/src/amst-peer.ts): shared by amst-wan.ts and
 * amst-tls.ts's `wan` mode.
 */
import { fileURLToPath } from 'node:url';
import type { WanLink } from '@novacron/testkit/wan';

const peer = fileURLToPath(new URL('./amst-peer.ts', import.meta.url));
let port = 9100;

/** What one transfer achieved. */
export interface AmstRun {
  goodputBps: number;
  maxLanes: number;
  finalLanes: number;
  lanes: number[];
  retransmittedChunks: number;
  sha256Match: boolean;
}

/** Options of {@link amstOverWan}. */
export interface AmstOverWanOptions {
  /** Seconds the source produces data; goodput counts bytes acknowledged by then (default AMST_WAN_SECONDS or 10). */
  readonly seconds?: number;
  readonly polite?: boolean;
  /** Chunk size in KiB (default AMST_WAN_CHUNK_KIB or 64, amst's internet-mode default). */
  readonly chunkKiB?: string;
  /** Extra environment of both ends (AMST_PEER_TLS switches them to TLS). */
  readonly env?: NodeJS.ProcessEnv;
}

/** One amst transfer from side A to a receiver process in side B. */
export async function amstOverWan(
  link: WanLink,
  lanes: number | 'adaptive',
  options: AmstOverWanOptions = {},
): Promise<AmstRun> {
  const seconds = options.seconds ?? Number(process.env.AMST_WAN_SECONDS ?? 10);
  const chunkKiB = options.chunkKiB ?? process.env.AMST_WAN_CHUNK_KIB ?? '64';
  const env = { ...process.env, ...(options.env ?? {}) };
  const listen = `${link.b.address}:${port++}`;
  const receiver = link.spawn(link.b, process.execPath, [...process.execArgv, peer, 'recv', listen], { env });
  let out = '';
  const received = new Promise<string>((resolve) => {
    receiver.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(line);
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      receiver.stdout!.on('data', () => {
        if (out.includes('listening')) resolve();
      });
      receiver.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
    });
    const r = await link.run(
      link.a,
      process.execPath,
      [
        ...process.execArgv,
        peer,
        'send',
        listen,
        String(seconds),
        String(lanes),
        options.polite ? 'polite' : '-',
        chunkKiB,
      ],
      { timeoutMs: (seconds + 120) * 1000, env },
    );
    if (r.code !== 0) throw new Error(`amst sender failed: ${r.stderr}`);
    const sent = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      result: { maxLanes: number; finalLanes: number; retransmittedChunks: number; bytes: number; durationMs: number };
      goodputBps: number;
      sha256: string;
      lanes: number[];
    };
    const got = JSON.parse(await received) as { sha256: string };
    if (process.env.AMST_WAN_DEBUG) console.log(JSON.stringify(sent.result));
    return {
      goodputBps: sent.goodputBps,
      maxLanes: sent.result.maxLanes,
      finalLanes: sent.result.finalLanes,
      lanes: sent.lanes,
      retransmittedChunks: sent.result.retransmittedChunks,
      sha256Match: got.sha256 === sent.sha256,
    };
  } finally {
    receiver.kill('SIGKILL');
  }
}
