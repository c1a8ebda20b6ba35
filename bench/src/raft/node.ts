/**
 * One member of the Raft benchmark cluster, run as its own process by
 * `bench/src/raft.ts`: acp's `RaftGroup` over amst's `tcpPeerNetwork`,
 * core's `FileDurableLog` (fdatasync, group commit) or `MemoryDurableLog`,
 * a `ReplicatedKv`, and an HTTP/JSON endpoint shaped like etcd's v3 JSON
 * gateway so the benchmark's client sends byte-for-byte the same requests
 * to both clusters:
 *
 * - `POST /v3/kv/put` `{"key": base64, "value": base64}` → `200 {}` once
 *   the put is committed and applied; `503 {"error":"not-leader","leader":url|null}`
 *   on a follower (the client retargets; nothing is forwarded).
 * - `GET /status` → the group's `status()` plus the leader's URL.
 *
 * Argument: one JSON object, {@link NodeSpec}. Prints `ready` on stdout
 * once the group is started and the HTTP port is listening.
 */
import http from 'node:http';
import { KvStateMachine, RaftGroup, ReplicatedKv } from '@novacron/acp';
import { tcpPeerNetwork } from '@novacron/amst';
import {
  CoreErrorCode,
  type DurableLog,
  FileDurableLog,
  MemoryDurableLog,
  NovacronError,
  nodeFileIO,
  randomSeed,
  seededRng,
  systemClock,
} from '@novacron/core';
import { FileSnapshotStore, MemorySnapshotStore } from '@novacron/acp';

/** What the benchmark passes to each member. */
export interface NodeSpec {
  readonly id: string;
  /** Every member: id, Raft peer address (`host:port`) and HTTP port. */
  readonly members: readonly { readonly id: string; readonly raft: string; readonly http: number }[];
  /** Data directory (file store) or undefined (memory store). */
  readonly dir?: string;
  readonly tickMs: number;
  readonly electionTicks: number;
}

const spec = JSON.parse(process.argv[2] ?? '') as NodeSpec;
const me = spec.members.find((m) => m.id === spec.id)!;
const clock = systemClock();
const io = nodeFileIO();
const network = tcpPeerNetwork({
  localId: spec.id,
  listenAddress: me.raft,
  peers: spec.members.filter((m) => m.id !== spec.id).map((m) => [m.id, m.raft] as const),
  // A busy leader streams many appends; the default queue would drop under 256 clients.
  maxQueueMessages: 65_536,
  maxQueueBytes: 64 * 1024 * 1024,
  reconnectDelayMs: 20,
  maxReconnectDelayMs: 200,
  clock,
});
const log: DurableLog = spec.dir ? new FileDurableLog({ io, dir: `${spec.dir}/wal` }) : new MemoryDurableLog();
const store = new KvStateMachine();
const group = new RaftGroup({
  id: spec.id,
  voters: spec.members.map((m) => m.id),
  network,
  log,
  clock,
  rng: seededRng(randomSeed()),
  stateMachine: store,
  tickMs: spec.tickMs,
  electionTicks: spec.electionTicks,
  // etcd 3.4's default --snapshot-count.
  snapshotEvery: 100_000,
  snapshots: spec.dir ? new FileSnapshotStore({ io, path: `${spec.dir}/snapshot` }) : new MemorySnapshotStore(),
});
// A session id unique to this process: a restarted member must not reuse sequence numbers.
const kv = new ReplicatedKv({ group, store, client: `${spec.id}-${process.pid}-${randomSeed()}` });
const httpOf = (id: string | null) => {
  const m = id === null ? undefined : spec.members.find((x) => x.id === id);
  return m ? `http://127.0.0.1:${m.http}` : null;
};

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function put(body: string, res: http.ServerResponse): Promise<void> {
  let key: string;
  let value: Uint8Array;
  try {
    const json = JSON.parse(body) as { key?: unknown; value?: unknown };
    if (typeof json.key !== 'string' || typeof json.value !== 'string') throw new Error('key and value must be base64');
    key = Buffer.from(json.key, 'base64').toString('utf8');
    value = new Uint8Array(Buffer.from(json.value, 'base64'));
  } catch (err) {
    reply(res, 400, { error: String(err) });
    return;
  }
  try {
    await kv.put(key, value);
    reply(res, 200, { header: { revision: group.status().appliedIndex } });
  } catch (err) {
    if (err instanceof NovacronError && err.code === CoreErrorCode.NOT_LEADER) {
      reply(res, 503, { error: 'not-leader', leader: httpOf(group.status().leader) });
    } else {
      reply(res, 500, { error: err instanceof NovacronError ? err.code : String(err) });
    }
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/status') {
    const s = group.status();
    reply(res, 200, { ...s, leaderUrl: httpOf(s.leader), pid: process.pid });
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v3/kv/put') {
    reply(res, 404, { error: 'not found' });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > 1024 * 1024) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => void put(Buffer.concat(chunks).toString('utf8'), res));
});
server.keepAliveTimeout = 120_000;

await network.start();
await group.start();
await new Promise<void>((resolve) => server.listen(me.http, '127.0.0.1', resolve));
process.stdout.write('ready\n');

const shutdown = async () => {
  server.close();
  await group.stop();
  await network.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
