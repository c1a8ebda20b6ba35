import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { toHex } from '../bytes.js';
import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { assertBytes } from '../validate.js';
import type { NodeId } from './node-id.js';

/** Length in bytes of an Ed25519 secret key (the RFC 8032 32-byte seed). */
export const ED25519_SECRET_KEY_LENGTH = 32;
/** Length in bytes of an Ed25519 public key. */
export const ED25519_PUBLIC_KEY_LENGTH = 32;
/** Length in bytes of an Ed25519 signature. */
export const ED25519_SIGNATURE_LENGTH = 64;

/** Prefix of every derived node id. */
export const NODE_ID_PREFIX = 'nc';
/** Bytes of SHA-256(publicKey) a node id carries: 128 bits, far beyond any cluster's collision risk. */
const NODE_ID_DIGEST_BYTES = 16;
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
/** Length of a derived node id: the prefix plus ceil(128 / 5) base32 digits. */
export const NODE_ID_LENGTH = NODE_ID_PREFIX.length + Math.ceil((NODE_ID_DIGEST_BYTES * 8) / 5);

/**
 * Verification follows RFC 8032 strictly (noble's `zip215: false`): it
 * rejects non-canonical encodings and small-order public keys. A Byzantine
 * member with a small-order key could otherwise produce one signature that
 * verifies for several messages, which PBFT's accountability relies on not
 * happening. Every NovaCron node uses the same rule, so nodes always agree.
 */
const VERIFY_OPTIONS = { zip215: false } as const;

/** Lowercase RFC 4648 base32 without padding (ids must be path- and DNS-label-safe). */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/**
 * The node id of `publicKey`: `nc` followed by the lowercase base32 of the
 * first 16 bytes of SHA-256(publicKey), 28 characters in all
 * (e.g. `ncx3k...`). Anyone holding the key can recompute it, so a peer's
 * claimed id is checked with {@link verifyNodeId} against the key its
 * signatures verify under.
 *
 * @throws `CORE_INVALID_ARGUMENT` unless `publicKey` is 32 bytes.
 */
export function nodeIdFromPublicKey(publicKey: Uint8Array): NodeId {
  assertBytes('publicKey', publicKey, ED25519_PUBLIC_KEY_LENGTH);
  const digest = createHash('sha256').update(publicKey).digest();
  return `${NODE_ID_PREFIX}${base32(digest.subarray(0, NODE_ID_DIGEST_BYTES))}` as NodeId;
}

/**
 * True when `nodeId` is the id derived from `publicKey`. Returns false (never
 * throws) for ids of the wrong shape, so it can screen untrusted claims.
 *
 * @throws `CORE_INVALID_ARGUMENT` unless `publicKey` is 32 bytes.
 */
export function verifyNodeId(nodeId: string, publicKey: Uint8Array): boolean {
  const expected = nodeIdFromPublicKey(publicKey);
  return typeof nodeId === 'string' && nodeId === expected;
}

/** True when `value` has the shape of a derived node id (prefix, length, alphabet). */
export function isDerivedNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && value.length === NODE_ID_LENGTH && /^nc[a-z2-7]+$/.test(value);
}

/**
 * True when `signature` is a valid Ed25519 signature of `message` by
 * `publicKey` (RFC 8032, strict: small-order keys and non-canonical
 * encodings are rejected). A public key that is not a curve point simply
 * fails verification.
 *
 * @throws `CORE_INVALID_ARGUMENT` when an argument is not a `Uint8Array` or
 *   a key or signature has the wrong length (32 and 64 bytes): a wire
 *   decoder should have enforced those sizes already.
 */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  assertBytes('publicKey', publicKey, ED25519_PUBLIC_KEY_LENGTH);
  assertBytes('message', message);
  assertBytes('signature', signature, ED25519_SIGNATURE_LENGTH);
  try {
    return ed25519.verify(signature, message, publicKey, VERIFY_OPTIONS);
  } catch {
    // noble throws on some malformed encodings instead of returning false;
    // to a verifier both mean "not a valid signature".
    return false;
  }
}

