// The NovaCron demo: three node processes on loopback with the memory
// provider form a cluster (Raft over amst TCP), place twelve VMs in six
// anti-affine pairs, live-migrate a VM whose guest keeps dirtying memory
// (progress bar, then raw vs wire bytes, rounds, time, downtime, lanes and
// codecs), lose a node, and re-place its VMs on the others.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bootstrapClusterSecurity, NovacronClient, type VmView } from '@novacron/node';

const smoke = process.argv.includes('--smoke');
const started = Date.now();
const GiB = 2 ** 30;
const cli = join(dirname(createRequire(import.meta.url).resolve('@novacron/node/package.json')), 'dist/cli.js');
const dataRoot = mkdtempSync(join(tmpdir(), 'novacron-demo-'));
const children: ChildProcess[] = [];
const log = (s: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${s}`);

// Whatever happens, stop within a minute and leave nothing running.
const deadline = setTimeout(() => {
  console.error('demo: over one minute, giving up');
  cleanup();
  process.exit(1);
}, 60_000);

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dataRoot, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as import('node:net').AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function table(headers: string[], rows: unknown[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c ?? '-')))];
  const w = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => `  ${r.map((c, i) => c.padEnd(w[i]!)).join('  ')}`.trimEnd()).join('\n');
}

async function main(): Promise<void> {
  const names = ['n1', 'n2', 'n3'];
  const peer = await Promise.all(names.map(freePort));
  const api = await Promise.all(names.map(freePort));
  const seeds = names.map((n, i) => `${n}@127.0.0.1:${peer[i]}`).join(',');
  // Every node's sealed gossip uses one cluster key (as `novacron cluster up` does).
  const keyFile = join(dataRoot, 'cluster.key');
  mkdirSync(dataRoot, { recursive: true });
  writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  // Peer links are TLS and the API wants a token by default: one cluster CA and admin token for the demo.
  const sec = await bootstrapClusterSecurity(join(dataRoot, 'security'));
  log(`starting 3 node processes (${cli})`);
  await Promise.all(
    names.map(
      (name, i) =>
        new Promise<void>((ok, fail) => {
          const child = spawn(
            process.execPath,
            [
              cli,
              'node',
              'start',
              '--json',
              '--name',
              name,
              '--preset',
              'datacenter',
              '--listen',
              `127.0.0.1:${peer[i]}`,
              '--api',
              `127.0.0.1:${api[i]}`,
              '--seeds',
              seeds,
              '--data-dir',
              join(dataRoot, name),
              '--cluster-key-file',
              keyFile,
            ],
            {
              stdio: ['ignore', 'pipe', 'inherit'],
              env: {
                ...process.env,
                NOVACRON_LOG__LEVEL: 'warn',
                NOVACRON_CLUSTER__FAILOVER_AFTER_MS: '2000',
                // SWIM: probe every 500 ms, so a killed node is declared dead in ~2.5 s.
                NOVACRON_GOSSIP__PROBE_INTERVAL_MS: '500',
                NOVACRON_CLUSTER__RAFT__TICK_MS: '100',
                NOVACRON_SECURITY__CA_CERT_FILE: sec.caCertFile,
                NOVACRON_SECURITY__CA_KEY_FILE: sec.caKeyFile,
                NOVACRON_SECURITY__API_TOKEN_FILE: sec.apiTokenFile,
                NOVACRON_SECURITY__GOSSIP_KEY_FILE: sec.gossipKeyFile,
                // Pace migrations so the progress bar has something to show on loopback.
                NOVACRON_MIGRATION__BANDWIDTH_BYTES_PER_SECOND: String(48 * 2 ** 20),
                NOVACRON_MIGRATION__CODEC: 'lz4',
              },
            },
          );
          children.push(child);
          let out = '';
          let seen = false;
          child.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            const line = out.split('\n').find((l) => l.includes('"started"'));
            if (line && !seen) {
              seen = true;
              const s = JSON.parse(line) as { id: string; bootMs: number; pid: number };
              log(`  ${s.id} up in ${s.bootMs} ms (pid ${s.pid})`);
              ok();
            }
          });
          child.once('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
        }),
    ),
  );
  const clients = api.map((p) => new NovacronClient({ baseUrl: `http://127.0.0.1:${p}`, token: sec.token }));
  const leader = await until('a leader and three hosts', async () => {
    const c = await clients[0]!.cluster();
    return c.leader && c.hosts.filter((h) => h.schedulable).length === 3 ? c.leader : undefined;
  });
  log(`cluster formed: leader ${leader}, mode ${(await clients[0]!.mode()).mode}`);

  const groups = ['web', 'api', 'db', 'cache', 'queue', 'search'];
  for (let i = 0; i < 12; i++) {
    const group = groups[i % 6]!;
    const request = {
      id: `${group}-${Math.floor(i / 6) + 1}`,
      resources: { cpuMillis: 1000 + 250 * (i % 3), memoryBytes: GiB * (1 + (i % 2)) },
      group,
      antiAffinity: { required: [{ scope: 'host' as const, group }] },
    };
    // An election on a busy machine answers 503 NODE_NO_QUORUM for a moment: retry (a retry that finds the
    // VM means the first attempt committed).
    for (let attempt = 0; ; attempt++) {
      const err = await clients[i % 3]!.createVm(request).then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      if (err === undefined || (err.code === 'NODE_VM_EXISTS' && attempt > 0)) break;
      if (err.code !== 'NODE_NO_QUORUM' || attempt >= 8) throw err;
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
  }
  let vms = await clients[1]!.listVms();
  log('placed 12 VMs (6 anti-affine pairs: never two of a group on one host):');
  console.log(
    table(
      ['VM', 'HOST', 'CPU', 'MEMORY'],
      vms.map((v) => [
        v.request.id,
        v.hostId,
        v.request.resources.cpuMillis,
        `${v.request.resources.memoryBytes / GiB} GiB`,
      ]),
    ),
  );

  // Live migration of a VM whose guest dirties 8 MiB/s of its 128 MiB, through the CLI (progress bar + summary).
  await clients[0]!.createVm({
    id: 'mover',
    resources: { cpuMillis: 250, memoryBytes: 128 * 2 ** 20 },
    labels: {
      'novacron.io/fill-random': '7',
      'novacron.io/dirty-bytes-per-second': String(8 * 2 ** 20),
      'novacron.io/working-set-bytes': String(32 * 2 ** 20),
    },
  });
  const moverFrom = (await clients[0]!.getVm('mover')).hostId!;
  await until('mover running', async () =>
    (await clients[names.indexOf(moverFrom)]!.getVm('mover')).observed === 'running' ? true : undefined,
  );
  const moverTo = names.find((n) => n !== moverFrom && n !== leader) ?? names.find((n) => n !== moverFrom)!;
  log(
    `live-migrating mover (128 MiB, guest dirtying 8 MiB/s) ${moverFrom} → ${moverTo}: novacron vm migrate mover --to ${moverTo} --wait`,
  );
  const code = await new Promise<number | null>((ok) => {
    const child = spawn(
      process.execPath,
      [cli, 'vm', 'migrate', 'mover', '--to', moverTo, '--wait', '--api-url', `http://127.0.0.1:${api[0]}`],
      // The CLI reads the admin token from a file, never from its arguments.
      { stdio: 'inherit', env: { ...process.env, NOVACRON_API_TOKEN_FILE: sec.apiTokenFile } },
    );
    child.once('exit', (c) => ok(c));
  });
  if (code !== 0) throw new Error(`vm migrate exited with ${code}`);
  const moved = await clients[0]!.getVm('mover');
  log(`mover now on ${moved.hostId} (ownership epoch ${moved.epoch})`);
  if (moved.hostId !== moverTo) throw new Error('mover did not move');

  const byHost = (list: VmView[], h: string) => list.filter((v) => v.hostId === h).length;
  const victim = names.filter((n) => n !== leader).sort((a, b) => byHost(vms, b) - byHost(vms, a))[0]!;
  const victimIdx = names.indexOf(victim);
  const before = new Map(vms.map((v) => [v.request.id, v.hostId]));
  log(`killing ${victim} (SIGKILL) with ${byHost(vms, victim)} VMs on it`);
  children[victimIdx]!.kill('SIGKILL');
  const survivor = clients[names.indexOf(leader)]!;
  vms = await until('re-placement', async () => {
    const now = await survivor.listVms();
    return now.every((v) => v.hostId !== null && v.hostId !== victim) ? now : undefined;
  });
  log('re-placed:');
  console.log(
    table(
      ['VM', 'FROM', 'TO', 'EPOCH'],
      vms.filter((v) => before.get(v.request.id) === victim).map((v) => [v.request.id, victim, v.hostId, v.epoch]),
    ),
  );

  const cluster = await survivor.cluster();
  const mode = await survivor.mode();
  console.log('\nsummary');
  console.log(
    `  leader ${cluster.leader}, term ${cluster.term}, mode ${mode.mode} (RTT ${mode.rttMs?.toFixed(2) ?? '-'} ms), ${cluster.vms} VMs`,
  );
  console.log(
    table(
      ['HOST', 'SCHEDULABLE', 'VMS', 'CPU USED', 'MEMORY USED'],
      cluster.hosts.map((h) => [
        h.id,
        h.schedulable,
        h.vms,
        `${h.committed?.cpuMillis ?? 0}/${h.capacity.cpuMillis}`,
        `${(h.committed?.memoryBytes ?? 0) / GiB}/${h.capacity.memoryBytes / GiB} GiB`,
      ]),
    ),
  );

  // The invariants the demo shows, checked (the smoke test fails on any breach).
  const problems: string[] = [];
  for (const h of cluster.hosts) {
    if ((h.committed?.cpuMillis ?? 0) > h.capacity.cpuMillis) problems.push(`${h.id} overcommitted`);
    const sum = vms.filter((v) => v.hostId === h.id).reduce((s, v) => s + v.request.resources.cpuMillis, 0);
    if (sum !== (h.committed?.cpuMillis ?? 0)) problems.push(`${h.id}: ledger ${h.committed?.cpuMillis} != VMs ${sum}`);
  }
  for (const g of groups) {
    const hosts = vms.filter((v) => v.request.group === g).map((v) => v.hostId);
    if (hosts.length === 0) continue;
    if (new Set(hosts).size !== hosts.length) problems.push(`anti-affinity broken for ${g}`);
  }
  if (problems.length > 0) throw new Error(`invariants broken: ${problems.join('; ')}`);

  log('stopping the cluster (SIGTERM)');
  await Promise.all(
    children
      .filter((c) => c.exitCode === null && c.signalCode === null)
      .map(
        (c) =>
          new Promise<void>((ok) => {
            c.once('exit', () => ok());
            c.kill('SIGTERM');
          }),
      ),
  );
  log(`done${smoke ? ' (smoke)' : ''}`);
}

main()
  .then(() => {
    clearTimeout(deadline);
    cleanup();
  })
  .catch((err: unknown) => {
    console.error(`demo failed: ${(err as Error).message}`);
    clearTimeout(deadline);
    cleanup();
    process.exit(1);
  });
