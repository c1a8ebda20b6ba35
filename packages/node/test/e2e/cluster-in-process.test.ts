import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNovacronError } from '@novacron/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiRoutes,
  createClusterKeyFile,
  bootstrapClusterSecurity,
  NovacronClient,
  type NovacronNode,
  openApiDocument,
  startNode,
} from '../../src/index.js';
import { freePorts, tempDir, until } from './helpers.js';

const GiB = 2 ** 30;
let nodes: NovacronNode[] = [];
let clients: NovacronClient[] = [];
let auth: Record<string, string> = {};

beforeAll(async () => {
  const ports = await freePorts(3);
  const seeds = ports.map((p, i) => `n${i + 1}@127.0.0.1:${p}`);
  const keyFile = join(tempDir('nc-key-'), 'cluster.key');
  createClusterKeyFile(keyFile);
  // Encryption and API authentication are on by default: one cluster CA and one admin token for all three.
  const sec = await bootstrapClusterSecurity(tempDir('nc-sec-'));
  auth = { authorization: `Bearer ${sec.token.reveal()}` };
  nodes = await Promise.all(
    ports.map((p, i) =>
      startNode({
        preset: 'datacenter',
        node: {
          name: `n${i + 1}`,
          dataDir: tempDir(`nc-n${i + 1}-`),
          capacity: { cpuMillis: 4000, memoryBytes: 8 * GiB },
          zone: `z${i + 1}`,
        },
        network: { listen: `127.0.0.1:${p}`, seeds },
        gossip: { keyFile, probeIntervalMs: 300 },
        // A slower tick than the preset's keeps a loaded CI machine from electing spuriously.
        cluster: { raft: { tickMs: 100 } },
        api: { listen: '127.0.0.1:0' },
        security: sec.config,
        log: { level: 'silent' },
      }),
    ),
  );
  clients = nodes.map((n) => new NovacronClient({ baseUrl: n.apiUrl!, token: sec.token }));
  await until(async () => (await clients[0]!.cluster()).hosts.length === 3, 15_000, 'three hosts registered');
}, 30_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
}, 30_000);

