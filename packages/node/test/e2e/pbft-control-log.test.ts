import { join } from 'node:path';
import { PbftGroup, RaftGroup } from '@novacron/acp';
import { isNovacronError, loadOrCreateIdentity, nodeFileIO, toHex } from '@novacron/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapClusterSecurity,
  createClusterKeyFile,
  createNode,
  NovacronClient,
  type NovacronNode,
  startNode,
} from '../../src/index.js';
import { createVmRetrying, freePorts, tempDir, until } from './helpers.js';

const GiB = 2 ** 30;
let nodes: NovacronNode[] = [];
let clients: NovacronClient[] = [];

// Four nodes in one process, real TCP, UDP and HTTP on loopback, with the control log marked untrusted:
// the default consensus factory builds acp's PBFT, authenticated under the replicas' pinned identity keys.
beforeAll(async () => {
  const ports = await freePorts(4);
  const dirs = ports.map((_, i) => tempDir(`nc-bft${i + 1}-`));
  const ids = await Promise.all(dirs.map((d) => loadOrCreateIdentity(nodeFileIO(), join(d, 'identity.key'))));
  const seeds = ids.map((id, i) => `${id.nodeId}@127.0.0.1:${ports[i]}`);
  const replicas = Object.fromEntries(ids.map((id) => [id.nodeId, toHex(id.publicKey)]));
  const keyFile = join(tempDir('nc-key-'), 'cluster.key');
  createClusterKeyFile(keyFile);
  const sec = await bootstrapClusterSecurity(tempDir('nc-bft-sec-'));
  nodes = await Promise.all(
    ports.map((p, i) =>
      startNode({
        preset: 'datacenter',
        node: { dataDir: dirs[i]!, capacity: { cpuMillis: 4000, memoryBytes: 8 * GiB } },
        network: { listen: `127.0.0.1:${p}`, seeds },
        gossip: { keyFile, probeIntervalMs: 300 },
        cluster: { groups: { control: { trust: 'untrusted', replicas } }, raft: { tickMs: 50 } },
        api: { listen: '127.0.0.1:0' },
        security: sec.config,
        log: { level: 'silent' },
      }),
    ),
  );
  clients = nodes.map((n) => new NovacronClient({ baseUrl: n.apiUrl!, token: sec.token }));
  await until(async () => (await clients[0]!.cluster()).hosts.length === 4, 20_000, 'four hosts registered');
}, 40_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
}, 30_000);

describe('untrusted control log: PBFT on four nodes', () => {
  it('runs PBFT (not Raft), agrees on one primary, and places VMs without overcommitting', async () => {
    for (const n of nodes) {
      expect(n.controlLog).toBeInstanceOf(PbftGroup);
      expect(n.controlLog).not.toBeInstanceOf(RaftGroup);
    }
    const leaders = new Set((await Promise.all(clients.map((c) => c.cluster()))).map((v) => v.leader));
    expect(leaders.size).toBe(1);
    for (let i = 0; i < 6; i++)
      await createVmRetrying(clients[i % 4]!, {
        id: `bft-${i}`,
        resources: { cpuMillis: 1500, memoryBytes: 2 * GiB },
      });
    const c = await clients[3]!.cluster();
    for (const h of c.hosts) expect(h.committed!.cpuMillis).toBeLessThanOrEqual(h.capacity.cpuMillis);
    expect(c.hosts.reduce((s, h) => s + h.committed!.cpuMillis, 0)).toBe(9000);
  });

  it('keeps committing with one replica (f = 1) stopped', async () => {
    const primary = (await clients[0]!.cluster()).leader;
    const victim = nodes.findIndex((n) => n.id !== primary);
    await nodes[victim]!.stop();
    const alive = clients.filter((_, i) => i !== victim);
    await createVmRetrying(alive[0]!, { id: 'bft-after', resources: { cpuMillis: 100, memoryBytes: GiB } });
    expect((await alive[1]!.getVm('bft-after')).request.id).toBe('bft-after');
  });

  it('refuses an untrusted group without pinned keys, or a chosen node name, with a typed error', async () => {
    const noKeys = await createNode({
      node: { dataDir: tempDir('nc-bft-bad-') },
      network: { listen: '127.0.0.1:0' },
      api: { enabled: false },
      cluster: { groups: { control: { trust: 'untrusted' } } },
      log: { level: 'silent' },
    })
      .start()
      .catch((e: unknown) => e);
    expect(isNovacronError(noKeys, 'NODE_COMPONENT_START_FAILED')).toBe(true);
    expect(isNovacronError((noKeys as Error).cause, 'NODE_TRUST_CONFIG_INVALID')).toBe(true);
    const named = await createNode({
      node: { dataDir: tempDir('nc-bft-bad-'), name: 'alice' },
      network: { listen: '127.0.0.1:0' },
      api: { enabled: false },
      cluster: { groups: { control: { trust: 'untrusted' } } },
      log: { level: 'silent' },
    })
      .start()
      .catch((e: unknown) => e);
    expect(isNovacronError((named as Error).cause, 'NODE_TRUST_CONFIG_INVALID')).toBe(true);
  });
});
