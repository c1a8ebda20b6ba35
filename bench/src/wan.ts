/**
 * Checks the WAN link emulator (`@novacron/testkit/wan`) with iperf3 run
 * through it: for each of the profiles, the RTT (an app-limited TCP
 * flow at 1 Mbit/s, so its own queue does not count), the loss (UDP at half
 * the bottleneck rate, 4 MiB socket buffers so the receiving host drops
 * nothing) and the rate (UDP offered at 1.3x
 * the bottleneck) against what was configured, within 10%; then the
 * emulator's own capacity with no limits (TCP, 1 and 4 streams; must carry
 * at least 1 Gbit/s). Writes results/wan.json.
 *
 * Run: `npx tsx bench/src/wan.ts` (about 1 min). Needs root, iproute2, gcc, iperf3.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { WAN_PROFILES, type WanProfile, startWanLink, wanSupport } from '@novacron/testkit/wan';
import { iperf } from './wan-iperf.js';

const support = wanSupport();
if (!support.ok) {
  console.log(`wan: skipped: ${support.reason}`);
  process.exit(0);
}

const UDP_PAYLOAD = 1400;
/** UDP payload share of the IP packet: iperf3 counts payload bits, the bottleneck serialises whole packets. */
const PAYLOAD_SHARE = UDP_PAYLOAD / (UDP_PAYLOAD + 28);

interface Row {
  profile: string;
  configured: WanProfile;
  rttMs: number;
  lossPercent: number;
  lossInterval95: [number, number];
  udpPackets: number;
  rateMbit: number;
  rttRatio: number;
  lossRatio: number;
  rateRatio: number;
  within10pct: { rtt: boolean; loss: boolean; rate: boolean };
  drawnLossPercent: number;
  emulator: unknown;
}

const rows: Row[] = [];
for (const [name, p] of Object.entries(WAN_PROFILES)) {
  const link = await startWanLink({ ...p, congestionControl: 'bbr', seed: 7 });
  try {
    const tcp = await iperf(link, ['-b', '1M'], 3);
    const before = await link.stats();
    const udp = ['-u', '-w', '4M', '-l', String(UDP_PAYLOAD)];
    const lossRun = await iperf(link, [...udp, '-b', `${p.rateMbit * 0.5}M`], 5);
    const after = await link.stats();
    const rateRun = await iperf(link, [...udp, '-b', `${p.rateMbit * 1.3}M`], 4);
    const stats = await link.stats();
    // The emulator's own draws during the loss run (iperf3's count also includes any drop by the hosts).
    const drawnLossPercent = (100 * (after.aToB.lost - before.aToB.lost)) / Math.max(1, after.aToB.rx - before.aToB.rx);
    const n = lossRun.packets ?? 0;
    const expectedLost = n * p.loss;
    const sd = Math.sqrt(n * p.loss * (1 - p.loss));
    const rttMs = tcp.minRttMs ?? Number.NaN;
    const lossPercent = lossRun.lostPercent ?? Number.NaN;
    const rateMbit = rateRun.receivedBps / PAYLOAD_SHARE / 1e6;
    const row: Row = {
      profile: name,
      configured: p,
      rttMs,
      lossPercent,
      lossInterval95: [(100 * (expectedLost - 2 * sd)) / n, (100 * (expectedLost + 2 * sd)) / n],
      udpPackets: n,
      rateMbit,
      rttRatio: rttMs / p.rttMs,
      lossRatio: lossPercent / (p.loss * 100),
      rateRatio: rateMbit / p.rateMbit,
      within10pct: {
        rtt: Math.abs(rttMs / p.rttMs - 1) <= 0.1,
        loss: Math.abs(lossPercent / (p.loss * 100) - 1) <= 0.1,
        rate: Math.abs(rateMbit / p.rateMbit - 1) <= 0.1,
      },
      drawnLossPercent,
      emulator: stats,
    };
    rows.push(row);
  } finally {
    await link.close();
  }
}

// Capacity: no delay, loss or rate limit; what the forwarder itself can carry.
const capacity: Record<string, number> = {};
{
  const link = await startWanLink({ rttMs: 0, loss: 0, rateMbit: 0, congestionControl: 'cubic' });
  try {
    capacity.tcpP1Gbps = (await iperf(link, ['-P', '1'], 5)).receivedBps / 1e9;
    capacity.tcpP4Gbps = (await iperf(link, ['-P', '4'], 5)).receivedBps / 1e9;
  } finally {
    await link.close();
  }
}

console.log(`\nWAN emulator checked with iperf3 (${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores)\n`);
console.log(
  '| profile | RTT ms (set) | ratio | loss % (set) | ratio | 95% band for n | emulator drew | rate Mbit/s (set) | ratio |',
);
console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
for (const r of rows) {
  const c = r.configured;
  console.log(
    `| ${r.profile} | ${r.rttMs.toFixed(1)} (${c.rttMs}) | ${r.rttRatio.toFixed(3)} | ${r.lossPercent.toFixed(3)} (${(c.loss * 100).toFixed(2)}) | ${r.lossRatio.toFixed(2)} | ${r.lossInterval95.map((x) => x.toFixed(3)).join('-')} (n=${r.udpPackets}) | ${r.drawnLossPercent.toFixed(3)} | ${r.rateMbit.toFixed(1)} (${c.rateMbit}) | ${r.rateRatio.toFixed(3)} |`,
  );
}
console.log(
  `\ncapacity without limits: TCP 1 stream ${capacity.tcpP1Gbps!.toFixed(2)} Gbit/s, 4 streams ${capacity.tcpP4Gbps!.toFixed(2)} Gbit/s`,
);

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('../results/wan.json', import.meta.url),
  `${JSON.stringify({ bench: 'wan', date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, rows, capacity }, null, 2)}\n`,
);
