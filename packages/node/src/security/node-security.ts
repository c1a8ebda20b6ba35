import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import {
  type ClusterKey,
  createNodeCertificate,
  identityFromKeyPem,
  identityKeyPem,
  issueNodeCertificate,
  nodeIdOfCertificate,
  type TlsCredentials,
  type TlsTrust,
} from '@novacron/amst';
import {
  type Clock,
  type FileIO,
  isDerivedNodeId,
  type Logger,
  type NodeId,
  type NodeIdentity,
  NovacronError,
  nodeIdFromPublicKey,
  atomicWriteFile,
} from '@novacron/core';
import type { NodeConfig } from '../config/schema.js';
import { NodeErrorCode, nodeError } from '../errors.js';
import { ApiAccess, type ApiTokenRecord } from './api-access.js';
import { AuditLog, type AuditEvent } from './audit-log.js';
import { AuthRateLimiter } from './auth-rate-limiter.js';
import { JoinTokenStore } from './join-tokens.js';
import { readSecret } from './secret.js';
import { SecurityErrorCode } from './security-errors.js';
import { fileTokenPersistence } from './token-persistence.js';

/** TLS settings of this node, for any transport that carries cluster data (peer network, migration data). */
export interface NodeTlsSettings {
  /** This node's key and certificate: pass to `TlsTransport`'s `credentials`. A secret: never log it. */
  readonly credentials: TlsCredentials;
  /** Which peers to accept: pass to `TlsTransport`'s `trust`. */
  readonly trust: TlsTrust;
  /** `ca` (a cluster CA vouches for names) or `pinned` (peers named by their key-derived ids). */
  readonly mode: 'ca' | 'pinned';
}

/** What {@link NodeSecurity.open} needs. */
export interface NodeSecurityInit {
  readonly config: NodeConfig;
  readonly identity: NodeIdentity;
  /** The node's id in the cluster (`node.name`, or the key-derived id). */
  readonly nodeId: NodeId;
  readonly io: FileIO;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** Token records issued elsewhere in the cluster (the control log replica). */
  readonly tokenLookup?: (id: string) => ApiTokenRecord | undefined;
  /** True for members retired from the cluster: peers refuse their certificates even when otherwise valid. */
  readonly isRetired?: (nodeId: string) => boolean;
  /** Wall clock for certificates and tokens (default `Date.now`). */
  readonly wallClock?: () => number;
  /** Environment for `NOVACRON_JOIN_TOKEN` (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/** The answer of `POST /v1/cluster/join`. */
export interface JoinResponse {
  /** The node's certificate, issued by the cluster CA for the key it presented. */
  readonly certPem: string;
  /** The cluster CA certificate. */
  readonly caCertPem: string;
  /** The name the certificate carries. */
  readonly nodeId: string;
}

/** The file a joined node keeps its CA-issued certificate in. */
export const JOINED_CERT_FILE = 'node.crt';

/**
 * The node's security state, built once at start from the `security`
 * configuration block: its TLS credentials and trust for peer links, API
 * access (bearer tokens, roles, failure rate limits), the audit log, and —
 * on nodes holding the cluster CA key — join tokens and certificate
 * issuance. With `security.insecure` only the audit log remains.
 */
export class NodeSecurity {
  private constructor(
    private readonly init: NodeSecurityInit,
    /** The TLS settings, undefined when `security.insecure`. */
    readonly tls: NodeTlsSettings | undefined,
    /** API access control, undefined when `security.insecure` (the API is then open). */
    readonly access: ApiAccess | undefined,
    /** The audit log every mutating call and membership change is appended to. */
    readonly audit: AuditLog,
    /** Join tokens, on nodes that hold the CA key. */
    readonly joinTokens: JoinTokenStore | undefined,
    /** Failed authentications (API tokens and join tokens) per client address. */
    readonly limiter: AuthRateLimiter | undefined,
    /**
     * The cluster keyring for sealed UDP gossip (`sealedPeerNetwork({ keys })`), from
     * `security.gossipKeyFile`; undefined when unset or insecure. Secret: never log it.
     */
    readonly gossipKeys: readonly ClusterKey[] | undefined,
    private readonly ca: { readonly identity: NodeIdentity; readonly certPem: string } | undefined,
  ) {}

