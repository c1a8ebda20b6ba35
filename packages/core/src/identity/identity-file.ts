import { dirname } from 'node:path';
import { fromHex, toHex } from '../bytes.js';
import { contentId } from '../checksum.js';
import { CoreErrorCode } from '../errors/codes.js';
import { isNovacronError, NovacronError } from '../errors/novacron-error.js';
import { atomicWriteFile } from '../fs/atomic-write.js';
import type { FileIO } from '../fs/file-io.js';
import type { Rng } from '../random/rng.js';
import { assertObject, assertString, invalidArgument } from '../validate.js';
import type { NodeId } from './node-id.js';
import { NodeIdentity, nodeIdFromPublicKey } from './node-identity.js';

/** The `format` tag of a NovaCron identity file. */
export const IDENTITY_FILE_FORMAT = 'novacron-identity';
/** The identity file version this code writes and reads. */
export const IDENTITY_FILE_VERSION = 1;
/** The key algorithm an identity file of {@link IDENTITY_FILE_VERSION} holds. */
export const IDENTITY_FILE_ALGORITHM = 'ed25519';
/** Permission bits of a saved identity file: owner read/write only. */
export const IDENTITY_FILE_MODE = 0o600;
/** Files larger than this are rejected unread (a real one is under 400 bytes). */
export const IDENTITY_FILE_MAX_BYTES = 4096;

/**
 * The identity file as stored (JSON, UTF-8, one object). Keys are lowercase
 * hex. `checksum` is the content id of the canonical JSON array
 * `[format, version, algorithm, nodeId, publicKey, secretKey]`, so any edit
 * or bit flip of a field is detected.
 */
export interface IdentityFileV1 {
  /** Always {@link IDENTITY_FILE_FORMAT}. */
  readonly format: typeof IDENTITY_FILE_FORMAT;
  /** Always 1. */
  readonly version: typeof IDENTITY_FILE_VERSION;
  /** Always {@link IDENTITY_FILE_ALGORITHM}. */
  readonly algorithm: typeof IDENTITY_FILE_ALGORITHM;
  /** The node id derived from `publicKey`. */
  readonly nodeId: string;
  /** 32-byte public key, 64 hex digits. */
  readonly publicKey: string;
  /** 32-byte secret key (RFC 8032 seed), 64 hex digits. */
  readonly secretKey: string;
  /** `sha256:` + hex over the canonical fields (see above). */
  readonly checksum: string;
}

/** Options for {@link loadIdentity} and {@link decodeIdentityFile}. */
export interface LoadIdentityOptions {
  /** When set, a file holding any other node's key is `CORE_IDENTITY_KEY_FOREIGN`. */
  expectedNodeId?: NodeId;
}

/** Options for {@link saveIdentity}. */
export interface SaveIdentityOptions {
  /** Seeded source for the temporary file name (simulations); default `node:crypto`. */
  rng?: Rng;
}

/** Options for {@link loadOrCreateIdentity}. */
export interface LoadOrCreateIdentityOptions extends LoadIdentityOptions, SaveIdentityOptions {}

/** Details of `CORE_IDENTITY_KEY_*` errors. They never contain key bytes. */
export interface IdentityFileErrorDetails {
  readonly [key: string]: unknown;
  /** The file, when one was read. */
  readonly path?: string;
  /** A short machine-readable reason (`checksum-mismatch`, `format`, ...). */
  readonly reason: string;
}

const KEY_HEX = /^[0-9a-f]{64}$/;

function canonicalChecksum(fields: readonly [string, number, string, string, string, string]): string {
  return contentId(new TextEncoder().encode(JSON.stringify(fields)));
}

function corrupt(path: string | undefined, reason: string, message: string): NovacronError {
  const details: IdentityFileErrorDetails = path === undefined ? { reason } : { path, reason };
  return new NovacronError(CoreErrorCode.IDENTITY_KEY_CORRUPT, `identity file${path ? ` ${path}` : ''}: ${message}`, {
    details,
  });
}

function foreign(
  path: string | undefined,
  reason: string,
  message: string,
  extra: Record<string, unknown> = {},
): NovacronError {
  const details: IdentityFileErrorDetails = { ...(path === undefined ? {} : { path }), reason, ...extra };
  return new NovacronError(CoreErrorCode.IDENTITY_KEY_FOREIGN, `identity file${path ? ` ${path}` : ''}: ${message}`, {
    details,
  });
}

/**
 * A rendering of a foreign file's format, version or algorithm for messages
 * and details. Only short identifier-like strings and numbers are echoed:
 * anything else could be key material of some other tool's file.
 */
