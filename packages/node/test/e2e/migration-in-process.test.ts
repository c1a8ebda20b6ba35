import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NovacronClient, type NovacronNode, startNode } from '../../src/index.js';
import { DIRTY_RATE_LABEL, WORKING_SET_LABEL } from '../../src/cluster/workload-config.js';
import { freePorts, tempDir, until } from './helpers.js';

const MiB = 2 ** 20;
let nodes: NovacronNode[] = [];
let clients: NovacronClient[] = [];

beforeAll(async () => {
  const ports = await freePorts(3);
  const seeds = ports.map((p, i) => `n${i + 1}@127.0.0.1:${p}`);
  nodes = await Promise.all(
    ports.map((p, i) =>
      startNode({
        preset: 'datacenter',
        node: {
          name: `n${i + 1}`,
          dataDir: tempDir(`nc-m${i + 1}-`),
          capacity: { cpuMillis: 4000, memoryBytes: 1024 * MiB },
        },
        network: { listen: `127.0.0.1:${p}`, seeds },
        cluster: { raft: { tickMs: 100 } },
        api: { listen: '127.0.0.1:0' },
        migration: { verifyDigest: true, downtimeBudgetMs: 300 },
        log: { level: 'silent' },
      }),
    ),
  );
  clients = nodes.map((n) => new NovacronClient({ baseUrl: n.apiUrl!, timeoutMs: 30_000 }));
  await until(async () => (await clients[0]!.cluster()).hosts.length === 3, 15_000, 'three hosts registered');
}, 30_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

describe('live migration between three in-process nodes', () => {
  it('moves a dirtying VM: ownership epoch +1, one running copy, equal memory digests', async () => {
    const r = await clients[0]!.createVm({
      id: 'mig-a',
      resources: { cpuMillis: 500, memoryBytes: 16 * MiB },
      labels: { [DIRTY_RATE_LABEL]: String(2 * MiB), [WORKING_SET_LABEL]: String(4 * MiB) },
    });
    const from = r.vm.hostId!;
    const owner = nodes.find((n) => n.id === from)!;
    await until(
      async () => (await owner.provider.getVm('mig-a').catch(() => undefined))?.state === 'running',
      10_000,
      'running',
    );
    // Ask a node that is not the owner: it proxies to the owner.
    const asker = clients[nodes.findIndex((n) => n.id !== from)]!;
    const p = await asker.migrateVm('mig-a', { wait: true, timeoutMs: 60_000 });
    expect(p.phase, JSON.stringify(p.error)).toBe('completed');
    expect(p.destinationDigest).toBe(p.sourceDigest);
    const vm = await clients[0]!.getVm('mig-a');
    expect(vm.hostId).toBe(p.destination);
    expect(vm.epoch).toBe(2);
    expect(vm.history.at(-1)?.reason).toBe('migrated');
    const dest = nodes.find((n) => n.id === p.destination)!;
    await until(async () => (await dest.provider.getVm('mig-a')).state === 'running', 10_000, 'running at dest');
    await until(
      async () => (await owner.provider.getVm('mig-a').catch(() => undefined)) === undefined,
      10_000,
      'gone at source',
    );
    const list = await clients[2]!.migrations();
    expect(list[0]).toMatchObject({ id: p.id, phase: 'completed' });
  }, 60_000);
});