  /**
   * Resolves credentials and trust (issuing this node's certificate with
   * the CA key, or joining with a join token, when it has none), opens the
   * token tables and the audit log (verifying it), and writes the bootstrap
   * admin token file if it does not exist yet. Typed errors:
   * `NODE_CONFIG_INVALID` (an inconsistent `security` block),
   * `NODE_SECRET_UNAVAILABLE` (an unreadable key or token file),
   * `NODE_AUDIT_TAMPERED`, the join token codes.
   */
  static async open(init: NodeSecurityInit): Promise<NodeSecurity> {
    const { config, io } = init;
    const s = config.security;
    const dataDir = config.node.dataDir;
    const auditDir = s.auditDir ?? join(dataDir, 'audit');
    await io.mkdir(auditDir);
    const audit = await AuditLog.open({
      io,
      dir: auditDir,
      identity: init.identity,
      ...(init.wallClock ? { wallClock: init.wallClock } : {}),
    });
    if (s.insecure) {
      init.logger?.warn('security.insecure: peer links are plaintext and the API is open', {});
      return new NodeSecurity(init, undefined, undefined, audit, undefined, undefined, undefined, undefined);
    }
    const ca =
      s.caKeyFile !== undefined && s.caCertFile !== undefined
        ? {
            identity: identityFromKeyPem(readSecret({ name: 'security.caKeyFile', file: s.caKeyFile }).reveal()),
            certPem: readPem('security.caCertFile', s.caCertFile),
          }
        : undefined;
    if (s.caKeyFile !== undefined && s.caCertFile === undefined)
      throw invalidConfig('security.caKeyFile', 'set', 'security.caCertFile as well (the CA certificate)');
    const tls = await resolveTls(init, ca);
    const limiter = new AuthRateLimiter({
      maxFailures: s.authFailures.max,
      lockoutMs: s.authFailures.lockoutMs,
      maxLockoutMs: Math.max(s.authFailures.lockoutMs, 15 * 60_000),
      clock: init.clock,
    });
    const access = await ApiAccess.open({
      persistence: fileTokenPersistence<ApiTokenRecord>(io, join(dataDir, 'api-tokens.json')),
      limiter,
      ...(init.wallClock ? { wallClock: init.wallClock } : {}),
      ...(init.tokenLookup ? { lookup: init.tokenLookup } : {}),
    });
    await bootstrapAdminToken(init, access, audit);
    const joinTokens =
      ca === undefined
        ? undefined
        : await JoinTokenStore.open({
            persistence: fileTokenPersistence(io, join(dataDir, 'join-tokens.json')),
            ...(init.wallClock ? { wallClock: init.wallClock } : {}),
          });
    const gossipKeys = s.gossipKeyFile === undefined ? undefined : readKeyring(s.gossipKeyFile);
    return new NodeSecurity(init, tls, access, audit, joinTokens, limiter, gossipKeys, ca);
  }

  /** True when this node holds the CA key and can admit nodes. */
  get canAdmit(): boolean {
    return this.ca !== undefined && this.joinTokens !== undefined;
  }

  /**
   * Admits a node: uses up `token` (single-use, expiring) and issues a
   * certificate for `publicKey` named `name` (default: the key's id), both
   * recorded in the audit log. `NODE_JOIN_TOKEN_*` for a bad token;
   * `NODE_FORBIDDEN` on a node without the CA key.
   */
  async admit(request: {
    token: string;
    publicKey: Uint8Array;
    name?: string;
    actor: string;
    /** Client address: failures count towards its lockout. */
    source: string;
  }): Promise<JoinResponse> {
    if (this.ca === undefined || this.joinTokens === undefined)
      throw new NovacronError(SecurityErrorCode.FORBIDDEN, 'this node does not hold the cluster CA key', {});
    const wait = this.limiter?.retryAfter(request.source) ?? 0;
    if (wait > 0)
      throw new NovacronError(SecurityErrorCode.AUTH_RATE_LIMITED, 'too many failed attempts; try again later', {
        details: { retryAfterMs: wait },
      });
    const derived = nodeIdFromPublicKey(request.publicKey);
    const name = request.name ?? derived;
    if (isDerivedNodeId(name) && name !== derived)
      throw nodeError(NodeErrorCode.API_BAD_REQUEST, 'name is a node id derived from another key', {
        issues: [{ path: 'name', message: 'a node id of another key', code: 'custom' }],
      });
    let used: Awaited<ReturnType<JoinTokenStore['consume']>>;
    try {
      used = await this.joinTokens.consume(request.token, name);
    } catch (err) {
      this.limiter?.fail(request.source);
      await this.record({
        actor: request.actor,
        action: 'member.join',
        target: name,
        outcome: err instanceof NovacronError ? err.code : 'error',
      });
      throw err;
    }
    const certPem = await issueNodeCertificate(request.publicKey, {
      issuer: this.ca,
      name,
      ...(this.init.wallClock ? { now: this.init.wallClock() } : {}),
    });
    await this.record({
      actor: request.actor,
      action: 'member.join',
      target: name,
      outcome: 'ok',
      details: { joinToken: used.id, keyId: derived },
    });
    return { certPem, caCertPem: this.ca.certPem, nodeId: name };
  }