describe('three nodes in one process, real TCP and HTTP on loopback', () => {
  it('forms a cluster: one leader, every node agrees, boots fast', async () => {
    const views = await Promise.all(clients.map((c) => c.cluster()));
    const leaders = new Set(views.map((v) => v.leader));
    expect(leaders.size).toBe(1);
    expect([...leaders][0]).toMatch(/^n[123]$/);
    for (const n of nodes) expect(n.bootMs).toBeGreaterThan(0);
    const members = await clients[1]!.nodes();
    expect(members.map((m) => m.status)).toEqual(['alive', 'alive', 'alive']);
  });

  it('places VMs with anti-affinity through any node, never overcommitting', async () => {
    const placed: string[] = [];
    for (let i = 0; i < 9; i++) {
      const r = await clients[i % 3]!.createVm({
        id: `web-${i}`,
        resources: { cpuMillis: 1000, memoryBytes: 2 * GiB },
        group: `web-${i % 3}`,
        antiAffinity: { required: [{ scope: 'host', group: `web-${i % 3}` }] },
      });
      placed.push(r.vm.hostId!);
    }
    // Each group of three landed on three different hosts.
    for (let g = 0; g < 3; g++) expect(new Set([placed[g], placed[g + 3], placed[g + 6]]).size).toBe(3);
    // A fourth member of group web-0 has nowhere to go: typed 409 with the explanation.
    const err = await clients[2]!
      .createVm({
        id: 'web-9',
        resources: { cpuMillis: 100, memoryBytes: GiB },
        group: 'web-0',
        antiAffinity: { required: [{ scope: 'host', group: 'web-0' }] },
      })
      .catch((e: unknown) => e);
    expect(isNovacronError(err, 'NODE_UNSCHEDULABLE')).toBe(true);
    expect((err as { details: { status: number; explanation: unknown } }).details.status).toBe(409);
    const c = await clients[0]!.cluster();
    for (const h of c.hosts) expect(h.committed!.cpuMillis).toBeLessThanOrEqual(h.capacity.cpuMillis);
    expect(c.hosts.reduce((s, h) => s + h.committed!.cpuMillis, 0)).toBe(9000);
    // Owners run their VMs.
    await until(
      async () => {
        const owned = await Promise.all(nodes.map((n) => n.provider.listVms()));
        return owned.flat().filter((v) => v.state === 'running').length === 9;
      },
      10_000,
      'nine running VMs',
    );
  });

  it('explains a placement preview without changing anything', async () => {
    const d = await clients[1]!.preview({ id: 'probe', resources: { cpuMillis: 500, memoryBytes: GiB } });
    expect(d.hostId).toMatch(/^n[123]$/);
    expect(d.explanation.scores!.length).toBe(3);
    expect((await clients[1]!.listVms()).some((v) => v.request.id === 'probe')).toBe(false);
  });

  it('stops, starts and deletes VMs; the owner follows', async () => {
    const vm = await clients[2]!.stopVm('web-0');
    expect(vm.desired).toBe('stopped');
    const owner = nodes.find((n) => n.config.node.name === vm.hostId)!;
    await until(async () => (await owner.provider.getVm('web-0')).state === 'stopped', 5000, 'web-0 stopped');
    await clients[0]!.startVm('web-0');
    await until(async () => (await owner.provider.getVm('web-0')).state === 'running', 5000, 'web-0 running');
    await clients[1]!.deleteVm('web-0');
    await until(async () => (await owner.provider.listVms()).every((v) => v.id !== 'web-0'), 5000, 'web-0 deleted');
    expect(await clients[0]!.getVm('web-0').catch((e: { code: string }) => e.code)).toBe('NODE_VM_NOT_FOUND');
  });

  it('answers bad input with 4xx and typed codes', async () => {
    const url = nodes[0]!.apiUrl!;
    const post = (path: string, body: string) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body }).then(
        async (r) => ({
          status: r.status,
          code: ((await r.json()) as { error: { code: string } }).error.code,
        }),
      );
    expect(await post('/v1/vms', '{not json')).toEqual({ status: 400, code: 'NODE_API_BAD_REQUEST' });
    expect(await post('/v1/vms', '{"id":"x"}')).toEqual({ status: 400, code: 'NODE_API_BAD_REQUEST' });
    expect(
      await post('/v1/vms', JSON.stringify({ id: 'ok', resources: { cpuMillis: 1, memoryBytes: 1 }, extra: 1 })),
    ).toEqual({
      status: 400,
      code: 'NODE_API_BAD_REQUEST',
    });
    expect(await post('/v1/vms', 'x'.repeat(2 * 2 ** 20))).toEqual({ status: 413, code: 'NODE_API_PAYLOAD_TOO_LARGE' });
    expect(await post('/v1/nope', '{}')).toEqual({ status: 404, code: 'NODE_API_NOT_FOUND' });
    expect(await post('/v1/cluster', '{}')).toEqual({ status: 405, code: 'NODE_API_METHOD_NOT_ALLOWED' });
    const put = await fetch(`${url}/v1/mode`, { method: 'PUT', headers: auth, body: '{"override":"fast"}' });
    expect(put.status).toBe(400);
  });

  it('switches mode by override, reconfigures, and streams the event', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    const stream = clients[0]!.events((e) => seen.push(e.type), ac.signal);
    await until(() => nodes[0]!.events.subscribers > 0, 5000, 'SSE subscriber');
    const m = await clients[0]!.setModeOverride('internet');
    expect(m.mode).toBe('internet');
    expect(m.settings.placementPolicy).toBe('geographic');
    // Every component acted on it: hde's codec preset, amst's lanes, pba's window.
    const t = nodes[0]!.transfer;
    expect([t.mode, t.lanes.initial, t.lanes.max, t.window]).toEqual(['internet', 8, 64, 60]);
    expect(t.codec.id).toBe('hde');
    expect(t.applied.hde).toBeGreaterThan(0);
    expect(t.applied.amst).toBe(t.applied.pba);
    await until(() => seen.includes('mode.changed'), 5000, 'mode.changed event');
    expect((await clients[0]!.mode()).lastReconfigureMs).toBeGreaterThanOrEqual(0);
    const back = await clients[0]!.setModeOverride(null);
    expect(back.override).toBeUndefined();
    ac.abort();
    await stream;
  });

  it('serves Prometheus metrics that promtool accepts (when installed)', async () => {
    const text = await clients[0]!.metrics();
    expect(text).toContain('novacron_api_requests_total');
    expect(text).toMatch(/# TYPE novacron_api_request_duration_seconds histogram/);
    const promtool = spawnSync('which', ['promtool']).status === 0;
    if (promtool) {
      const out = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(out.status, out.stdout + out.stderr).toBe(0);
    } else {
      // Without promtool (CI installs the Debian package `prometheus`), check the exposition's grammar ourselves.
      for (const line of text.split('\n').filter((l) => l && !l.startsWith('#')))
        expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/);
    }
  });

  it('serves the OpenAPI document, which matches docs/api/openapi.json and documents every route', async () => {
    const served = (await fetch(`${nodes[2]!.apiUrl}/openapi.json`, { headers: auth }).then((r) => r.json())) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const file = join(import.meta.dirname, '../../../../docs/api/openapi.json');
    const text = `${JSON.stringify(openApiDocument(), null, 2)}\n`;
    if (process.env.UPDATE_DOCS === '1') writeFileSync(file, text);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(served);
    for (const route of apiRoutes()) {
      const [method, path] = route.split(' ') as [string, string];
      expect(served.paths[path]?.[method.toLowerCase()], route).toBeDefined();
    }
  });
});
