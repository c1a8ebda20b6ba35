/**
 * AMST loopback throughput, side by side in one run: a raw Node `net`
 * single socket, `iperf3 -P1` (kernel-to-kernel, the ceiling), and amst
 * transfers with 1, 4 and adaptive lanes (framing, CRC-32 per chunk, acks,
 * reassembly; no encryption, codec `none`). Then the resume scenario: every
 * lane is reset at 50%, the transfer resumes, and the received bytes are
 * checked with SHA-256. Prints a table with ratios against raw `net` and
 * writes results/amst.json.
 *
 * Run: `npx tsx bench/src/amst.ts` (about 30-60 s). Needs `iperf3` on PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus } from 'node:os';
import { AmstReceiver, TcpTransport, type TransferResult, sendTransfer } from '@novacron/amst';
import type { Duplex, StreamTransport } from '@novacron/core';

const TOTAL = 1024 * 1024 * 1024;
const BLOCK = 4 * 1024 * 1024;
const RUNS = 3;
const block = new Uint8Array(randomBytes(BLOCK));

async function* repeated(total: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += BLOCK) yield block.subarray(0, Math.min(BLOCK, total - sent));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbps = (bytes: number, ms: number) => (bytes * 8) / (ms / 1000) / 1e9;

/** One socket, 4 MiB writes honouring 'drain', the receiver discarding. */
async function rawNet(): Promise<number> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= TOTAL) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((r) => client.once('connect', r));
  const t0 = performance.now();
  for await (const piece of repeated(TOTAL)) {
    if (!client.write(piece)) await new Promise((r) => client.once('drain', r));
  }
  await finished;
  const ms = performance.now() - t0;
  client.destroy();
  server.close();
  return gbps(TOTAL, ms);
}

function iperf3(): number | undefined {
  if (spawnSync('iperf3', ['--version']).status !== 0) return undefined;
  const port = String(45_000 + Math.floor(Math.random() * 1000));
  const server = spawn('iperf3', ['-s', '-1', '-p', port], { stdio: 'ignore' });
  spawnSync('sleep', ['0.5']);
  const out = spawnSync('iperf3', ['-c', '127.0.0.1', '-p', port, '-P', '1', '-t', '3', '-J'], { encoding: 'utf8' });
  server.kill();
  const json = JSON.parse(out.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return json.end.sum_received.bits_per_second / 1e9;
}

async function amst(lanes: number | 'adaptive'): Promise<{ gbps: number; result: TransferResult }> {
  const tcp = new TcpTransport();
  let received = 0;
  const receiver = new AmstReceiver({
    transport: tcp,
    listenAddress: '127.0.0.1:0',
    onTransfer: () => ({
      write: async (d) => {
        received += d.length;
      },
      close: async () => {},
    }),
  });
  await receiver.start();
  const t0 = performance.now();
  const result = await sendTransfer({
    transport: tcp,
    address: receiver.address!,
    source: repeated(TOTAL),
    totalSize: TOTAL,
    lanes,
    mode: 'datacenter',
  });
  const ms = performance.now() - t0;
  await receiver.stop();
  if (received !== TOTAL) throw new Error(`amst delivered ${received} of ${TOTAL}`);
  return { gbps: gbps(TOTAL, ms), result };
}

/** Resets every lane at 50%; the transfer must resume and deliver the same SHA-256. */
async function resumeScenario() {
  const size = 256 * 1024 * 1024;
  const data = new Uint8Array(randomBytes(size));
  const tcp = new TcpTransport();
  const lanes: Duplex[] = [];
  const tapped: StreamTransport = {
    name: 'tcp',
    dial: async (a, o) => {
      const s = await tcp.dial(a, o);
      lanes.push(s);
      return s;
    },
    listen: (a, h) => tcp.listen(a, h),
  };
  const hash = createHash('sha256');
  let duplicateChunks = -1;
  const receiver: AmstReceiver = new AmstReceiver({
    transport: tcp,
    listenAddress: '127.0.0.1:0',
    onTransfer: (t) => ({
      write: async (d) => {
        hash.update(d);
      },
      close: async () => {
        duplicateChunks = receiver.transferStats(t.transferId)?.duplicateChunks ?? -1;
      },
    }),
  });
  await receiver.start();
  let killed = false;
  const chunkSize = 256 * 1024;
  const result = await sendTransfer({
    transport: tapped,
    address: receiver.address!,
    source: data,
    lanes: 4,
    chunkSize,
    progressIntervalMs: 5,
    onProgress: (p) => {
      if (!killed && p.bytesAcked >= size / 2) {
        killed = true;
        for (const l of lanes) l.abort(new Error('bench: all lanes reset at 50%'));
      }
    },
  });
  await receiver.stop();
  const ok = hash.digest('hex') === createHash('sha256').update(data).digest('hex');
  return {
    sha256Match: ok,
    resumes: result.resumes,
    retransmittedChunks: result.retransmittedChunks,
    retransmittedBytes: result.retransmittedBytes,
    // Chunks that reached the receiver twice: the wire bytes the resume wasted. The rest of the resent
    // chunks died in the reset connections' kernel buffers and had to cross again.
    receiverDuplicateChunks: duplicateChunks,
    bound: 4 * chunkSize,
    withinOneChunkPerLane: result.retransmittedBytes <= 4 * chunkSize,
  };
}

if (process.argv.includes('resume')) {
  // Only the resume scenario (a quick check): `npx tsx bench/src/amst.ts resume`.
  console.log(JSON.stringify(await resumeScenario(), null, 2));
  process.exit(0);
}

const rows: { name: string; gbps: number; lanes?: string }[] = [];
const raw = median(
  await Promise.all([0]).then(async () => {
    const xs: number[] = [];
    for (let i = 0; i < RUNS; i++) xs.push(await rawNet());
    return xs;
  }),
);
rows.push({ name: 'raw node:net, 1 socket', gbps: raw });
const ip = iperf3();
if (ip !== undefined) rows.push({ name: 'iperf3 -P1', gbps: ip });
for (const lanes of [1, 4, 'adaptive'] as const) {
  const xs: { gbps: number; result: TransferResult }[] = [];
  for (let i = 0; i < RUNS; i++) xs.push(await amst(lanes));
  xs.sort((a, b) => a.gbps - b.gbps);
  const mid = xs[Math.floor(xs.length / 2)]!;
  rows.push({
    name: `amst, ${lanes} lane${lanes === 1 ? '' : 's'}`,
    gbps: mid.gbps,
    lanes: `max ${mid.result.maxLanes}, final ${mid.result.finalLanes}`,
  });
}
const resume = await resumeScenario();

console.log(`\namst loopback, ${TOTAL / 2 ** 20} MiB per run, median of ${RUNS} (${cpus()[0]?.model ?? 'cpu'})\n`);
console.log('| sender | Gbit/s | vs raw net | lanes |');
console.log('| --- | ---: | ---: | --- |');
for (const r of rows)
  console.log(`| ${r.name} | ${r.gbps.toFixed(2)} | ${(r.gbps / raw).toFixed(2)}x | ${r.lanes ?? ''} |`);
console.log('\nresume after resetting all 4 lanes at 50% (256 MiB, 256 KiB chunks):');
console.log(JSON.stringify(resume, null, 2));

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('../results/amst.json', import.meta.url),
  `${JSON.stringify(
    {
      bench: 'amst',
      date: new Date().toISOString(),
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      bytesPerRun: TOTAL,
      runs: RUNS,
      rows: rows.map((r) => ({ ...r, ratioVsRawNet: r.gbps / raw })),
      resume,
    },
    null,
    2,
  )}\n`,
);