function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(value)) return JSON.stringify(value);
  return value === undefined ? 'missing' : `a ${value === null ? 'null' : typeof value} value`;
}

/**
 * The bytes of `identity`'s key file (see {@link IdentityFileV1}). The
 * result contains the secret key: write it only through
 * {@link saveIdentity} or an equally protected store.
 */
export function encodeIdentityFile(identity: NodeIdentity): Uint8Array {
  if (!(identity instanceof NodeIdentity)) throw invalidArgument('identity', 'a NodeIdentity', identity);
  const publicKey = toHex(identity.publicKey);
  const secretKey = toHex(identity.exportSecretKey());
  const body: IdentityFileV1 = {
    format: IDENTITY_FILE_FORMAT,
    version: IDENTITY_FILE_VERSION,
    algorithm: IDENTITY_FILE_ALGORITHM,
    nodeId: identity.nodeId,
    publicKey,
    secretKey,
    checksum: canonicalChecksum([
      IDENTITY_FILE_FORMAT,
      IDENTITY_FILE_VERSION,
      IDENTITY_FILE_ALGORITHM,
      identity.nodeId,
      publicKey,
      secretKey,
    ]),
  };
  return new TextEncoder().encode(`${JSON.stringify(body, null, 2)}\n`);
}

/**
 * Parses and checks the bytes of an identity file. `path` only labels errors.
 *
 * @throws `CORE_IDENTITY_KEY_CORRUPT` for bytes that are not a complete,
 *   self-consistent identity file (bad UTF-8 or JSON, missing or malformed
 *   fields, checksum mismatch, public key or node id not matching the secret
 *   key); `CORE_IDENTITY_KEY_FOREIGN` for a well-formed file of another
 *   format, version or algorithm, or of a node other than
 *   `options.expectedNodeId`.
 */
