import { connect } from 'node:net';
import { isNovacronError } from '@novacron/core';
import { afterAll, describe, expect, it } from 'vitest';
import type { NovacronClient, VmView } from '../../src/index.js';
import { createVmRetrying, until } from './helpers.js';
import { type NodeProcess, processCluster, runCliProcess } from './process-cluster.js';

const GiB = 2 ** 30;
// Fail over fast, but keep Raft's tick slow enough for a loaded CI machine.
const ENV = { NOVACRON_CLUSTER__FAILOVER_AFTER_MS: '2000', NOVACRON_CLUSTER__RAFT__TICK_MS: '100' };
let nodes: NodeProcess[] = [];

afterAll(async () => {
  await Promise.all(nodes.filter((n) => n.alive).map((n) => n.kill('SIGKILL')));
});

async function leaderOf(c: NovacronClient): Promise<string> {
  return until(async () => (await c.cluster()).leader ?? undefined, 15_000, 'a leader');
}

function checkNoOvercommit(cluster: Awaited<ReturnType<NovacronClient['cluster']>>, vms: readonly VmView[]) {
  for (const h of cluster.hosts) {
    expect(h.committed!.cpuMillis).toBeLessThanOrEqual(h.capacity.cpuMillis);
    expect(h.committed!.memoryBytes).toBeLessThanOrEqual(h.capacity.memoryBytes);
    const onHost = vms.filter((v) => v.hostId === h.id);
    expect(onHost.reduce((s, v) => s + v.request.resources.cpuMillis, 0)).toBe(h.committed!.cpuMillis);
  }
}

describe('three node processes on loopback', () => {
  it('forms, places without overcommit, re-places the VMs of a killed node, rejoins it, refuses a minority, and shuts down cleanly', async () => {
    nodes = await processCluster(3, ENV);
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    // The cluster forms: one leader all agree on, three schedulable hosts.
    const leader = await leaderOf(a.client);
    await until(
      async () => (await a.client.cluster()).hosts.filter((h) => h.schedulable).length === 3,
      15_000,
      'three hosts',
    );
    for (const n of nodes) expect((await n.client.cluster()).leader).toBe(leader);

    // Bad input gets 4xx with typed codes, through a follower too (it forwards; the leader answers).
    const follower = nodes.find((n) => n.name !== leader)!;
    const bad = await fetch(`${follower.apiUrl}/v1/vms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${follower.token}` },
      body: '{"id":"Not Valid","resources":{}}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('NODE_API_BAD_REQUEST');
    const missing = await a.client.getVm('nope').catch((e: { code: string; details: { status: number } }) => e);
    expect(missing).toMatchObject({ code: 'NODE_VM_NOT_FOUND', details: { status: 404 } });

    // Twelve VMs in six anti-affine pairs, created through every node (followers forward).
    for (let i = 0; i < 12; i++) {
      const group = `pair-${i % 6}`;
      await createVmRetrying(nodes[i % 3]!.client, {
        id: `vm-${i}`,
        resources: { cpuMillis: 1000, memoryBytes: GiB },
        group,
        antiAffinity: { required: [{ scope: 'host', group }] },
      });
    }
    let vms = await a.client.listVms();
    expect(vms).toHaveLength(12);
    checkNoOvercommit(await b.client.cluster(), vms);
    for (let g = 0; g < 6; g++) {
      const pair = vms.filter((v) => v.request.group === `pair-${g}`);
      expect(pair[0]!.hostId).not.toBe(pair[1]!.hostId);
    }

    // Kill a follower that runs VMs; the others re-place them (epoch 2), anti-affinity still holding.
    // Anti-affine pairs span two hosts, so some follower runs VMs: take the busiest.
    const count = (n: NodeProcess) => vms.filter((v) => v.hostId === n.name).length;
    const victim = nodes.filter((n) => n.name !== leader).sort((x, y) => count(y) - count(x))[0]!;
    const survivors = nodes.filter((n) => n !== victim);
    const moved = vms.filter((v) => v.hostId === victim.name).map((v) => v.request.id);
    expect(moved.length).toBeGreaterThan(0);
    await victim.kill('SIGKILL');
    vms = await until(
      async () => {
        const now = await survivors[0]!.client.listVms();
        return now.every((v) => v.hostId !== null && v.hostId !== victim.name) ? now : undefined;
      },
      20_000,
      're-placement',
    ).catch(async (e) => {
      // Diagnostics for a failure: what the survivors see.
      console.log(
        JSON.stringify(await survivors[0]!.client.cluster().catch(String)),
        survivors[0]!.stderr.slice(-2000),
      );
      throw e;
    });
    for (const id of moved) expect(vms.find((v) => v.request.id === id)!.epoch).toBe(2);
    for (let g = 0; g < 6; g++) {
      const pair = vms.filter((v) => v.request.group === `pair-${g}`);
      expect(pair[0]!.hostId).not.toBe(pair[1]!.hostId);
    }
    const afterKill = await survivors[1]!.client.cluster();
    expect(afterKill.hosts.find((h) => h.id === victim.name)!.schedulable).toBe(false);
    checkNoOvercommit(afterKill, vms);

    // Restart it from its data directory: it rejoins, catches up, becomes schedulable and runs nothing stale.
    await victim.start();
    await until(
      async () => (await victim.client.cluster()).hosts.find((h) => h.id === victim.name)?.schedulable === true,
      20_000,
      'rejoin',
    );
    const mine = await victim.client.listVms();
    const theirs = await survivors[0]!.client.listVms();
    expect(mine).toEqual(theirs);
    expect(mine.filter((v) => v.hostId === victim.name)).toHaveLength(0);

    // A minority cannot place onto shared capacity: with two nodes gone the last one answers 503 NO_QUORUM.
    const last = survivors[0]!;
    await Promise.all([victim.kill('SIGKILL'), survivors[1]!.kill('SIGKILL')]);
    const err = await last.client
      .createVm({ id: 'lonely', resources: { cpuMillis: 100, memoryBytes: GiB } })
      .catch((e: unknown) => e);
    expect(isNovacronError(err, 'NODE_NO_QUORUM')).toBe(true);
    expect((err as { details: { status: number } }).details.status).toBe(503);

    // Graceful shutdown: SIGTERM exits 0 and leaves nothing listening.
    const port = Number(new URL(last.apiUrl).port);
    expect(await last.kill('SIGTERM')).toBe(0);
    expect(last.stdout).toContain('"stopped"');
    const refused = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        r(false);
      });
      s.once('error', () => r(true));
    });
    expect(refused).toBe(true);
    // No process of its group is left (tsx's wrapper and the node itself).
    await until(
      () => {
        try {
          process.kill(-last.child!.pid!, 0);
          return false;
        } catch {
          return true;
        }
      },
      5000,
      'process group gone',
    );
    void c;
  }, 120_000);

  it('fails start on bad configuration with a clear message and exit code 2', async () => {
    const r = await runCliProcess(['node', 'start', '--data-dir', '/tmp/nc-never'], {
      NOVACRON_API__LISTEN: 'nowhere',
      NOVACRON_NODE__CAPACITY__CPU_MILLIS: '-3',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('NOVACRON_API__LISTEN (env) = "nowhere": expected host:port');
    expect(r.stderr).toContain('NOVACRON_NODE__CAPACITY__CPU_MILLIS (env) = -3');
  }, 30_000);
});
