// Embeds a NovaCron node in an application's existing HTTP server: the app
// keeps its routes and mounts the node API under /novacron. The node runs
// without its own listener (`api.enabled: false`).
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiHandler, createNode, NovacronClient, readApiToken } from '@novacron/node';

const smoke = process.argv.includes('--smoke');
const dataDir = mkdtempSync(join(tmpdir(), 'novacron-embed-'));

const node = createNode({
  node: { name: 'edge-1', dataDir, capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 } },
  network: { listen: '127.0.0.1:0' },
  api: { enabled: false },
  log: { level: 'warn' },
});
await node.start();
const api = apiHandler(node);

const server = createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('my control plane\n');
    return;
  }
  if (req.url?.startsWith('/novacron/')) {
    req.url = req.url.slice('/novacron'.length);
    api.handle(req, res).catch(() => res.destroy());
    return;
  }
  res.writeHead(404).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
node.setApiUrl(`${base}/novacron`);
console.log(`app on ${base}; node API on ${base}/novacron (node ${node.id}, booted in ${node.bootMs?.toFixed(0)} ms)`);

// Every route but /healthz needs a token: the node wrote a bootstrap admin token on first start.
const token = readApiToken(join(dataDir, 'admin.token'));
const client = new NovacronClient({ baseUrl: `${base}/novacron`, ...(token ? { token } : {}) });
for (let i = 0; i < 100 && !(await client.readyz()).ready; i++) await new Promise((r) => setTimeout(r, 50));
// The single host registers on the leader's first reconciliation.
for (let i = 0; i < 100 && (await client.cluster()).hosts.length === 0; i++)
  await new Promise((r) => setTimeout(r, 50));
console.log(await fetch(base).then((r) => r.text()));
const { vm, decision } = await client.createVm({
  id: 'billing-1',
  resources: { cpuMillis: 1000, memoryBytes: 2 ** 30 },
});
console.log(`placed ${vm.request.id} on ${vm.hostId} (${decision?.explanation.profile ?? 'escrow'})`);
const listed = await client.listVms();
console.log(`${listed.length} VM(s) via the embedded API`);

if (!smoke) await new Promise<void>((r) => process.once('SIGINT', () => r()));
api.closeStreams();
await new Promise<void>((r) => {
  server.close(() => r());
  server.closeAllConnections();
});
await node.stop();
rmSync(dataDir, { recursive: true, force: true });
if (listed.length !== 1 || vm.hostId !== 'edge-1') process.exit(1);
