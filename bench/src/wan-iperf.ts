/**
 * iperf3 through a `@novacron/testkit/wan` link: server in side B, client in
 * side A, JSON results. Shared by the emulator check (wan.ts) and the amst
 * WAN benchmark (amst-wan.ts).
 */
import type { WanLink } from '@novacron/testkit/wan';

/** What one iperf3 run reports (bits per second, RTTs in ms). */
export interface IperfResult {
  readonly receivedBps: number;
  readonly sentBps: number;
  readonly retransmits?: number;
  readonly minRttMs?: number;
  readonly meanRttMs?: number;
  readonly lostPercent?: number;
  readonly packets?: number;
  readonly lostPackets?: number;
  /** Per-second sending rates: `[start s, end s, bits/s]`. */
  readonly intervals: [number, number, number][];
}

let nextPort = 5301;

/** Runs `iperf3 -c` in side A against a one-off server in side B. */
export async function iperf(
  link: WanLink,
  args: readonly string[],
  seconds: number,
  options: { congestion?: string } = {},
): Promise<IperfResult> {
  const port = String(nextPort++);
  const server = link.spawn(link.b, 'iperf3', ['-s', '-1', '-p', port]);
  try {
    // The server needs a moment to listen; retry the client rather than guess the delay.
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, 200));
      const r = await link.run(
        link.a,
        'iperf3',
        [
          '-c',
          link.b.address,
          '-p',
          port,
          '-t',
          String(seconds),
          '-J',
          ...(options.congestion ? ['-C', options.congestion] : []),
          ...args,
        ],
        { timeoutMs: (seconds + 30) * 1000 },
      );
      const json = JSON.parse(r.stdout || '{}') as IperfJson;
      if (json.error && /connect/.test(json.error) && attempt < 10) continue;
      if (json.error || !json.end) throw new Error(`iperf3 ${args.join(' ')}: ${json.error ?? r.stderr}`);
      return summarise(json);
    }
  } finally {
    server.kill('SIGKILL');
  }
}

interface IperfJson {
  error?: string;
  end?: {
    sum?: { lost_percent?: number; packets?: number; lost_packets?: number };
    sum_sent: { bits_per_second: number; retransmits?: number };
    sum_received: { bits_per_second: number };
    streams: { sender?: { min_rtt?: number; mean_rtt?: number } }[];
  };
  intervals?: { sum: { start: number; end: number; bits_per_second: number } }[];
}

function summarise(j: IperfJson): IperfResult {
  const end = j.end!;
  const rtts = end.streams.map((s) => s.sender).filter((s) => s?.min_rtt !== undefined);
  return {
    receivedBps: end.sum_received.bits_per_second,
    sentBps: end.sum_sent.bits_per_second,
    intervals: (j.intervals ?? []).map((i) => [i.sum.start, i.sum.end, i.sum.bits_per_second]),
    ...(end.sum_sent.retransmits !== undefined ? { retransmits: end.sum_sent.retransmits } : {}),
    ...(rtts.length > 0
      ? {
          minRttMs: Math.min(...rtts.map((s) => s!.min_rtt!)) / 1000,
          meanRttMs: rtts.reduce((a, s) => a + s!.mean_rtt!, 0) / rtts.length / 1000,
        }
      : {}),
    ...(end.sum?.lost_percent !== undefined
      ? { lostPercent: end.sum.lost_percent, packets: end.sum.packets!, lostPackets: end.sum.lost_packets! }
      : {}),
  };
}