/** Details carried by `CORE_SIGNATURE_INVALID`. */
export interface SignatureInvalidDetails {
  readonly [key: string]: unknown;
  /** Node id derived from the key the signature was checked against. */
  readonly nodeId: NodeId;
  /** Length of the signed message in bytes. */
  readonly messageLength: number;
}

/**
 * Like {@link verifySignature}, but throws `CORE_SIGNATURE_INVALID` (with
 * the signer's node id in `details`) instead of returning false.
 *
 * @throws `CORE_SIGNATURE_INVALID` when the signature does not verify;
 *   `CORE_INVALID_ARGUMENT` as for {@link verifySignature}.
 */
export function assertSignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): void {
  if (!verifySignature(publicKey, message, signature)) {
    const nodeId = nodeIdFromPublicKey(publicKey);
    throw new NovacronError<string, SignatureInvalidDetails>(
      CoreErrorCode.SIGNATURE_INVALID,
      `signature does not verify for node ${nodeId}`,
      { details: { nodeId, messageLength: message.length } },
    );
  }
}

/**
 * A node's Ed25519 key pair and the node id derived from it. Every package
 * names nodes by this id and authenticates them by its signatures.
 *
 * The secret key lives in a private field: it does not appear in
 * `console.log`, `util.inspect` or `JSON.stringify` output, and leaves the
 * object only through {@link NodeIdentity.exportSecretKey}.
 *
 * @example
 * ```ts
 * const me = NodeIdentity.generate();
 * const sig = me.sign(bytes);
 * verifySignature(me.publicKey, bytes, sig); // true
 * ```
 */
export class NodeIdentity {
  /** The id derived from {@link NodeIdentity.publicKey}. */
  readonly nodeId: NodeId;
  readonly #secretKey: Uint8Array;
  readonly #publicKey: Uint8Array;

  private constructor(secretKey: Uint8Array, publicKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.#publicKey = publicKey;
    this.nodeId = nodeIdFromPublicKey(publicKey);
  }

  /** A fresh key pair from the platform's cryptographic random source. */
  static generate(): NodeIdentity {
    return NodeIdentity.fromSecretKey(ed25519.utils.randomSecretKey());
  }

  /**
   * The identity of an existing 32-byte Ed25519 secret key (RFC 8032 seed).
   * The bytes are copied, so the caller may wipe its array afterwards.
   *
   * @throws `CORE_INVALID_ARGUMENT` unless `secretKey` is 32 bytes.
   */
  static fromSecretKey(secretKey: Uint8Array): NodeIdentity {
    // The validator reports only the type of a bad value, never its bytes.
    assertBytes('secretKey', secretKey, ED25519_SECRET_KEY_LENGTH);
    const sk = Uint8Array.from(secretKey);
    return new NodeIdentity(sk, ed25519.getPublicKey(sk));
  }

  /** The 32-byte Ed25519 public key (a copy: mutating it changes nothing). */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey);
  }

  /** The 32-byte secret key (a copy). For persisting the identity; handle with care. */
  exportSecretKey(): Uint8Array {
    return Uint8Array.from(this.#secretKey);
  }

  /**
   * The 64-byte Ed25519 signature of `message` (deterministic: the same
   * message always gives the same signature).
   *
   * @throws `CORE_INVALID_ARGUMENT` unless `message` is a `Uint8Array`.
   */
  sign(message: Uint8Array): Uint8Array {
    assertBytes('message', message);
    return ed25519.sign(message, this.#secretKey);
  }

  /** Whether `signature` is this identity's signature of `message`; see {@link verifySignature}. */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    return verifySignature(this.#publicKey, message, signature);
  }

  /** The public half only: safe to log or send. */
  toJSON(): { nodeId: NodeId; publicKey: string } {
    return { nodeId: this.nodeId, publicKey: toHex(this.#publicKey) };
  }

  /** Keeps `util.inspect` / `console.log` to the public half. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `NodeIdentity(${this.nodeId})`;
  }
}
