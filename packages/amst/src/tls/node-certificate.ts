import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import {
  type NodeId,
  NodeIdentity,
  NovacronError,
  assertNumber,
  invalidArgument,
  isDerivedNodeId,
  nodeIdFromPublicKey,
} from '@novacron/core';
import { AmstErrorCode } from '../errors.js';

/**
 * PEM credentials for one TLS endpoint: the node's private key and its
 * certificate (self-signed, or issued by a cluster CA).
 */
export interface TlsCredentials {
  /** PKCS#8 PEM of the node's Ed25519 key: a secret, never log it. */
  readonly keyPem: string;
  /** The node's X.509 certificate, PEM. */
  readonly certPem: string;
}

/** Options of {@link createNodeCertificate}. */
export interface NodeCertificateOptions {
  /**
   * The cluster CA that signs the certificate. Without it the certificate is
   * self-signed and peers trust it by pinning the node id (which derives
   * from the public key).
   */
  readonly issuer?: { readonly identity: NodeIdentity; readonly certPem: string };
  /** Validity in days from now (default 365). */
  readonly validityDays?: number;
  /** Wall-clock milliseconds since the epoch (default `Date.now()`); certificates carry wall time. */
  readonly now?: number;
  /**
   * The node's name in the cluster (subject CN), only with `issuer`: a CA
   * may vouch that a key speaks for a chosen name (`n1`, `edge-7`). Default
   * and self-signed: the id derived from the key.
   */
  readonly name?: string;
}

/** The DER prefix that turns a 32-byte Ed25519 seed into PKCS#8 (RFC 8410). */
const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const ED25519 = { name: 'Ed25519' } as const;
/** Certificates are back-dated this much so peers with slightly slow clocks accept a fresh one. */
const BACKDATE_MS = 5 * 60_000;

type X509Module = typeof import('@peculiar/x509');
let x509Module: Promise<X509Module> | undefined;

/**
 * Loads @peculiar/x509 on first use. It needs the `reflect-metadata`
 * polyfill, which patches the global `Reflect`; loading both lazily keeps
 * importing amst free of side effects for programs that never make a
 * certificate.
 */
function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    await import('reflect-metadata');
    const mod = await import('@peculiar/x509');
    mod.cryptoProvider.set(webcrypto as unknown as Parameters<typeof mod.cryptoProvider.set>[0]);
    return mod;
  })();
  return x509Module;
}

function pkcs8(identity: NodeIdentity): Uint8Array {
  const seed = identity.exportSecretKey();
  const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + seed.length);
  der.set(ED25519_PKCS8_PREFIX);
  der.set(seed, ED25519_PKCS8_PREFIX.length);
  seed.fill(0);
  return der;
}

type WebKeyPair = { privateKey: webcrypto.CryptoKey; publicKey: webcrypto.CryptoKey };

async function webKeys(identity: NodeIdentity): Promise<WebKeyPair> {
  const der = pkcs8(identity);
  try {
    const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ED25519, false, ['sign']);
    const publicKey = await webcrypto.subtle.importKey('raw', identity.publicKey, ED25519, true, ['verify']);
    return { privateKey, publicKey };
  } finally {
    der.fill(0);
  }
}

/** PKCS#8 PEM of a node identity's Ed25519 key, as node:tls takes it. */
export function identityKeyPem(identity: NodeIdentity): string {
  const der = pkcs8(identity);
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
      .export({ format: 'pem', type: 'pkcs8' })
      .toString();
  } finally {
    der.fill(0);
  }
}

function validity(options: { validityDays?: number; now?: number }): { notBefore: Date; notAfter: Date } {
  const days = options.validityDays ?? 365;
  assertNumber('options.validityDays', days, { min: 1 / 24, max: 36_500 });
  const now = options.now ?? Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * 86_400_000) };
}

const serial = (): string => {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // a positive INTEGER
  return b.toString('hex');
};

/**
 * Creates a cluster certificate authority from an Ed25519 identity (the CA's
 * own key; keep it offline or on the admin's machine). Nodes whose
 * certificates it signs are trusted by every node configured with this CA
 * certificate.
 */
export async function createClusterCa(
  identity: NodeIdentity,
  options: { readonly name?: string; readonly validityDays?: number; readonly now?: number } = {},
): Promise<TlsCredentials> {
  const x509 = await loadX509();
  const keys = await webKeys(identity);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeDn(options.name ?? `novacron-ca-${identity.nodeId}`)}`,
    ...validity({
      validityDays: options.validityDays ?? 3650,
      ...(options.now === undefined ? {} : { now: options.now }),
    }),
    signingAlgorithm: ED25519,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keyPem: identityKeyPem(identity), certPem: cert.toString('pem') };
}

/**
 * Creates the TLS certificate of a node: its Ed25519 identity key, subject
 * `CN=<node id>` (or `options.name` when a CA issues it), usable as both TLS
 * client and server (every link is mutually authenticated). Self-signed
 * unless `options.issuer` is given.
 */
export async function createNodeCertificate(
  identity: NodeIdentity,
  options: NodeCertificateOptions = {},
): Promise<TlsCredentials> {
  if (options.issuer === undefined) {
    if (options.name !== undefined)
      throw invalidArgument(
        'options.name',
        'only with options.issuer (a self-signed certificate names its key)',
        options.name,
      );
    const x509 = await loadX509();
    const keys = await webKeys(identity);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${identity.nodeId}`,
      ...validity(options),
      signingAlgorithm: ED25519,
      keys,
      extensions: nodeExtensions(x509),
    });
    return { keyPem: identityKeyPem(identity), certPem: cert.toString('pem') };
  }
  const certPem = await issueNodeCertificate(identity.publicKey, { ...options, issuer: options.issuer });
  return { keyPem: identityKeyPem(identity), certPem };
}

