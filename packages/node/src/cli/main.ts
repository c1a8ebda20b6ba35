import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { isNovacronError, nodeFileIO } from '@novacron/core';
import { pino } from 'pino';
import { stringify as toYaml } from 'yaml';
import { NovacronClient, readApiToken } from '../api/client.js';
import { loadNodeConfig } from '../config/load-config.js';
import type { NodeConfigInput } from '../config/schema.js';
import { NodeErrorCode } from '../errors.js';
import { CLUSTER_KEY_FILE, createClusterKeyFile } from '../membership/cluster-key.js';
import { pinoLogger } from '../observability/pino-logger.js';
import { startNode } from '../start-node.js';
import { verifyAuditLog, type AuditHead } from '../security/audit-log.js';
import { bootstrapClusterSecurity } from '../security/cluster-bootstrap.js';
import { isApiRole } from '../security/roles.js';
import { refuseSecretFlags } from '../security/secret.js';
import { migrateCommand } from './migrate-command.js';
import { bytes, parseBytes, table } from './table.js';

const USAGE = `novacron <command> [options]

  node start [--config FILE] [--name ID] [--listen HOST:PORT] [--api HOST:PORT]
             [--seeds ID@HOST:PORT,...] [--data-dir DIR] [--provider memory|qemu] [--preset MODE]
             [--cluster-key-file FILE]
  cluster up --nodes N [--provider memory|qemu] [--base-port PORT] [--data-dir DIR]
             (writes DIR/cluster.key, the gossip key every node is given, unless it exists)
  vm create ID --cpu MILLIS --memory BYTES [--group G] [--spread] [--label K=V ...]
  vm list | vm get ID | vm start ID | vm stop ID | vm delete ID
  vm migrate ID [--to HOST] [--wait]   live-migrate (progress bar with rate and ETA)
  status
  token create --role viewer|operator|admin --name NAME [--ttl-ms MS] | token list | token revoke ID
  join-token create [--ttl-ms MS]
  member retire ID
  audit verify [--dir DIR | --data-dir DIR] [--signer PUBKEY_HEX] [--anchor HEAD_FILE]
  config validate [--config FILE] | config print [--config FILE]

Common: --api-url URL (or NOVACRON_API_URL; default http://127.0.0.1:7480),
        --token-file FILE (or NOVACRON_API_TOKEN_FILE, or the token in NOVACRON_API_TOKEN;
        never on the command line; \`cluster up\` writes DATA_DIR/admin.token), --json.
Exit codes: 0 ok, 1 failure, 2 bad configuration or usage.`;

class UsageError extends Error {}

