import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NodeErrorCode, nodeError } from '../errors.js';
import { readSecret, type Secret } from '../security/secret.js';

/** Bytes of a cluster key (ChaCha20-Poly1305 keys are 32 bytes). */
export const CLUSTER_KEY_BYTES = 32;
/** Name of the key file in a data directory when none is configured. */
export const CLUSTER_KEY_FILE = 'cluster.key';

/**
 * Parses a cluster key: 64 hex digits, or 32 bytes in base64. Throws
 * `NODE_CLUSTER_KEY_INVALID` naming `source` (never the value).
 */
export function parseClusterKey(secret: Secret, source: string): Uint8Array {
  const text = secret.reveal().trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text))
    key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
  if (key?.length !== CLUSTER_KEY_BYTES)
    throw nodeError(
      NodeErrorCode.CLUSTER_KEY_INVALID,
      `the cluster key from ${source} must be ${CLUSTER_KEY_BYTES} bytes as 64 hex digits or base64`,
      { source },
    );
  return new Uint8Array(key);
}

/**
 * Writes a new random cluster key to `path` (64 hex digits, mode 0600,
 * fsync'd; the file must not exist yet, so a key is never overwritten) and
 * returns it.
 */
export function createClusterKeyFile(path: string): Uint8Array {
  const key = randomBytes(CLUSTER_KEY_BYTES);
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('hex')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return new Uint8Array(key);
}

/** Where {@link loadClusterKey} looks. */
export interface ClusterKeySource {
  /** Configured key file (`gossip.keyFile`): must exist. */
  readonly keyFile?: string;
  /** Environment variable (`gossip.keyEnv`), read when no key file is configured. */
  readonly keyEnv: string;
  /** The node's data directory: `<dataDir>/cluster.key` is the fallback. */
  readonly dataDir: string;
  /** True when this node is the first of its cluster (no other seeds): it may create the key. */
  readonly mayCreate: boolean;
}

/**
 * The cluster key, in order: the configured key file; the environment
 * variable; `<dataDir>/cluster.key`; a new key written there when this node
 * may create one. Otherwise `NODE_SECRET_UNAVAILABLE`: a node joining
 * others must be given their key (a fresh one would fail every datagram's
 * authentication and never join).
 */
export function loadClusterKey(
  source: ClusterKeySource,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Uint8Array {
  if (source.keyFile !== undefined)
    return parseClusterKey(readSecret({ name: 'cluster key', file: source.keyFile }), source.keyFile);
  if (environment[source.keyEnv])
    return parseClusterKey(readSecret({ name: 'cluster key', env: source.keyEnv }, environment), source.keyEnv);
  const fallback = join(source.dataDir, CLUSTER_KEY_FILE);
  if (existsSync(fallback) || !source.mayCreate)
    return parseClusterKey(
      readSecret({ name: 'cluster key (gossip.keyFile, or the variable in gossip.keyEnv)', file: fallback }),
      fallback,
    );
  return createClusterKeyFile(fallback);
}
