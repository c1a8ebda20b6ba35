import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NovacronClient } from '../../src/api/client.js';
import { DIRTY_RATE_LABEL, FILL_RANDOM_LABEL, WORKING_SET_LABEL } from '../../src/cluster/workload-config.js';
import type { MigrationProgress } from '../../src/migration/migration-progress.js';
import { createVmRetrying, until } from './helpers.js';
import { type NodeProcess, processCluster, runCliProcess } from './process-cluster.js';

const MiB = 2 ** 20;
const RATE = 2 * MiB;
let nodes: NodeProcess[] = [];

// Every node shares 2 MiB/s among its outgoing migrations (pba), checks digests at switchover,
// and gives pre-copy three rounds before post-copy.
const ENV = {
  NOVACRON_MIGRATION__BANDWIDTH_BYTES_PER_SECOND: String(RATE),
  NOVACRON_MIGRATION__CHUNK_BYTES: String(64 * 1024),
  NOVACRON_MIGRATION__MAX_ROUNDS: '3',
  NOVACRON_MIGRATION__DOWNTIME_BUDGET_MS: '60',
  NOVACRON_MIGRATION__SWITCHOVER_COST_MS: '5',
  NOVACRON_MIGRATION__VERIFY_DIGEST: 'true',
  NOVACRON_MIGRATION__LANES: '2',
  NOVACRON_MIGRATION__RESUME_WINDOW_MS: '1500',
};

beforeAll(async () => {
  nodes = await processCluster(3, ENV);
  await until(async () => (await nodes[0]!.client.cluster()).hosts.length === 3, 20_000, 'three hosts');
}, 40_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
});

const alive = () => nodes.filter((n) => n.alive);
const anyClient = (): NovacronClient => alive()[0]!.client;
const byName = (name: string) => nodes.find((n) => n.name === name)!;

async function vm(id: string, sizeMiB: number, labels: Record<string, string> = {}) {
  await createVmRetrying(anyClient(), {
    id,
    resources: { cpuMillis: 100, memoryBytes: sizeMiB * MiB },
    labels: { [FILL_RANDOM_LABEL]: '1', ...labels },
  });
  const rec = await anyClient().getVm(id);
  await until(
    async () => (await byName(rec.hostId!).client.providerVms()).some((v) => v.id === id && v.state === 'running'),
    10_000,
    `${id} running`,
  );
  return rec.hostId!;
}

/** Copies of `id` running across the live nodes, and the log's owner. */
async function copies(id: string): Promise<{ running: string[]; owner: string | null }> {
  const running: string[] = [];
  for (const n of alive())
    for (const v of await n.client.providerVms().catch(() => []))
      if (v.id === id && v.state === 'running') running.push(n.name);
  return { running, owner: (await anyClient().getVm(id)).hostId };
}

/** Waits until every node is back and every host schedulable (after a restart). */
async function settled(): Promise<void> {
  await until(
    async () => {
      const c = await anyClient().cluster();
      return c.hosts.length === 3 && c.hosts.every((h) => h.schedulable) && c.leader !== null;
    },
    20_000,
    'cluster settled',
  );
}

async function progressOf(c: NovacronClient, id: string) {
  return (await c.migration(id)) as MigrationProgress;
}