const OPTIONS = {
  config: { type: 'string' },
  name: { type: 'string' },
  listen: { type: 'string' },
  api: { type: 'string' },
  seeds: { type: 'string' },
  'data-dir': { type: 'string' },
  provider: { type: 'string' },
  preset: { type: 'string' },
  nodes: { type: 'string' },
  'base-port': { type: 'string' },
  'cluster-key-file': { type: 'string' },
  'api-url': { type: 'string' },
  'token-file': { type: 'string' },
  role: { type: 'string' },
  'ttl-ms': { type: 'string' },
  dir: { type: 'string' },
  signer: { type: 'string' },
  anchor: { type: 'string' },
  cpu: { type: 'string' },
  memory: { type: 'string' },
  group: { type: 'string' },
  spread: { type: 'boolean' },
  label: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  to: { type: 'string' },
  wait: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Runs the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function runCli(
  argv: readonly string[],
  io: { out: (s: string) => void; err: (s: string) => void } = defaultIo,
): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    // Secrets never travel in argv, where `ps` and shell history show them.
    refuseSecretFlags(argv, ['--token', '--join-token']);
    ({ values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help || positionals.length === 0) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const [cmd, sub, ...rest] = positionals;
  const json = values.json === true;
  const print = (human: string, data: unknown) => io.out(json ? JSON.stringify(data, null, 2) : human);
  try {
    switch (`${cmd} ${sub ?? ''}`.trim()) {
      case 'node start':
        return await nodeStart(values, io);
      case 'cluster up':
        return await clusterUp(values, io);
      case 'config validate':
      case 'config print': {
        const { config, unknownEnv } = loadNodeConfig({
          ...fileOpt(values),
          env: process.env,
          overrides: flagsConfig(values),
        });
        for (const v of unknownEnv) io.err(`warning: ${v} names no configuration key (ignored)`);
        if (sub === 'validate') print('configuration is valid', { valid: true });
        else io.out(json ? JSON.stringify(config, null, 2) : toYaml(config));
        return 0;
      }
      case 'audit verify':
        return await auditVerify(values, print);
      case 'token create': {
        if (!isApiRole(values.role)) throw new UsageError('token create needs --role viewer|operator|admin');
        if (!values.name) throw new UsageError('token create needs --name');
        const r = await client(values).issueToken({
          role: values.role,
          name: values.name,
          ...(values['ttl-ms'] ? { ttlMs: Number(values['ttl-ms']) } : {}),
        });
        // The token is printed once, for the operator to store; it is not kept anywhere.
        print(`${r.token}\n(id ${r.record.id}, role ${r.record.role}; shown once: store it in a 0600 file)`, r);
        return 0;
      }
      case 'token list': {
        const rows = await client(values).listTokens();
        print(
          table(
            ['ID', 'ROLE', 'NAME', 'EXPIRES', 'REVOKED'],
            rows.map((t) => [
              t.id,
              t.role,
              t.name,
              t.expiresAt ? new Date(t.expiresAt).toISOString() : '-',
              t.revokedAt ? new Date(t.revokedAt).toISOString() : '-',
            ]),
          ),
          rows,
        );
        return 0;
      }
      case 'token revoke': {
        if (!rest[0]) throw new UsageError('token revoke needs an ID');
        await client(values).revokeToken(rest[0]);
        print(`revoked ${rest[0]}`, { revoked: rest[0] });
        return 0;
      }
      case 'join-token create': {
        const r = await client(values).issueJoinToken(values['ttl-ms'] ? Number(values['ttl-ms']) : undefined);
        print(`${r.token}\n(single use, expires ${new Date(r.expiresAt).toISOString()})`, r);
        return 0;
      }
      case 'member retire': {
        if (!rest[0]) throw new UsageError('member retire needs a node ID');
        print(`retired ${rest[0]}`, await client(values).retireMember(rest[0]));
        return 0;
      }
      case 'status': {
        const c = client(values);
        const [cluster, nodes] = await Promise.all([c.cluster(), c.nodes()]);
        print(
          `cluster ${cluster.name}: leader ${cluster.leader ?? '(none)'}, term ${cluster.term}, mode ${cluster.mode}, ${cluster.vms} VMs\n\n${table(
            ['NODE', 'STATUS', 'RTT ms', 'HOST', 'SCHEDULABLE', 'VMS', 'CPU USED', 'MEM USED'],
            nodes.map((n) => {
              const h = cluster.hosts.find((x) => x.nodeId === n.id);
              return [
                n.id,
                n.status,
                n.rttMs?.toFixed(2),
                h?.id,
                h?.schedulable,
                h?.vms,
                h ? `${h.committed?.cpuMillis ?? 0}/${h.capacity.cpuMillis}` : undefined,
                h ? `${bytes(h.committed?.memoryBytes)}/${bytes(h.capacity.memoryBytes)}` : undefined,
              ];
            }),
          )}`,
          { cluster, nodes },
        );
        return 0;
      }
      case 'vm create': {
        const id = rest[0] ?? values.name;
        if (!id) throw new UsageError('vm create needs an ID');
        const cpu = Number(values.cpu ?? '1000');
        const memory = parseBytes(values.memory ?? '1GiB');
        if (!Number.isFinite(cpu) || memory === undefined)
          throw new UsageError('--cpu takes millicores, --memory bytes (e.g. 2GiB)');
        const labels = Object.fromEntries((values.label ?? []).map((l) => l.split('=', 2) as [string, string]));
        const r = await client(values).createVm({
          id,
          resources: { cpuMillis: cpu, memoryBytes: memory },
          ...(Object.keys(labels).length > 0 ? { labels } : {}),
          ...(values.group ? { group: values.group } : {}),
          ...(values.group && values.spread
            ? { antiAffinity: { required: [{ scope: 'host' as const, group: values.group }] } }
            : {}),
        });
        print(
          r.decision
            ? `created ${id} on ${r.vm.hostId} (policy ${r.decision.explanation.profile}, ${r.decision.feasible} feasible hosts)`
            : `created ${id} on ${r.vm.hostId} from its escrow (the control log is unreachable)`,
          r,
        );
        return 0;
      }
      case 'vm list': {
        const vms = await client(values).listVms();
        print(
          table(
            ['ID', 'HOST', 'EPOCH', 'DESIRED', 'CPU', 'MEMORY', 'GROUP'],
            vms.map((v) => [
              v.request.id,
              v.hostId,
              v.epoch,
              v.desired,
              v.request.resources.cpuMillis,
              bytes(v.request.resources.memoryBytes),
              v.request.group,
            ]),
          ),
          vms,
        );
        return 0;
      }
      case 'vm migrate': {
        const id = rest[0];
        if (!id) throw new UsageError('vm migrate needs an ID');
        return await migrateCommand(
          client(values),
          id,
          {
            ...(values.to ? { to: values.to } : {}),
            wait: values.wait === true,
            json,
            tty: process.stdout.isTTY === true,
          },
          io,
        );
      }
      case 'vm get':
      case 'vm start':
      case 'vm stop':
      case 'vm delete': {
        const id = rest[0];
        if (!id) throw new UsageError(`vm ${sub} needs an ID`);
        const c = client(values);
        if (sub === 'delete') {
          await c.deleteVm(id);
          print(`deleted ${id}`, { deleted: id });
          return 0;
        }
        const vm = sub === 'get' ? await c.getVm(id) : sub === 'start' ? await c.startVm(id) : await c.stopVm(id);
        print(
          table(
            ['ID', 'HOST', 'EPOCH', 'DESIRED', 'OBSERVED'],
            [[vm.request.id, vm.hostId, vm.epoch, vm.desired, vm.observed]],
          ),
          vm,
        );
        return 0;
      }
      default:
        throw new UsageError(`unknown command: ${positionals.join(' ')}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (isNovacronError(err)) {
      if (json) io.err(JSON.stringify({ error: err.toJSON() }));
      else io.err(`error ${err.code}: ${err.message}`);
      return err.code === NodeErrorCode.CONFIG_INVALID || err.code === NodeErrorCode.CONFIG_FILE_UNREADABLE ? 2 : 1;
    }
    io.err(`error: ${(err as Error).message}`);
    return 1;
  }
}

const defaultIo = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) };

function client(values: Values): NovacronClient {
  const token = readApiToken(values['token-file']);
  return new NovacronClient({
    baseUrl: values['api-url'] ?? process.env.NOVACRON_API_URL ?? 'http://127.0.0.1:7480',
    ...(token ? { token } : {}),
  });
}

function fileOpt(values: Values): { file?: string } {
  const file = values.config ?? process.env.NOVACRON_CONFIG;
  return file ? { file } : {};
}

function flagsConfig(values: Values): NodeConfigInput {
  const c: Record<string, Record<string, unknown>> & { preset?: unknown } = {};
  const set = (section: string, key: string, v: unknown) => {
    if (v === undefined) return;
    c[section] ??= {};
    c[section]![key] = v;
  };
  set('node', 'name', values.name);
  set('node', 'dataDir', values['data-dir']);
  set('network', 'listen', values.listen);
  set('network', 'seeds', values.seeds?.split(',').filter(Boolean));
  set('api', 'listen', values.api);
  set('provider', 'kind', values.provider);
  set('gossip', 'keyFile', values['cluster-key-file']);
  if (values.preset !== undefined) c.preset = values.preset;
  return c as NodeConfigInput;
}

async function nodeStart(values: Values, io: typeof defaultIo): Promise<number> {
  let node: Awaited<ReturnType<typeof startNode>>;
  try {
    const sources = { ...fileOpt(values), env: process.env };
    const { config } = loadNodeConfig({ ...sources, overrides: flagsConfig(values) });
    // Logs go to stderr so stdout carries only the CLI's own lines (JSON with --json).
    const logger = pinoLogger({
      level: config.log.level,
      base: { cluster: config.cluster.name },
      destination: pino.destination(2),
    });
    node = await startNode(flagsConfig(values), { sources, logger });
  } catch (err) {
    if (isNovacronError(err, NodeErrorCode.CONFIG_INVALID)) {
      io.err(`novacron: ${err.message}`);
      return 2;
    }
    if (isNovacronError(err)) {
      io.err(`novacron: cannot start: ${err.code}: ${err.message}`);
      return err.code === NodeErrorCode.CONFIG_FILE_UNREADABLE ? 2 : 1;
    }
    throw err;
  }
  const line = {
    event: 'started',
    id: node.id,
    api: node.apiUrl,
    peer: node.peerAddress,
    bootMs: Math.round(node.bootMs ?? 0),
    pid: process.pid,
  };
  io.out(
    values.json
      ? JSON.stringify(line)
      : `node ${line.id} started in ${line.bootMs} ms: api ${line.api}, peer ${line.peer}`,
  );
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await node.stop();
  io.out(values.json ? JSON.stringify({ event: 'stopped', id: node.id }) : `node ${node.id} stopped`);
  return 0;
}

async function clusterUp(values: Values, io: typeof defaultIo): Promise<number> {
  const n = Number(values.nodes ?? '3');
  if (!Number.isInteger(n) || n < 1 || n > 15) throw new UsageError('--nodes takes 1 to 15');
  const basePort = Number(values['base-port'] ?? '7400');
  const dataDir = resolve(values['data-dir'] ?? '.novacron-cluster');
  const seeds = Array.from({ length: n }, (_, i) => `n${i + 1}@127.0.0.1:${basePort + i}`).join(',');
  // One cluster key for every node's sealed gossip, kept (0600) next to their data directories.
  const keyFile = join(dataDir, CLUSTER_KEY_FILE);
  if (!existsSync(keyFile)) createClusterKeyFile(keyFile);
  // The running script is this CLI's bin: children run the same one.
  const cli = process.argv[1]!;
  // One CA and one admin token for the whole local cluster (every node holds the CA key: a dev setup).
  const sec = await bootstrapClusterSecurity(join(dataDir, 'security'));
  const children: ChildProcess[] = [];
  const apis: string[] = [];
  for (let i = 0; i < n; i++) {
    mkdirSync(join(dataDir, `n${i + 1}`), { recursive: true });
    const args = [
      cli,
      'node',
      'start',
      '--json',
      '--name',
      `n${i + 1}`,
      '--listen',
      `127.0.0.1:${basePort + i}`,
      '--api',
      `127.0.0.1:${basePort + 80 + i}`,
      '--seeds',
      seeds,
      '--data-dir',
      join(dataDir, `n${i + 1}`),
      '--provider',
      values.provider ?? 'memory',
      '--preset',
      values.preset ?? 'datacenter',
      '--cluster-key-file',
      keyFile,
    ];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        NOVACRON_LOG__LEVEL: process.env.NOVACRON_LOG__LEVEL ?? 'warn',
        NOVACRON_SECURITY__CA_CERT_FILE: sec.caCertFile,
        NOVACRON_SECURITY__CA_KEY_FILE: sec.caKeyFile,
        NOVACRON_SECURITY__API_TOKEN_FILE: sec.apiTokenFile,
        NOVACRON_SECURITY__GOSSIP_KEY_FILE: sec.gossipKeyFile,
      },
    });
    children.push(child);
    apis.push(`http://127.0.0.1:${basePort + 80 + i}`);
  }
  const started = await Promise.all(
    children.map(
      (child) =>
        new Promise<string>((ok, fail) => {
          let buf = '';
          child.stdout!.on('data', (d: Buffer) => {
            buf += d.toString();
            const line = buf.split('\n').find((l) => l.includes('"started"'));
            if (line) ok(line);
          });
          child.once('exit', (code) => fail(new Error(`a node exited with ${code} before starting`)));
        }),
    ),
  ).catch(async (err: Error) => {
    for (const c of children) c.kill('SIGTERM');
    throw err;
  });
  io.out(
    values.json
      ? JSON.stringify({
          event: 'cluster-up',
          tokenFile: sec.apiTokenFile,
          nodes: started.map((l) => JSON.parse(l) as unknown),
        })
      : `${table(
          ['NODE', 'API', 'PID'],
          started
            .map((l) => JSON.parse(l) as { id: string; api: string; pid: number })
            .map((s) => [s.id, s.api, s.pid]),
        )}\n\nnovacron status --api-url ${apis[0]} --token-file ${sec.apiTokenFile}   (Ctrl-C stops the cluster)`,
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((ok) => {
          if (c.exitCode !== null) return ok();
          c.once('exit', () => ok());
          c.kill('SIGTERM');
        }),
    ),
  );
  return 0;
}

async function auditVerify(values: Values, print: (human: string, data: unknown) => void): Promise<number> {
  const dir = values.dir ?? join(values['data-dir'] ?? '.novacron', 'audit');
  let anchor: AuditHead | undefined;
  if (values.anchor !== undefined) {
    try {
      anchor = JSON.parse(readFileSync(values.anchor, 'utf8')) as AuditHead;
    } catch (err) {
      throw new UsageError(`--anchor ${values.anchor}: ${(err as Error).message}`);
    }
  }
  const report = await verifyAuditLog(nodeFileIO(), dir, {
    ...(values.signer ? { expectedSigner: values.signer } : {}),
    ...(anchor ? { anchor } : {}),
  });
  print(
    report.ok
      ? `audit log ${dir}: ok, ${report.records} records, head ${report.headHash.slice(0, 16)}…`
      : `audit log ${dir}: FAILED at ${report.problem!.line === 0 ? 'audit.head' : `line ${report.problem!.line}`} (${report.problem!.kind}): ${report.problem!.message}`,
    { dir, ok: report.ok, records: report.records, headHash: report.headHash, problem: report.problem ?? null },
  );
  return report.ok ? 0 : 1;
}
