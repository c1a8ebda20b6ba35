import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { join } from 'node:path';
import { GOSSIP_CHANNEL } from '@novacron/acp';
import { createClusterCa, createNodeCertificate, TlsTransport, UdpPeerNetwork } from '@novacron/amst';
import { CoreErrorCode, NodeIdentity } from '@novacron/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_PERMISSIONS,
  API_ROLES,
  API_ROUTE_TABLE,
  type ApiRole,
  bootstrapClusterSecurity,
  type ClusterSecurityFiles,
  NovacronClient,
  type NovacronNode,
  roleAllows,
  runCli,
  startNode,
} from '../../src/index.js';
import { tempDir, until } from './helpers.js';

let node: NovacronNode;
let sec: ClusterSecurityFiles;
let admin: NovacronClient;
let base: string;
const tokens = new Map<ApiRole, string>();

/** An HTTP call from a chosen loopback source address (the rate limiter keys on it). */
function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; from?: string } = {},
): Promise<{ status: number; code?: string; headers: Record<string, unknown> }> {
  const url = new URL(path, base);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        localAddress: options.from ?? '127.0.0.1',
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status, headers: res.headers });
          return;
        }
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
          } catch {
            code = undefined;
          }
          resolve({ status, ...(code ? { code } : {}), headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  sec = await bootstrapClusterSecurity(tempDir('nc-sec-e2e-'));
  node = await startNode({
    node: { name: 'n1', dataDir: tempDir('nc-sec-n1-') },
    network: { listen: '127.0.0.1:0' },
    api: { listen: '127.0.0.1:0' },
    security: { ...sec.config, authFailures: { max: 3, lockoutMs: 60_000 } },
    cluster: { raft: { tickMs: 50 } },
    log: { level: 'silent' },
  });
  base = node.apiUrl!;
  admin = new NovacronClient({ baseUrl: base, token: sec.token });
  await until(async () => (await admin.readyz()).ready, 15_000, 'leader');
  for (const role of API_ROLES) {
    if (role === 'admin') tokens.set(role, sec.token.reveal());
    else tokens.set(role, (await admin.issueToken({ role, name: `test-${role}` })).token);
  }
}, 30_000);

afterAll(async () => {
  await node?.stop();
});