export function decodeIdentityFile(
  bytes: Uint8Array,
  options: LoadIdentityOptions & { path?: string } = {},
): NodeIdentity {
  const { path } = options;
  if (bytes.length > IDENTITY_FILE_MAX_BYTES) {
    throw corrupt(path, 'too-large', `${bytes.length} bytes exceeds ${IDENTITY_FILE_MAX_BYTES}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    // The parser's message quotes the input, which may hold the secret key,
    // so it is deliberately not attached as the cause.
    throw corrupt(path, 'not-json', 'not a UTF-8 JSON document (truncated or overwritten?)');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw corrupt(path, 'not-object', 'not a JSON object');
  }
  const file = parsed as Record<string, unknown>;

  // Identify the format before demanding its fields, so another tool's or a
  // newer version's file reads as foreign rather than damaged.
  if (file.format !== IDENTITY_FILE_FORMAT) {
    throw foreign(path, 'format', `format is ${describe(file.format)}, not "${IDENTITY_FILE_FORMAT}"`, {
      found: describe(file.format),
    });
  }
  if (typeof file.version !== 'number') throw corrupt(path, 'version-missing', 'version is missing or not a number');
  if (file.version !== IDENTITY_FILE_VERSION) {
    throw foreign(path, 'version', `version ${describe(file.version)} is not supported`, {
      found: describe(file.version),
    });
  }
  if (typeof file.algorithm !== 'string') {
    throw corrupt(path, 'algorithm-missing', 'algorithm is missing or not a string');
  }
  if (file.algorithm !== IDENTITY_FILE_ALGORITHM) {
    throw foreign(path, 'algorithm', `algorithm ${describe(file.algorithm)} is not supported`, {
      found: describe(file.algorithm),
    });
  }
  const { nodeId, publicKey, secretKey, checksum } = file;
  if (typeof nodeId !== 'string' || nodeId.length > 128) throw corrupt(path, 'node-id', 'nodeId is malformed');
  if (typeof publicKey !== 'string' || !KEY_HEX.test(publicKey)) {
    throw corrupt(path, 'public-key', 'publicKey is not 64 lowercase hex digits');
  }
  if (typeof secretKey !== 'string' || !KEY_HEX.test(secretKey)) {
    throw corrupt(path, 'secret-key', 'secretKey is not 64 lowercase hex digits');
  }
  if (typeof checksum !== 'string') throw corrupt(path, 'checksum-missing', 'checksum is missing');
  const expected = canonicalChecksum([
    IDENTITY_FILE_FORMAT,
    IDENTITY_FILE_VERSION,
    IDENTITY_FILE_ALGORITHM,
    nodeId,
    publicKey,
    secretKey,
  ]);
  if (checksum !== expected) throw corrupt(path, 'checksum-mismatch', 'checksum does not match the contents');

  const identity = NodeIdentity.fromSecretKey(fromHex(secretKey));
  if (toHex(identity.publicKey) !== publicKey) {
    throw corrupt(path, 'key-mismatch', 'publicKey does not belong to secretKey');
  }
  if (identity.nodeId !== nodeId || nodeIdFromPublicKey(fromHex(publicKey)) !== nodeId) {
    throw corrupt(path, 'node-id-mismatch', 'nodeId is not derived from the key');
  }
  if (options.expectedNodeId !== undefined && options.expectedNodeId !== identity.nodeId) {
    throw foreign(path, 'node-id', `holds node ${identity.nodeId}, expected ${options.expectedNodeId}`, {
      nodeId: identity.nodeId,
      expectedNodeId: options.expectedNodeId,
    });
  }
  return identity;
}

/**
 * Writes `identity` to `path` crash-safely (temp file, fsync, rename,
 * directory fsync) with mode `0o600`. The directory must exist.
 *
 * @throws `CORE_FILE_*` errors from `io`.
 */
export async function saveIdentity(
  io: FileIO,
  path: string,
  identity: NodeIdentity,
  options: SaveIdentityOptions = {},
): Promise<void> {
  assertString('path', path, { nonEmpty: true });
  const opts: { mode: number; rng?: Rng } = { mode: IDENTITY_FILE_MODE };
  if (options.rng) opts.rng = options.rng;
  await atomicWriteFile(io, path, encodeIdentityFile(identity), opts);
}

/**
 * Reads the identity saved at `path`.
 *
 * Checks, in order: the file exists (`CORE_FILE_NOT_FOUND`); no group or
 * other permission bits are set (`CORE_IDENTITY_KEY_PERMISSIONS`: an exposed
 * key must be treated as leaked, so it is refused rather than silently
 * narrowed); then the contents as in {@link decodeIdentityFile}.
 *
 * @throws `CORE_FILE_NOT_FOUND`, `CORE_IDENTITY_KEY_PERMISSIONS`,
 *   `CORE_IDENTITY_KEY_CORRUPT`, `CORE_IDENTITY_KEY_FOREIGN`, or other
 *   `CORE_FILE_*` errors from `io`.
 */
export async function loadIdentity(io: FileIO, path: string, options: LoadIdentityOptions = {}): Promise<NodeIdentity> {
  assertString('path', path, { nonEmpty: true });
  assertObject('options', options);
  const st = await io.stat(path);
  if (st === undefined) {
    throw new NovacronError(CoreErrorCode.FILE_NOT_FOUND, `identity file ${path} does not exist`, {
      details: { path, op: 'stat' },
    });
  }
  // Windows has no POSIX permission bits to check; ACLs are the operator's job there.
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new NovacronError(
      CoreErrorCode.IDENTITY_KEY_PERMISSIONS,
      `identity file ${path} has mode 0o${st.mode.toString(8)}; it must not be accessible to group or others (chmod 600)`,
      { details: { path, mode: st.mode } },
    );
  }
  if (st.size > IDENTITY_FILE_MAX_BYTES) {
    throw corrupt(path, 'too-large', `${st.size} bytes exceeds ${IDENTITY_FILE_MAX_BYTES}`);
  }
  const bytes = await io.readFile(path);
  return decodeIdentityFile(bytes, { ...options, path });
}

/**
 * Loads the identity at `path`, or, when there is no file, generates one,
 * saves it (creating the directory) and returns it. A damaged, foreign or
 * exposed file is an error, never silently replaced: the node's id is part
 * of the cluster's membership.
 *
 * One process should own the file: two processes creating it at once may
 * each return a different identity (the last rename wins on disk).
 *
 * @throws as {@link loadIdentity}; with `expectedNodeId` set, a missing file
 *   stays `CORE_FILE_NOT_FOUND` (a new key could not have that id).
 */
export async function loadOrCreateIdentity(
  io: FileIO,
  path: string,
  options: LoadOrCreateIdentityOptions = {},
): Promise<NodeIdentity> {
  try {
    return await loadIdentity(io, path, options);
  } catch (err) {
    if (!isNovacronError(err, CoreErrorCode.FILE_NOT_FOUND) || options.expectedNodeId !== undefined) throw err;
  }
  const identity = NodeIdentity.generate();
  await io.mkdir(dirname(path));
  await saveIdentity(io, path, identity, options.rng ? { rng: options.rng } : {});
  return identity;
}
