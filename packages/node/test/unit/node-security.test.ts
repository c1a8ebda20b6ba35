import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterCa, createNodeCertificate } from '@novacron/amst';
import { isNovacronError, ManualClock, NodeIdentity, type NodeId, nodeFileIO } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bootstrapClusterSecurity,
  type NodeConfigInput,
  NodeSecurity,
  parseKeyring,
  resolveNodeConfig,
  verifyAuditLog,
} from '../../src/index.js';

const dir = (p: string) => mkdtempSync(join(tmpdir(), p));

async function open(
  security: NodeConfigInput['security'],
  extra: Partial<NodeConfigInput> & { name?: string } = {},
  wall = { now: 1_700_000_000_000 },
) {
  const identity = NodeIdentity.generate();
  const { name, ...rest } = extra;
  const config = resolveNodeConfig({
    ...rest,
    node: { dataDir: dir('nc-ns-'), ...(name ? { name } : {}) },
    ...(security ? { security } : {}),
  });
  const s = await NodeSecurity.open({
    config,
    identity,
    nodeId: (name ?? identity.nodeId) as NodeId,
    io: nodeFileIO(),
    clock: new ManualClock(),
    wallClock: () => wall.now,
  });
  return { s, identity, config, wall };
}

describe('NodeSecurity', () => {
  it('with a CA key: issues its own certificate, admits with a join token once, refuses expired, reused and forged tokens (typed, audited)', async () => {
    const files = await bootstrapClusterSecurity(dir('nc-ns-ca-'));
    const wall = { now: Date.now() };
    const { s, config } = await open(files.config, { name: 'n1' }, wall);
    expect(s.tls?.mode).toBe('ca');
    expect(s.canAdmit).toBe(true);
    const joiner = NodeIdentity.generate();
    const admit = (token: string, source = 'a') =>
      s.admit({ token, publicKey: joiner.publicKey, name: 'n2', actor: 'test', source });
    const { token } = await s.joinTokens!.issue({ issuedBy: 'test', ttlMs: 60_000 });
    const ok = await admit(token);
    expect(ok.nodeId).toBe('n2');
    expect(ok.certPem).toContain('BEGIN CERTIFICATE');
    await expect(admit(token)).rejects.toMatchObject({ code: 'NODE_JOIN_TOKEN_USED' });
    const late = await s.joinTokens!.issue({ issuedBy: 'test', ttlMs: 60_000 });
    wall.now += 61_000;
    await expect(admit(late.token)).rejects.toMatchObject({ code: 'NODE_JOIN_TOKEN_EXPIRED' });
    await expect(admit(`ncjt_${'a'.repeat(16)}.${'b'.repeat(43)}`)).rejects.toMatchObject({
      code: 'NODE_JOIN_TOKEN_INVALID',
    });
    // A name shaped like another key's id is refused before the token is used.
    const fresh = await s.joinTokens!.issue({ issuedBy: 'test', ttlMs: 60_000 });
    await expect(
      s.admit({
        token: fresh.token,
        publicKey: joiner.publicKey,
        name: NodeIdentity.generate().nodeId,
        actor: 't',
        source: 'b',
      }),
    ).rejects.toMatchObject({ code: 'NODE_API_BAD_REQUEST' });
    await s.close();
    const report = await verifyAuditLog(nodeFileIO(), join(config.node.dataDir, 'audit'));
    expect(report.ok).toBe(true);
    // token.adopt (bootstrap admin token), member.join ok, then three refusals.
    expect(report.records).toBe(5);
  });

  it('locks out a source after repeated join failures, others still admitted', async () => {
    const files = await bootstrapClusterSecurity(dir('nc-ns-ca-'));
    const { s } = await open({ ...files.config, authFailures: { max: 3, lockoutMs: 60_000 } }, { name: 'n1' });
    const joiner = NodeIdentity.generate();
    const bad = `ncjt_${'c'.repeat(16)}.${'d'.repeat(43)}`;
    const codes: string[] = [];
    for (let i = 0; i < 4; i++)
      codes.push(
        await s.admit({ token: bad, publicKey: joiner.publicKey, actor: 't', source: 'mallory' }).then(
          () => 'ok',
          (e: { code: string }) => e.code,
        ),
      );
    expect(codes).toEqual([
      'NODE_JOIN_TOKEN_INVALID',
      'NODE_JOIN_TOKEN_INVALID',
      'NODE_JOIN_TOKEN_INVALID',
      'NODE_AUTH_RATE_LIMITED',
    ]);
    const { token } = await s.joinTokens!.issue({ issuedBy: 'test' });
    expect((await s.admit({ token, publicKey: joiner.publicKey, actor: 't', source: 'alice' })).nodeId).toBe(
      joiner.nodeId,
    );
    await s.close();
  });

  it('pinned trust: refuses names that are not key-derived ids; accepts seeds and pinned ids only', async () => {
    const { s, identity } = await open({ pinnedPeers: [NodeIdentity.generate().nodeId] });
    expect(s.tls?.mode).toBe('pinned');
    const trust = s.tls!.trust as { isMember: (id: string) => boolean };
    expect(trust.isMember(identity.nodeId)).toBe(true);
    expect(trust.isMember(NodeIdentity.generate().nodeId)).toBe(false);
    await s.close();
    await expect(open({}, { name: 'n1', network: { seeds: ['n2@127.0.0.1:7401'] } })).rejects.toMatchObject({
      code: 'NODE_CONFIG_INVALID',
    });
    // Without a CA and without peers a name is fine (a one-node cluster).
    const single = await open({}, { name: 'edge-1' });
    expect(single.s.tls?.mode).toBe('pinned');
    await single.s.close();
  });

  it('refuses a certificate for another key or from another CA, and a CA key without its certificate', async () => {
    const files = await bootstrapClusterSecurity(dir('nc-ns-ca-'));
    const otherCaId = NodeIdentity.generate();
    const otherCa = await createClusterCa(otherCaId);
    const foreign = await createNodeCertificate(NodeIdentity.generate(), {
      issuer: { identity: otherCaId, certPem: otherCa.certPem },
      name: 'n1',
    });
    const certFile = join(dir('nc-ns-cert-'), 'node.crt');
    writeFileSync(certFile, foreign.certPem);
    await expect(open({ caCertFile: files.caCertFile, certFile }, { name: 'n1' })).rejects.toMatchObject({
      code: 'NODE_CONFIG_INVALID',
    });
    await expect(open({ caKeyFile: files.caKeyFile }, { name: 'n1' })).rejects.toMatchObject({
      code: 'NODE_CONFIG_INVALID',
    });
    await expect(open({ caCertFile: files.caCertFile }, { name: 'n1' })).rejects.toMatchObject({
      code: 'NODE_CONFIG_INVALID',
    });
  });

  it('reads the gossip keyring (first key seals), refusing malformed keyrings', async () => {
    const files = await bootstrapClusterSecurity(dir('nc-ns-ca-'));
    const { s } = await open(files.config, { name: 'n1' });
    expect(s.gossipKeys).toHaveLength(1);
    expect(s.gossipKeys![0]!.key).toHaveLength(32);
    await s.close();
    const k = 'ab'.repeat(32);
    expect(parseKeyring(`# ring\n2:${k}\n\n1:${'cd'.repeat(32)}\n`).map((x) => x.id)).toEqual([2, 1]);
    for (const bad of ['', `0:${k}`, `256:${k}`, `1:${k}\n1:${k}`, '1:abc', `x:${k}`])
      expect(() => parseKeyring(bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'NODE_CONFIG_INVALID' }),
      );
  });

  it('insecure: no TLS, no access control, the audit log still works', async () => {
    const { s } = await open({ insecure: true });
    expect(s.tls).toBeUndefined();
    expect(s.access).toBeUndefined();
    await s.record({ actor: 'system', action: 'test', outcome: 'ok' });
    expect(s.audit.head().seq).toBe(1);
    await s.close();
  });

  it('fuzz: arbitrary join requests and Authorization headers only ever fail typed, and never admit', async () => {
    const files = await bootstrapClusterSecurity(dir('nc-ns-ca-'));
    const { s } = await open({ ...files.config, authFailures: { max: 10_000, lockoutMs: 1 } }, { name: 'n1' });
    const joinish = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .tuple(fc.stringMatching(/^[0-9a-f]{16}$/), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/))
        .map(([id, sec]) => `ncjt_${id}.${sec}`),
    );
    await fc.assert(
      fc.asyncProperty(joinish, fc.uint8Array({ minLength: 32, maxLength: 32 }), async (token, key) => {
        const r = await s.admit({ token, publicKey: key, actor: 'fuzz', source: 'fuzz' }).then(
          () => 'admitted',
          (e: unknown) => (isNovacronError(e) ? e.code : `untyped ${String(e)}`),
        );
        expect(['NODE_JOIN_TOKEN_INVALID', 'NODE_API_BAD_REQUEST']).toContain(r);
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string().map((x) => `Bearer ncat_${x}`),
        ),
        (h) => {
          try {
            s.access!.authenticate(h, 'fuzz');
            expect.unreachable('a random header authenticated');
          } catch (e) {
            expect(isNovacronError(e) && ['NODE_UNAUTHENTICATED', 'NODE_AUTH_RATE_LIMITED'].includes(e.code)).toBe(
              true,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
    await s.close();
  });
});
