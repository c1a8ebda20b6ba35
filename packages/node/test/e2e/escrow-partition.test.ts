import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapClusterSecurity,
  createClusterKeyFile,
  NetworkFaults,
  NovacronClient,
  type NovacronNode,
  startNode,
} from '../../src/index.js';
import { createVmRetrying, freePorts, tempDir, until } from './helpers.js';

const GiB = 2 ** 30;
let nodes: NovacronNode[] = [];
let clients: NovacronClient[] = [];
const faults = [new NetworkFaults(), new NetworkFaults(), new NetworkFaults()];

// Three nodes in one process over real TCP/UDP/HTTP; a partition is made by dropping every peer message
// between n3 and the others (both directions, control log, forwarding and gossip), not by killing anything.
beforeAll(async () => {
  const ports = await freePorts(3);
  const seeds = ports.map((p, i) => `n${i + 1}@127.0.0.1:${p}`);
  const keyFile = join(tempDir('nc-key-'), 'cluster.key');
  createClusterKeyFile(keyFile);
  const sec = await bootstrapClusterSecurity(tempDir('nc-esc-sec-'));
  nodes = await Promise.all(
    ports.map((p, i) =>
      startNode(
        {
          preset: 'datacenter',
          node: {
            name: `n${i + 1}`,
            dataDir: tempDir(`nc-esc${i + 1}-`),
            capacity: { cpuMillis: 4000, memoryBytes: 8 * GiB },
          },
          network: { listen: `127.0.0.1:${p}`, seeds },
          gossip: { keyFile, probeIntervalMs: 300 },
          cluster: { raft: { tickMs: 100 }, escrow: { fraction: 0.25 } },
          api: { listen: '127.0.0.1:0' },
          security: sec.config,
          log: { level: 'silent' },
        },
        { faults: faults[i]! },
      ),
    ),
  );
  clients = nodes.map((n) => new NovacronClient({ baseUrl: n.apiUrl!, timeoutMs: 15_000, token: sec.token }));
  await until(async () => (await clients[0]!.cluster()).hosts.length === 3, 20_000, 'three hosts registered');
  // The leader escrows a quarter of each host to its own node, which records the grant in its journal.
  await until(() => nodes.every((n) => n.escrow!.remaining().cpuMillis === 1000), 20_000, 'escrow granted');
}, 60_000);

afterAll(async () => {
  for (const f of faults) f.heal();
  await Promise.all(nodes.map((n) => n.stop()));
}, 30_000);

describe('a partitioned minority places only onto its own escrow', () => {
  it('refuses shared capacity while cut off, uses escrow, and reconciles it after the partition heals', async () => {
    await createVmRetrying(clients[0]!, { id: 'before', resources: { cpuMillis: 1000, memoryBytes: GiB } });
    // Cut n3 off from n1 and n2 (and them from it).
    faults[2]!.cut(['n1', 'n2']);
    faults[0]!.cut(['n3']);
    faults[1]!.cut(['n3']);
    await until(
      () => nodes[0]!.controlLog.status().leader !== 'n3' && nodes[0]!.controlLog.status().leader !== null,
      20_000,
      'majority leader',
    );
    // n3's host has 2000+ millicores of shared capacity free, but cut off it may not touch them.
    const big = await clients[2]!
      .createVm({ id: 'big', resources: { cpuMillis: 1500, memoryBytes: GiB } })
      .catch((e: unknown) => e);
    expect((big as { code?: string }).code).toBe('NODE_NO_QUORUM');
    expect((big as { details: { escrow?: { hostId: string } } }).details.escrow?.hostId).toBe('n3');
    // Within the escrow: placed on n3 itself, at once, and running there.
    const small = await clients[2]!.createVm({ id: 'esc-1', resources: { cpuMillis: 800, memoryBytes: GiB } });
    expect(small.escrow).toBe(true);
    expect(small.vm.hostId).toBe('n3');
    expect((await nodes[2]!.provider.getVm('esc-1')).state).toBe('running');
    expect(nodes[2]!.escrow!.remaining().cpuMillis).toBe(200);
    const over = await clients[2]!
      .createVm({ id: 'esc-2', resources: { cpuMillis: 300, memoryBytes: GiB } })
      .catch((e: unknown) => e);
    expect((over as { code?: string }).code).toBe('NODE_NO_QUORUM');
    // The majority's log knows nothing of it: its ledger shows no use of n3's escrow and no change of shared use.
    const during = await clients[0]!.cluster();
    expect(during.hosts.reduce((s, h) => s + h.committed!.cpuMillis, 0)).toBe(1000);
    expect((await clients[0]!.listVms()).some((v) => v.request.id === 'esc-1')).toBe(false);

    for (const f of faults) f.heal();
    // After healing: the escrow journal is reconciled into the ledger and the VM's record is in the log, on n3, on its site's escrow.
    const vm = await until(
      async () => {
        const v = await clients[0]!.getVm('esc-1').catch(() => undefined);
        return v?.hostId === 'n3' ? v : undefined;
      },
      30_000,
      'esc-1 recorded',
    );
    expect(vm.site).toBe('n3');
    expect(vm.history[0]!.reason).toBe('escrow');
    const row = (await nodes[0]!.cluster.ledgerSnapshot()).hosts.find((h) => h.hostId === 'n3')!;
    await until(
      async () => {
        const r = (await nodes[0]!.cluster.ledgerSnapshot()).hosts.find((h) => h.hostId === 'n3')!;
        return r.escrow.n3?.committed.cpuMillis === 800;
      },
      20_000,
      'escrow use in the ledger',
    );
    expect(row.escrow.n3!.granted.cpuMillis).toBe(1000);
    // No host is overcommitted: shared use + escrow granted stays within capacity.
    for (const h of (await nodes[0]!.cluster.ledgerSnapshot()).hosts) {
      const escrowed = Object.values(h.escrow).reduce((s, e) => s + e.granted.cpuMillis, 0);
      expect(h.committed.cpuMillis + h.reserved.cpuMillis + escrowed).toBeLessThanOrEqual(h.capacity.cpuMillis);
    }
    await until(() => nodes[2]!.escrow!.unrecorded === 0, 10_000, 'pending list cleared');
    expect((await nodes[2]!.provider.getVm('esc-1')).state).toBe('running');
  }, 90_000);
});