function nodeExtensions(x509: X509Module) {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
  ];
}

/**
 * Issues a node certificate (PEM) for a public key the CA never sees the
 * private half of: how a cluster admits a joining node. Subject
 * `CN=<options.name>` (default: the id derived from `publicKey`).
 */
export async function issueNodeCertificate(
  publicKey: Uint8Array,
  options: Omit<NodeCertificateOptions, 'issuer'> & {
    readonly issuer: { readonly identity: NodeIdentity; readonly certPem: string };
  },
): Promise<string> {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32)
    throw invalidArgument('publicKey', 'a 32-byte Ed25519 public key', publicKey);
  const derived = nodeIdFromPublicKey(publicKey);
  const name = options.name ?? derived;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(name))
    throw invalidArgument('options.name', 'a node name of 1-128 characters [A-Za-z0-9._-]', name);
  if (isDerivedNodeId(name) && name !== derived)
    throw invalidArgument('options.name', "this key's node id, or a name that is not a node id", name);
  const x509 = await loadX509();
  const subjectKey = await webcrypto.subtle.importKey('raw', publicKey, ED25519, true, ['verify']);
  const issuerCert = new x509.X509Certificate(options.issuer.certPem);
  const issuerKeys = await webKeys(options.issuer.identity);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}`,
    issuer: issuerCert.subject,
    ...validity(options),
    signingAlgorithm: ED25519,
    publicKey: subjectKey,
    signingKey: issuerKeys.privateKey,
    extensions: [...nodeExtensions(x509), await x509.AuthorityKeyIdentifierExtension.create(issuerKeys.publicKey)],
  });
  return cert.toString('pem');
}

/**
 * The identity whose key a PKCS#8 PEM holds (the inverse of
 * {@link identityKeyPem}): how a node loads a cluster CA key file.
 * `CORE_INVALID_ARGUMENT` for anything but an Ed25519 private key.
 */
export function identityFromKeyPem(pem: string): NodeIdentity {
  let d: string | undefined;
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    if (key.asymmetricKeyType === 'ed25519') d = (key.export({ format: 'jwk' }) as { d?: string }).d;
  } catch {
    d = undefined;
  }
  if (d === undefined) throw invalidArgument('pem', 'a PKCS#8 PEM Ed25519 private key', '[key]');
  const seed = new Uint8Array(Buffer.from(d, 'base64url'));
  try {
    return NodeIdentity.fromSecretKey(seed);
  } finally {
    seed.fill(0);
  }
}

function escapeDn(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
}

/**
 * The node a peer certificate speaks for: the id derived from its Ed25519
 * public key, which must also be its subject CN. `AMST_TLS_PEER_REJECTED`
 * for any other key type or a CN naming another node, since node ids are
 * only meaningful when they derive from the key that proved possession in
 * the handshake.
 */
export function nodeIdOfCertificate(cert: X509Certificate): NodeId {
  const key = cert.publicKey;
  if (key.asymmetricKeyType !== 'ed25519')
    throw rejected(`peer certificate has a ${key.asymmetricKeyType ?? 'unknown'} key; node certificates are Ed25519`);
  const jwk = key.export({ format: 'jwk' }) as { x?: string };
  if (typeof jwk.x !== 'string') throw rejected('peer certificate key cannot be read');
  const nodeId = nodeIdFromPublicKey(new Uint8Array(Buffer.from(jwk.x, 'base64url')));
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  if (cn !== nodeId)
    throw rejected(`peer certificate subject ${JSON.stringify(cn ?? '')} does not name its key's node ${nodeId}`);
  return nodeId;
}

/**
 * The node a certificate issued by a trusted cluster CA speaks for: its
 * subject CN. A CN shaped like a derived node id must still be the id of
 * the certificate's key (so a CA-issued certificate cannot borrow another
 * key's id); any other CN is a name the CA vouched for (`n1`). Only call
 * this for a chain OpenSSL has verified against the cluster CA.
 */
export function nodeNameOfCaCertificate(cert: X509Certificate): NodeId {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  if (cn === undefined || !/^[A-Za-z0-9._-]{1,128}$/.test(cn))
    throw rejected(`peer certificate subject ${JSON.stringify(cn ?? '')} is not a node name`);
  if (isDerivedNodeId(cn)) return nodeIdOfCertificate(cert);
  if (cert.publicKey.asymmetricKeyType !== 'ed25519')
    throw rejected(
      `peer certificate has a ${cert.publicKey.asymmetricKeyType ?? 'unknown'} key; node certificates are Ed25519`,
    );
  return cn as NodeId;
}

/** Parses a PEM certificate (`CORE_INVALID_ARGUMENT` when it is not one). */
export function parseCertificate(name: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw invalidArgument(name, 'a PEM X.509 certificate', typeof pem === 'string' ? `${pem.slice(0, 40)}…` : pem);
  }
}

function rejected(message: string): NovacronError {
  return new NovacronError(AmstErrorCode.TLS_PEER_REJECTED, message, { details: { reason: 'certificate' } });
}