describe('live migration across three node processes', () => {
  it('completes with the destination memory equal to the source memory at switchover', async () => {
    const from = await vm('p-ok', 4, { [DIRTY_RATE_LABEL]: String(64 * 1024), [WORKING_SET_LABEL]: String(MiB) });
    const to = nodes.find((n) => n.name !== from)!.name;
    const p = await byName(from).client.migrateVm('p-ok', { to, wait: true, timeoutMs: 30_000 });
    expect(p.phase, JSON.stringify(p.error)).toBe('completed');
    expect(p.mode).toBe('precopy');
    expect(p.sourceDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(p.destinationDigest).toBe(p.sourceDigest);
    await until(
      async () => {
        const c = await copies('p-ok');
        return c.owner === to && c.running.length === 1 && c.running[0] === to;
      },
      10_000,
      'one running copy at the destination',
    );
    expect((await anyClient().getVm('p-ok')).epoch).toBe(2);
    // And back through the CLI, which follows the progress stream and prints the summary.
    const cli = await runCliProcess(['vm', 'migrate', 'p-ok', '--to', from, '--wait', '--api-url', byName(to).apiUrl], {
      NOVACRON_API_TOKEN: byName(to).token ?? '',
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/completed \(precopy\)/);
    expect(cli.stdout).toMatch(/raw .*, wire .*rounds \d+, lanes \d+, codecs/);
    expect(cli.stdout).toMatch(/downtime \d+ ms/);
    expect((await anyClient().getVm('p-ok')).epoch).toBe(3);
  }, 40_000);

  it('concurrent migrations from one node get rates within 10% of the pba allocation; DELETE cancels them', async () => {
    const from = await vm('p-c1', 12);
    const c = byName(from).client;
    await createVmRetrying(c, {
      id: 'p-c2',
      resources: { cpuMillis: 100, memoryBytes: 12 * MiB },
      labels: { [FILL_RANDOM_LABEL]: '2' },
    });
    const host2 = (await anyClient().getVm('p-c2')).hostId!;
    if (host2 !== from) {
      const moved = await byName(host2).client.migrateVm('p-c2', { to: from, wait: true, timeoutMs: 30_000 });
      expect(moved.phase).toBe('completed');
    }
    await until(
      async () => (await c.providerVms()).filter((v) => v.state === 'running').length >= 2,
      10_000,
      'both running',
    );
    const to = nodes.find((n) => n.name !== from)!.name;
    const [a, b] = await Promise.all([c.migrateVm('p-c1', { to }), c.migrateVm('p-c2', { to })]);
    await new Promise((r) => setTimeout(r, 600));
    const a0 = await progressOf(c, a.id);
    const b0 = await progressOf(c, b.id);
    await new Promise((r) => setTimeout(r, 2000));
    const a1 = await progressOf(c, a.id);
    const b1 = await progressOf(c, b.id);
    for (const [p0, p1] of [
      [a0, a1],
      [b0, b1],
    ] as const) {
      expect(p1.phase).toBe('precopy');
      expect(p1.allocatedBytesPerSecond).toBe(RATE / 2);
      const rate = (p1.wireBytes - p0.wireBytes) / ((p1.wireSampledMs - p0.wireSampledMs) / 1000);
      expect(Math.abs(rate - RATE / 2) / (RATE / 2), `rate ${rate}`).toBeLessThan(0.1);
    }
    // Cancel both (through another node, which proxies to the source): they roll back, the VMs keep running.
    await anyClient().cancelMigration(a.id);
    await c.cancelMigration(b.id);
    for (const m of [a, b])
      await until(async () => (await progressOf(c, m.id)).phase === 'cancelled', 15_000, 'cancelled');
    for (const id of ['p-c1', 'p-c2'])
      await until(
        async () => {
          const x = await copies(id);
          return x.owner === from && x.running.join() === from;
        },
        10_000,
        `${id} still at the source only`,
      );
  }, 40_000);

  it('a migration that cannot converge by pre-copy completes by post-copy', async () => {
    const from = await vm('p-post', 4, { [DIRTY_RATE_LABEL]: String(64 * MiB), [WORKING_SET_LABEL]: String(4 * MiB) });
    const to = nodes.find((n) => n.name !== from)!.name;
    // A budget below the fixed switchover cost can never be met by pre-copy: after the round limit, post-copy.
    const p = await byName(from).client.migrateVm('p-post', { to, wait: true, downtimeBudgetMs: 1, timeoutMs: 30_000 });
    expect(p.phase, JSON.stringify(p.error)).toBe('completed');
    expect(p.mode, p.steps.map((x) => x.step).join('\n')).toBe('postcopy');
    expect(p.postCopyRemaining).toBe(0);
    expect(p.faults).toBeGreaterThanOrEqual(0);
    await until(
      async () => {
        const c = await copies('p-post');
        return c.owner === to && c.running.join() === to;
      },
      10_000,
      'one running copy at the destination',
    );
  }, 40_000);

  it('destination killed mid-migration: rolled back, the VM runs at the source only', async () => {
    const from = await vm('p-dk', 8);
    const leader = (await anyClient().cluster()).leader;
    const dest = nodes.find((n) => n.name !== from && n.name !== leader)!;
    const c = byName(from).client;
    const m = await c.migrateVm('p-dk', { to: dest.name });
    await until(async () => (await progressOf(c, m.id)).rawBytes > MiB, 10_000, 'some bytes moved');
    await dest.kill('SIGKILL');
    await until(async () => ['rolled-back', 'failed'].includes((await progressOf(c, m.id)).phase), 20_000, 'ended');
    expect((await progressOf(c, m.id)).phase).toBe('rolled-back');
    const rec = await c.getVm('p-dk');
    expect(rec.hostId).toBe(from);
    expect(rec.epoch).toBe(1);
    expect(rec.migration).toBeUndefined();
    await until(async () => (await copies('p-dk')).running.join() === from, 10_000, 'running at the source only');
    await dest.start();
    await until(async () => (await dest.client.providerVms()).every((v) => v.id !== 'p-dk'), 10_000, 'no stale copy');
    await until(async () => (await copies('p-dk')).running.join() === from, 10_000, 'still only at the source');
    await settled();
  }, 40_000);

  it('source killed mid-migration: the cluster re-places the VM, exactly one running copy', async () => {
    const from = await vm('p-sk', 8);
    const src = byName(from);
    const dest = nodes.find((n) => n.name !== from)!;
    // A node restarted by the previous test may still advertise its old migration port for a moment: retry.
    let m = await src.client.migrateVm('p-sk', { to: dest.name });
    await until(
      async () => {
        const p = await progressOf(src.client, m.id);
        if (p.phase === 'rolled-back') m = await src.client.migrateVm('p-sk', { to: dest.name });
        return p.rawBytes > MiB;
      },
      15_000,
      'some bytes moved',
    );
    await src.kill('SIGKILL');
    await until(
      async () => {
        const c = await copies('p-sk');
        return c.owner !== from && c.owner !== null && c.running.length === 1 && c.running[0] === c.owner;
      },
      20_000,
      'one running copy on a live host',
    );
    const rec = await until(() => anyClient().getVm('p-sk'), 10_000, 'record');
    expect(rec.epoch).toBe(2);
    expect(rec.history.at(-1)?.reason).toBe('failover');
    await src.start();
    await until(async () => (await copies('p-sk')).running.length === 1, 10_000, 'still one copy after restart');
    await settled();
  }, 40_000);

  it('control-log leader killed mid-migration: exactly one running copy, consistent inventory', async () => {
    const leader = (await anyClient().cluster()).leader!;
    const others = nodes.filter((n) => n.name !== leader);
    await createVmRetrying(anyClient(), {
      id: 'p-lk',
      resources: { cpuMillis: 100, memoryBytes: 6 * MiB },
      labels: { [FILL_RANDOM_LABEL]: '3' },
    });
    let from = (await anyClient().getVm('p-lk')).hostId!;
    if (from === leader) {
      // Move it off the leader first so that the leader is neither end of the migration under test.
      const p = await byName(from).client.migrateVm('p-lk', { to: others[0]!.name, wait: true, timeoutMs: 30_000 });
      expect(p.phase).toBe('completed');
      from = others[0]!.name;
    }
    const src = byName(from);
    const to = others.find((n) => n.name !== from)!.name;
    await until(
      async () => (await src.client.providerVms()).some((v) => v.id === 'p-lk' && v.state === 'running'),
      10_000,
      'running',
    );
    const m = await src.client.migrateVm('p-lk', { to });
    await until(async () => (await progressOf(src.client, m.id)).rawBytes > MiB, 10_000, 'some bytes moved');
    await byName(leader).kill('SIGKILL');
    await until(
      async () => ['completed', 'rolled-back', 'failed'].includes((await progressOf(src.client, m.id)).phase),
      30_000,
      'ended',
    );
    const end = await progressOf(src.client, m.id);
    expect(['completed', 'rolled-back']).toContain(end.phase);
    const owner = end.phase === 'completed' ? to : from;
    await until(
      async () => {
        const c = await copies('p-lk');
        return c.owner === owner && c.running.join() === owner;
      },
      15_000,
      'one running copy at the owner',
    );
  }, 60_000);
});