  /** Appends to the audit log; a failure to record is logged, never hidden from the caller's result. */
  async record(event: AuditEvent): Promise<void> {
    await this.audit.append(event);
  }

  /** Closes the audit log. */
  async close(): Promise<void> {
    await this.audit.close();
  }
}

/** Parses a gossip keyring file: `id:hex` per line (blank lines and `#` comments ignored). */
export function parseKeyring(text: string): ClusterKey[] {
  const keys: ClusterKey[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\d{1,3}):([0-9a-fA-F]{64})$/.exec(line);
    const id = m ? Number(m[1]) : Number.NaN;
    if (!m || id < 1 || id > 255 || keys.some((k) => k.id === id))
      throw invalidConfig(
        'security.gossipKeyFile',
        `line ${i + 1}`,
        'lines `id:key` with a unique id 1-255 and 64 hex digits',
      );
    keys.push({ id, key: new Uint8Array(Buffer.from(m[2]!, 'hex')) });
  }
  if (keys.length === 0) throw invalidConfig('security.gossipKeyFile', 'empty', 'at least one `id:key` line');
  return keys;
}

function readKeyring(file: string): ClusterKey[] {
  return parseKeyring(readSecret({ name: 'security.gossipKeyFile', file }).reveal());
}

function readPem(name: string, file: string): string {
  return readSecret({ name, file }).reveal();
}

function invalidConfig(path: string, value: unknown, expected: string): NovacronError {
  return nodeError(NodeErrorCode.CONFIG_INVALID, `invalid configuration:\n  ${path}: expected ${expected}`, {
    issues: [{ path, value, expected, source: 'programmatic' }],
  });
}

async function resolveTls(
  init: NodeSecurityInit,
  ca: { readonly identity: NodeIdentity; readonly certPem: string } | undefined,
): Promise<NodeTlsSettings> {
  const { config, identity, nodeId, io } = init;
  const s = config.security;
  const retired = init.isRetired ?? (() => false);
  const seedIds = config.network.seeds.map((x) => x.slice(0, x.indexOf('@')));
  if (s.caCertFile === undefined) {
    // Pinned: peers are named by the ids their keys derive to, so a name cannot be vouched for.
    const named = [nodeId, ...seedIds].filter((id) => !isDerivedNodeId(id) && id !== nodeId);
    if (nodeId !== identity.nodeId && seedIds.some((id) => id !== nodeId))
      throw invalidConfig(
        'node.name',
        nodeId,
        `unset (pinned trust names nodes by key-derived ids such as ${identity.nodeId}), or a cluster CA in security.caCertFile`,
      );
    if (named.length > 0)
      throw invalidConfig(
        'network.seeds',
        named,
        'key-derived node ids (nc...) when no cluster CA is configured (security.caCertFile)',
      );
    const pinned = new Set<string>([identity.nodeId, ...seedIds, ...s.pinnedPeers]);
    return {
      mode: 'pinned',
      credentials: await createNodeCertificate(identity, { now: (init.wallClock ?? Date.now)() }),
      trust: { kind: 'pinned', isMember: (id) => pinned.has(id) && !retired(id) },
    };
  }
  const caCertPem = readPem('security.caCertFile', s.caCertFile);
  const joinedPath = join(config.node.dataDir, JOINED_CERT_FILE);
  let certPem: string | undefined;
  if (s.certFile !== undefined) certPem = readPem('security.certFile', s.certFile);
  else if ((await io.stat(joinedPath)) !== undefined) certPem = new TextDecoder().decode(await io.readFile(joinedPath));
  if (certPem !== undefined) checkOwnCertificate(certPem, caCertPem, identity, nodeId);
  else if (ca !== undefined)
    certPem = await issueNodeCertificate(identity.publicKey, {
      issuer: ca,
      name: nodeId,
      ...(init.wallClock ? { now: init.wallClock() } : {}),
    });
  else if (s.join.url !== undefined) {
    certPem = await join_(init, caCertPem);
    await atomicWriteFile(io, joinedPath, new TextEncoder().encode(certPem), { mode: 0o600 });
  } else
    throw invalidConfig(
      'security.certFile',
      undefined,
      'a certificate for this node: security.certFile, security.caKeyFile (issue one), or security.join.url with a join token',
    );
  return {
    mode: 'ca',
    credentials: { keyPem: identityKeyPem(identity), certPem },
    trust: { kind: 'ca', caCertPem, isMember: (id) => !retired(id) },
  };
}