describe('encryption is on by default', () => {
  it('a plaintext client of the peer port gets nothing beyond a TLS alert, and the node keeps serving', async () => {
    const [host, port] = node.peerAddress!.split(':') as [string, string];
    for (const probe of [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from([0x00, 0x00, 0x00, 0x10, 1, 2, 3]),
    ]) {
      const received = await new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        const s = connect(Number(port), host, () => s.write(probe));
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('error', () => undefined);
        s.on('close', () => resolve(Buffer.concat(chunks)));
        setTimeout(() => s.destroy(), 3000);
      });
      // At most one TLS alert record (content type 21); never an application byte.
      if (received.length > 0) expect(received[0]).toBe(21);
      expect(received.length).toBeLessThan(16);
    }
    expect((await admin.cluster()).node).toBe('n1');
  });

  it('a plaintext or forged gossip datagram is dropped by the sealed UDP port, unanswered and counted', async () => {
    const [host, port] = node.gossipAddress!.split(':') as [string, string];
    const intruder = new UdpPeerNetwork({
      localId: 'n2',
      listenAddress: '127.0.0.1:0',
      peers: [['n1', node.gossipAddress!]],
    });
    await intruder.start();
    const answers: Uint8Array[] = [];
    intruder.handle(GOSSIP_CHANNEL, (_from, data) => answers.push(data));
    const raw = createSocket('udp4');
    try {
      // A well-framed but unsealed gossip message claiming to be a seed, and raw garbage.
      for (let i = 0; i < 5; i++) intruder.send('n1', GOSSIP_CHANNEL, new Uint8Array([1, 2, 3, i]));
      await new Promise<void>((resolve) => raw.send(Buffer.from('hello'), Number(port), host, () => resolve()));
      await until(
        async () => /novacron_amst_sealed_refused_total\{reason="auth"\} [1-9]/.test(await node.metrics.text()),
        5_000,
        'sealed port counted the forged datagrams',
      );
      expect(answers).toHaveLength(0);
      expect(node.membership.members().map((m) => m.id)).not.toContain('n2');
      expect((await admin.cluster()).node).toBe('n1');
    } finally {
      raw.close();
      await intruder.stop();
    }
  });

  it('a client with a certificate from another cluster, or self-signed, is refused typed; a member gets through', async () => {
    const stranger = NodeIdentity.generate();
    const otherCa = await createClusterCa(NodeIdentity.generate());
    const foreign = await createNodeCertificate(stranger, {
      issuer: { identity: NodeIdentity.generate(), certPem: otherCa.certPem },
    }).catch(async () => createNodeCertificate(stranger));
    const selfSigned = await createNodeCertificate(stranger);
    for (const credentials of [foreign, selfSigned]) {
      const t = new TlsTransport({
        credentials,
        trust: { kind: 'ca', caCertPem: otherCa.certPem },
        connectTimeoutMs: 3000,
      });
      const r = await t.dial(node.peerAddress!).then(
        async (s) => {
          const it = s[Symbol.asyncIterator]();
          return it.next().then(
            (x) => (x.done ? 'cut' : 'read'),
            () => 'cut',
          );
        },
        (e: { code: string }) => e.code,
      );
      expect(['cut', CoreErrorCode.DIAL_FAILED]).toContain(r);
    }
    // A node holding a certificate of this cluster's CA (the join path below) is accepted.
    const joinToken = (await admin.issueJoinToken()).token;
    const joiner = NodeIdentity.generate();
    const res = await fetch(`${base}/v1/cluster/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: joinToken, publicKey: Buffer.from(joiner.publicKey).toString('hex'), name: 'n9' }),
    });
    expect(res.status).toBe(201);
    const admitted = (await res.json()) as { certPem: string; caCertPem: string; nodeId: string };
    expect(admitted.nodeId).toBe('n9');
    const keyPem = (await createNodeCertificate(joiner)).keyPem;
    const member = new TlsTransport({
      credentials: { keyPem, certPem: admitted.certPem },
      trust: { kind: 'ca', caCertPem: admitted.caCertPem },
    });
    const s = await member.dial(node.peerAddress!, { expectedPeer: 'n1' });
    expect(s.remoteNodeId).toBe('n1');
    await s.close();

    // Reusing the join token is refused, typed, and recorded; so is a forged one.
    const again = await call('POST', '/v1/cluster/join', {
      body: { token: joinToken, publicKey: Buffer.from(stranger.publicKey).toString('hex') },
      from: '127.0.0.3',
    });
    expect(again).toMatchObject({ status: 409, code: 'NODE_JOIN_TOKEN_USED' });
    const forged = await call('POST', '/v1/cluster/join', {
      body: {
        token: `ncjt_${'0'.repeat(16)}.${'A'.repeat(43)}`,
        publicKey: Buffer.from(stranger.publicKey).toString('hex'),
      },
      from: '127.0.0.3',
    });
    expect(forged).toMatchObject({ status: 401, code: 'NODE_JOIN_TOKEN_INVALID' });

    // Retiring the member (key rotation's second half) cuts its open connection and refuses new ones.
    const open = await member.dial(node.peerAddress!, { expectedPeer: 'n1' });
    const cut = (async () => {
      try {
        for await (const _ of open) {
          // nothing is sent to a peer that never says hello
        }
      } catch {
        // reset
      }
      return 'cut';
    })();
    await admin.retireMember('n9');
    expect(await Promise.race([cut, new Promise((r) => setTimeout(() => r('still open'), 5000))])).toBe('cut');
    const after = await member.dial(node.peerAddress!, { expectedPeer: 'n1' }).then(
      async (x) => {
        const it = x[Symbol.asyncIterator]();
        return it.next().then(
          (v) => (v.done ? 'cut' : 'read'),
          () => 'cut',
        );
      },
      (e: { code: string }) => e.code,
    );
    expect(['cut', CoreErrorCode.DIAL_FAILED]).toContain(after);
  });
});

describe('admission by join token (kubeadm-style)', () => {
  it('a node configured with the CA certificate, a join URL and a token file joins, keeps its certificate, and restarts without the token', async () => {
    const { token } = await admin.issueJoinToken();
    const d = tempDir('nc-sec-joiner-');
    const tokenFile = join(d, 'join.token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const config = {
      node: { name: 'n7', dataDir: join(d, 'data') },
      network: { listen: '127.0.0.1:0' },
      api: { enabled: false },
      log: { level: 'silent' as const },
    };
    const joined = await startNode({
      ...config,
      security: { caCertFile: sec.caCertFile, join: { url: base, tokenFile } },
    });
    try {
      expect(joined.tlsSettings()?.mode).toBe('ca');
      expect(readFileSync(join(d, 'data', 'node.crt'), 'utf8')).toContain('BEGIN CERTIFICATE');
      const { credentials, trust } = joined.tlsSettings()!;
      const s = await new TlsTransport({ credentials, trust }).dial(node.peerAddress!, { expectedPeer: 'n1' });
      expect(s.remoteNodeId).toBe('n1');
      await s.close();
    } finally {
      await joined.stop();
    }
    // The token was single-use: the restart relies on the stored certificate alone.
    const again = await startNode({ ...config, security: { caCertFile: sec.caCertFile } });
    expect(again.tlsSettings()?.mode).toBe('ca');
    await again.stop();
  }, 30_000);
});

describe('API access control', () => {
  const bodyFor: Record<string, unknown> = {
    'POST /v1/vms': { id: 'vm-x', resources: { cpuMillis: 10, memoryBytes: 2 ** 20 } },
    'POST /v1/placement/preview': { id: 'vm-p', resources: { cpuMillis: 10, memoryBytes: 2 ** 20 } },
    'PUT /v1/mode': { override: null },
    'POST /v1/tokens': { role: 'viewer', name: 'made-by-test' },
    'POST /v1/join-tokens': {},
    'POST /v1/cluster/join': {},
  };

  it('every route but /healthz and /v1/cluster/join refuses a caller without credentials', async () => {
    for (const r of API_ROUTE_TABLE) {
      const res = await call(r.method, r.path.replace('{id}', 'ghost'), {
        body: bodyFor[`${r.method} ${r.path}`],
        from: '127.0.0.4',
      });
      if (r.permission === 'open') expect(res.status, `${r.method} ${r.path}`).not.toBe(401);
      else expect(res, `${r.method} ${r.path}`).toMatchObject({ status: 401, code: 'NODE_UNAUTHENTICATED' });
      // Stay under the lockout: a success resets nothing here, so use a fresh limit per call.
      if (r.permission !== 'open') node.security.limiter!.succeed('127.0.0.4');
    }
  });

  it('each role can do exactly what the table says, on every route', async () => {
    for (const role of API_ROLES) {
      for (const r of API_ROUTE_TABLE) {
        if (r.permission === 'open') continue;
        const res = await call(r.method, r.path.replace('{id}', 'ghost'), {
          token: tokens.get(role)!,
          body: bodyFor[`${r.method} ${r.path}`],
        });
        const what = `${role} ${r.method} ${r.path} -> ${res.status} ${res.code ?? ''}`;
        if (roleAllows(role, r.permission)) expect([401, 403, 429], what).not.toContain(res.status);
        else expect(res, what).toMatchObject({ status: 403, code: 'NODE_FORBIDDEN' });
      }
    }
    // The table covers every permission and the roles are cumulative.
    expect(new Set(API_ROUTE_TABLE.map((r) => r.permission))).toEqual(
      new Set([...Object.keys(API_PERMISSIONS), 'open']),
    );
  });

  it('locks out a source after repeated failures (429, Retry-After) without affecting others', async () => {
    const bad = `ncat_${'1'.repeat(16)}.${'B'.repeat(43)}`;
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) seen.push((await call('GET', '/v1/vms', { token: bad, from: '127.0.0.2' })).status);
    expect(seen.slice(0, 2)).toEqual([401, 401]);
    expect(seen.slice(2)).toEqual([429, 429, 429]);
    // Even the right token is refused from the locked-out source while the lockout lasts...
    const locked = await call('GET', '/v1/vms', { token: tokens.get('viewer')!, from: '127.0.0.2' });
    expect(locked).toMatchObject({ status: 429, code: 'NODE_AUTH_RATE_LIMITED' });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    // ...while everyone else is served.
    expect((await call('GET', '/v1/vms', { token: tokens.get('viewer')! })).status).toBe(200);
  });

  it('revoked tokens stop working on every node (replicated table)', async () => {
    const { token, record } = await admin.issueToken({ role: 'operator', name: 'short-lived' });
    expect((await call('GET', '/v1/vms', { token })).status).toBe(200);
    await admin.revokeToken(record.id);
    await until(
      async () => (await call('GET', '/v1/vms', { token, from: '127.0.0.5' })).status === 401,
      5000,
      'revoked',
    );
    const listed = await admin.listTokens();
    expect(listed.find((t) => t.id === record.id)?.revokedAt).toBeGreaterThan(0);
    expect(JSON.stringify(listed)).not.toContain('hash');
  });
});

describe('audit', () => {
  it('records mutating calls with the caller, refusals included, and membership changes; verification catches edits', async () => {
    const operator = new NovacronClient({ baseUrl: base, token: tokens.get('operator')! });
    await operator.createVm({ id: 'audited-1', resources: { cpuMillis: 10, memoryBytes: 2 ** 20 } });
    const dir = join(node.config.node.dataDir, 'audit');
    const lines = () =>
      readFileSync(join(dir, 'audit.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { action: string; actor: string; target?: string; outcome: string });
    const records = lines();
    const create = records.find((r) => r.action === 'vm.create' && r.outcome === 'ok');
    expect(create?.actor).toMatch(/^[0-9a-f]{16}$/);
    expect(records.some((r) => r.action === 'member.join' && r.target === 'n9' && r.outcome === 'ok')).toBe(true);
    expect(records.some((r) => r.action === 'member.join' && r.outcome === 'NODE_JOIN_TOKEN_USED')).toBe(true);
    expect(records.some((r) => r.action === 'member.retire' && r.target === 'n9')).toBe(true);
    expect(records.some((r) => r.outcome === 'NODE_FORBIDDEN')).toBe(true);
    expect(readFileSync(join(dir, 'audit.log'), 'utf8')).not.toContain(sec.token.reveal().split('.')[1]!);
    expect((await admin.audit()).ok).toBe(true);

    // `novacron audit verify` on copies: intact passes; edited, removed, reordered, truncated fail (exit 1).
    const quiet = { out: () => undefined, err: () => undefined };
    const copy = (mutate?: (ls: string[]) => string[]) => {
      const d = tempDir('nc-audit-copy-');
      cpSync(dir, d, { recursive: true });
      if (mutate) {
        const ls = readFileSync(join(d, 'audit.log'), 'utf8').trim().split('\n');
        writeFileSync(join(d, 'audit.log'), `${mutate(ls).join('\n')}\n`);
      }
      return d;
    };
    expect(await runCli(['audit', 'verify', '--dir', copy()], quiet)).toBe(0);
    const edited = (ls: string[]) =>
      ls.map((l, i) => (i === 1 ? l.replace('"outcome":"ok"', '"outcome":"NODE_X"') : l));
    const removed = (ls: string[]) => ls.filter((_, i) => i !== 1);
    const reordered = (ls: string[]) => [ls[1]!, ls[0]!, ...ls.slice(2)];
    const truncated = (ls: string[]) => ls.slice(0, -1);
    for (const [name, m] of Object.entries({ edited, removed, reordered, truncated })) {
      const out: string[] = [];
      const code = await runCli(['audit', 'verify', '--json', '--dir', copy(m)], {
        out: (s) => out.push(s),
        err: () => undefined,
      });
      expect(code, name).toBe(1);
      expect(JSON.parse(out[0]!).ok, name).toBe(false);
    }
  });
});
