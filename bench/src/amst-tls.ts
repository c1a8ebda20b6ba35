/**
 * The cost of encryption on amst transfers, side by side in one run on
 * loopback: the same transfer (codec `none`, datacenter preset) over plain
 * TCP and over mutually authenticated TLS 1.3 (`TlsTransport`, Ed25519 node
 * certificates, AES-128-GCM), with 1, 2 and 4 lanes; plus a raw single
 * socket over `node:net` and `node:tls` for reference. Prints Gbit/s and the
 * TLS/plain ratio per lane count (target ≥ 0.5x with 2 or more lanes) and
 * writes results/amst-tls.json.
 *
 * Run: `npx tsx bench/src/amst-tls.ts [--size MiB] [--runs N]` (default 512 MiB, 3 runs; about a minute).
 *
 * `npx tsx bench/src/amst-tls.ts wan [--runs N]` instead runs the same
 * comparison through the WAN emulator (`@novacron/testkit/wan`) at 1 Gbit/s,
 * 40 ms RTT, 0.01% loss, CUBIC: amst adaptive lanes (internet mode), each
 * end in its own namespace and process, plain TCP and TLS (CA-issued
 * certificates) alternating; goodput over AMST_WAN_SECONDS (default 10).
 * `--lanes N` fixes the lane count. Target: encryption costs ≤ 5% goodput. Needs root; writes
 * results/amst-tls-wan.json. About 30 s per run pair.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import {
  AmstReceiver,
  TcpTransport,
  type TlsCredentials,
  TlsTransport,
  createClusterCa,
  createNodeCertificate,
  sendTransfer,
} from '@novacron/amst';
import { startWanLink, wanSupport } from '@novacron/testkit/wan';
import { amstOverWan } from './wan-amst.js';
import { type NodeId, NodeIdentity, type StreamTransport } from '@novacron/core';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const TOTAL = arg('--size', 512) * 1024 * 1024;
const RUNS = arg('--runs', 3);
const BLOCK = 4 * 1024 * 1024;
const block = new Uint8Array(randomBytes(BLOCK));
async function* repeated(total: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += BLOCK) yield block.subarray(0, Math.min(BLOCK, total - sent));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbps = (bytes: number, ms: number) => (bytes * 8) / (ms / 1000) / 1e9;

const server = NodeIdentity.generate();
const client = NodeIdentity.generate();
const certs = new Map<NodeId, TlsCredentials>([
  [server.nodeId, await createNodeCertificate(server)],
  [client.nodeId, await createNodeCertificate(client)],
]);
const members = new Set(certs.keys());
const trust = { kind: 'pinned' as const, isMember: (id: NodeId) => members.has(id) };

/** Plain vs TLS amst transfers through the WAN emulator (see the header). */
async function wan(): Promise<void> {
  const support = wanSupport();
  if (!support.ok) {
    console.log(`amst-tls wan: skipped: ${support.reason}`);
    return;
  }
  const profile = { rttMs: 40, loss: 0.0001, rateMbit: 1000 };
  const lanesArg = process.argv.indexOf('--lanes');
  const LANES = lanesArg >= 0 ? Number(process.argv[lanesArg + 1]) : ('adaptive' as const);
  const caId = NodeIdentity.generate();
  const ca = await createClusterCa(caId);
  const issuer = { identity: caId, certPem: ca.certPem };
  const dir = mkdtempSync(join(tmpdir(), 'amst-tls-wan-'));
  const tlsFile = join(dir, 'tls.json');
  writeFileSync(
    tlsFile,
    JSON.stringify({
      caCertPem: ca.certPem,
      recv: await createNodeCertificate(server, { issuer }),
      send: await createNodeCertificate(client, { issuer }),
    }),
    { mode: 0o600 },
  );
  const link = await startWanLink({ ...profile, congestionControl: 'cubic', seed: 11 });
  const plainRuns: number[] = [];
  const tlsRuns: number[] = [];
  const detail: unknown[] = [];
  try {
    console.log(
      `amst plain vs TLS through the WAN emulator: ${profile.rateMbit} Mbit/s, ${profile.rttMs} ms RTT, ${profile.loss * 100}% loss, CUBIC, ${LANES} lanes, ${RUNS} run pairs; load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
    );
    for (let i = 0; i < RUNS; i++) {
      // Alternate so drift in machine load hits both sides alike.
      for (const secure of [false, true]) {
        const r = await amstOverWan(link, LANES, secure ? { env: { AMST_PEER_TLS: tlsFile } } : {});
        if (!r.sha256Match) throw new Error('SHA-256 mismatch');
        (secure ? tlsRuns : plainRuns).push(r.goodputBps);
        detail.push({ secure, ...r });
        console.log(
          `  run ${i + 1} ${secure ? 'tls  ' : 'plain'} ${(r.goodputBps / 1e6).toFixed(1).padStart(7)} Mbit/s (max lanes ${r.maxLanes}, retransmitted chunks ${r.retransmittedChunks})`,
        );
      }
    }
  } finally {
    await link.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const p = median(plainRuns);
  const t = median(tlsRuns);
  console.log(
    `\n| link | plain Mbit/s | TLS Mbit/s | TLS/plain | cost (target ≤ 5%) |\n| --- | ---: | ---: | ---: | ---: |\n| 1 Gbit/s, 40 ms, 0.01% | ${(p / 1e6).toFixed(1)} | ${(t / 1e6).toFixed(1)} | ${(t / p).toFixed(3)}x | ${((1 - t / p) * 100).toFixed(1)}% |`,
  );
  mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('../results/amst-tls-wan.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), profile, lanes: LANES, runs: RUNS, load: loadavg()[0], plainBps: p, tlsBps: t, ratio: t / p, detail }, null, 2)}\n`,
  );
}

if (process.argv.includes('wan')) {
  await wan();
  process.exit(0);
}

/** One socket, 4 MiB writes honouring 'drain', the receiver discarding. */
async function rawSocket(secure: boolean): Promise<number> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const onSocket = (s: net.Socket) =>
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= TOTAL) done();
    });
  const sc = certs.get(server.nodeId)!;
  const cc = certs.get(client.nodeId)!;
  const srv = secure
    ? tls.createServer({ key: sc.keyPem, cert: sc.certPem, requestCert: true, rejectUnauthorized: false }, onSocket)
    : net.createServer(onSocket);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const sock = secure
    ? tls.connect({ port, host: '127.0.0.1', key: cc.keyPem, cert: cc.certPem, rejectUnauthorized: false })
    : net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((r) => sock.once(secure ? 'secureConnect' : 'connect', r));
  const t0 = performance.now();
  for await (const piece of repeated(TOTAL)) if (!sock.write(piece)) await new Promise((r) => sock.once('drain', r));
  await finished;
  const ms = performance.now() - t0;
  sock.destroy();
  srv.close();
  return gbps(TOTAL, ms);
}