/** The node's own certificate must be issued by the CA, for its key, under its name. */
function checkOwnCertificate(certPem: string, caCertPem: string, identity: NodeIdentity, nodeId: NodeId): void {
  let cert: X509Certificate;
  let caCert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    caCert = new X509Certificate(caCertPem);
  } catch {
    throw invalidConfig('security.certFile', '[certificate]', 'PEM X.509 certificates');
  }
  if (!cert.verify(caCert.publicKey))
    throw invalidConfig('security.certFile', cert.subject, 'a certificate issued by security.caCertFile');
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  let keyId: string | undefined;
  try {
    keyId = isDerivedNodeId(cn) ? nodeIdOfCertificate(cert) : undefined;
  } catch {
    keyId = undefined;
  }
  const jwk = cert.publicKey.export({ format: 'jwk' }) as { x?: string };
  const samekey = jwk.x !== undefined && Buffer.from(jwk.x, 'base64url').equals(Buffer.from(identity.publicKey));
  if (!samekey || cn !== nodeId || (isDerivedNodeId(cn) && keyId !== cn))
    throw invalidConfig(
      'security.certFile',
      cn,
      `a certificate for this node's key named ${nodeId} (set node.name to the certificate's name)`,
    );
}

/** Asks a CA-holding member for a certificate with a single-use join token. */
async function join_(init: NodeSecurityInit, caCertPem: string): Promise<string> {
  const s = init.config.security;
  const token = readSecret(
    { name: 'join token', ...(s.join.tokenFile ? { file: s.join.tokenFile } : {}), env: 'NOVACRON_JOIN_TOKEN' },
    init.env ?? process.env,
  );
  const url = new URL('/v1/cluster/join', s.join.url);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: token.reveal(),
        publicKey: Buffer.from(init.identity.publicKey).toString('hex'),
        ...(init.nodeId !== init.identity.nodeId ? { name: init.nodeId } : {}),
      }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (cause) {
    throw nodeError(NodeErrorCode.CLIENT_UNREACHABLE, `cannot reach ${url.origin} to join`, { url: url.origin }, cause);
  }
  const body = (await res.json().catch(() => undefined)) as
    | { certPem?: string; error?: { code: string; message: string; details?: Record<string, unknown> } }
    | undefined;
  if (!res.ok || typeof body?.certPem !== 'string') {
    const e = body?.error;
    throw new NovacronError(e?.code ?? NodeErrorCode.CLIENT_BAD_RESPONSE, `join refused: ${e?.message ?? res.status}`, {
      details: { status: res.status, ...(e?.details ?? {}) },
    });
  }
  // The certificate must chain to the CA this node was configured with: a
  // man in the middle cannot hand over a certificate from another CA.
  checkOwnCertificate(body.certPem, caCertPem, init.identity, init.nodeId);
  return body.certPem;
}

/**
 * Every node of a cluster accepts one bootstrap admin token: the first
 * node to start without the file writes a fresh one (mode 0600); nodes
 * finding the file adopt it (only its hash is kept).
 */
async function bootstrapAdminToken(init: NodeSecurityInit, access: ApiAccess, audit: AuditLog): Promise<void> {
  const { io, config } = init;
  const file = config.security.apiTokenFile ?? join(config.node.dataDir, 'admin.token');
  if ((await io.stat(file)) !== undefined) {
    const token = readSecret({ name: 'security.apiTokenFile', file }).reveal();
    const before = access.list().length;
    const r = await access.adopt(token, { role: 'admin', name: 'bootstrap' });
    if (access.list().length > before)
      await audit.append({
        actor: 'system',
        action: 'token.adopt',
        target: r.id,
        outcome: 'ok',
        details: { role: 'admin' },
      });
    return;
  }
  const { token, record } = await access.issue({ role: 'admin', name: 'bootstrap' });
  await atomicWriteFile(io, file, new TextEncoder().encode(`${token}\n`), { mode: 0o600 });
  await audit.append({
    actor: 'system',
    action: 'token.issue',
    target: record.id,
    outcome: 'ok',
    details: { role: 'admin', name: 'bootstrap' },
  });
}