async function transfer(sender: StreamTransport, receiverTransport: StreamTransport, lanes: number): Promise<number> {
  let received = 0;
  const receiver = new AmstReceiver({
    transport: receiverTransport,
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
  await sendTransfer({
    transport: sender,
    address: receiver.address!,
    source: repeated(TOTAL),
    totalSize: TOTAL,
    lanes,
    mode: 'datacenter',
  });
  const ms = performance.now() - t0;
  await receiver.stop();
  if (received !== TOTAL) throw new Error(`delivered ${received} of ${TOTAL}`);
  return gbps(TOTAL, ms);
}

const plain = new TcpTransport();
const tlsServer = new TlsTransport({ credentials: certs.get(server.nodeId)!, trust });
const tlsClient = new TlsTransport({ credentials: certs.get(client.nodeId)!, trust });

const rows: { name: string; plain: number; tls: number; ratio: number }[] = [];
const measure = async (name: string, f: (secure: boolean) => Promise<number>) => {
  const p: number[] = [];
  const t: number[] = [];
  // Alternate so drift in machine load hits both sides alike.
  for (let i = 0; i < RUNS; i++) {
    p.push(await f(false));
    t.push(await f(true));
  }
  const row = { name, plain: median(p), tls: median(t), ratio: median(t) / median(p) };
  rows.push(row);
  console.log(
    `${name.padEnd(22)} plain ${row.plain.toFixed(2).padStart(6)} Gbit/s   tls ${row.tls.toFixed(2).padStart(6)} Gbit/s   tls/plain ${row.ratio.toFixed(2)}x`,
  );
};

console.log(
  `amst with and without TLS, loopback, ${TOTAL / 2 ** 20} MiB, median of ${RUNS}; load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`,
);
await measure('raw single socket', rawSocket);
for (const lanes of [1, 2, 4])
  await measure(`amst ${lanes} lane${lanes > 1 ? 's' : ''}`, (secure) =>
    secure ? transfer(tlsClient, tlsServer, lanes) : transfer(plain, plain, lanes),
  );

mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('../results/amst-tls.json', import.meta.url),
  `${JSON.stringify({ date: new Date().toISOString(), totalBytes: TOTAL, runs: RUNS, load: loadavg()[0], rows }, null, 2)}\n`,
);
