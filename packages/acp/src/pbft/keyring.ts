import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  timingSafeEqual,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { type NodeIdentity, NovacronError, nodeIdFromPublicKey } from '@novacron/core';
import { PbftErrorCode } from '../errors.js';

/** Bytes of a PBFT MAC: HMAC-SHA256 truncated to 128 bits (Castro–Liskov used 10 bytes of UMAC). */
export const PBFT_MAC_BYTES = 16;
/** Salt of the HKDF that turns an X25519 shared secret into MAC keys. */
const HKDF_SALT = new TextEncoder().encode('novacron/acp/pbft/v1');
/** Most client keys kept (an LRU of derived pairwise keys for non-replica clients). */
const MAX_CLIENT_KEYS = 4096;
/** Most signature verdicts cached (view changes carry the same checkpoint signatures many times). */
const MAX_VERDICTS = 8192;

/** SHA-256 of `bytes`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const authError = (message: string, details: Record<string, unknown>) =>
  new NovacronError(PbftErrorCode.AUTH_INVALID, message, { details });

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');
/** The Ed25519 group order L, little-endian. */
const ORDER_L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/** Whether the scalar S (second half of a signature) is below L, as RFC 8032 requires. */
function canonicalS(signature: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = signature[32 + i]!;
    const b = ORDER_L[i]!;
    if (a !== b) return a < b;
  }
  return false;
}

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** What a public key gives, computed once per key (public data only). */
interface PublicKeyInfo {
  /** The Ed25519 key for node:crypto verification. */
  readonly verifier: KeyObject;
  /** Its X25519 (Montgomery) image for node:crypto ECDH. */
  readonly exchange: KeyObject;
}

const publicInfo = new Map<string, PublicKeyInfo | null>();

/**
 * Screens an Ed25519 public key (noble: canonical encoding, not of small
 * order) and prepares its node:crypto forms; `null` for an unusable key.
 */
function publicKeyInfo(publicKey: Uint8Array): PublicKeyInfo | null {
  const hex = Buffer.from(publicKey).toString('hex');
  let info = publicInfo.get(hex);
  if (info !== undefined) return info;
  try {
    const point = ed25519.Point.fromBytes(publicKey);
    info = point.isSmallOrder()
      ? null
      : {
          verifier: createPublicKey({ key: Buffer.concat([SPKI_ED25519, publicKey]), format: 'der', type: 'spki' }),
          exchange: createPublicKey({
            key: Buffer.concat([SPKI_X25519, ed25519.utils.toMontgomery(publicKey)]),
            format: 'der',
            type: 'spki',
          }),
        };
  } catch {
    info = null;
  }
  publicInfo.set(hex, info);
  if (publicInfo.size > MAX_CLIENT_KEYS) publicInfo.delete(publicInfo.keys().next().value!);
  return info;
}

interface PeerKeys {
  readonly publicKey: Uint8Array;
  /** The key as node:crypto wants it, for fast verification. */
  readonly verifier: KeyObject;
  /** Key for MACs this node sends to the peer. */
  readonly out: Uint8Array;
  /** Key for MACs the peer sends to this node. */
  readonly in: Uint8Array;
}

/**
 * The keys one PBFT participant (replica or client) holds.
 *
 * Pairwise MAC keys come from X25519: each node's X25519 key pair is the
 * birational (Montgomery) image of its Ed25519 identity key, as libsodium's
 * `crypto_sign_ed25519_*_to_curve25519` computes it, so a node id still
 * names exactly one key and no second key needs distributing or
 * certifying. The shared secret of nodes `a` and `b` is expanded with
 * HKDF-SHA256 (salt `novacron/acp/pbft/v1`, info `mac|a|b`) into one key
 * per direction. A MAC is HMAC-SHA256 truncated to {@link PBFT_MAC_BYTES}.
 *
 * Ed25519 signatures are used only for checkpoint, view-change and
 * new-view messages, which third parties must be able to check. They are
 * made and checked with node:crypto (OpenSSL, about 20x faster than the
 * pure-JS path): the signature bytes are the same as core's
 * `NodeIdentity.sign` (Ed25519 is deterministic), and verification keeps
 * core's strict rule by screening each key once (canonical, not of small
 * order) and requiring a canonical S.
 */
export class PbftKeyring {
  /** This participant's node id. */
  readonly id: string;
  readonly #identity: NodeIdentity;
  readonly #signer: KeyObject;
  readonly #xSecret: KeyObject;
  readonly #peers = new Map<string, PeerKeys>();
  readonly #clients = new Map<string, PeerKeys>();
  readonly #verdicts = new Map<string, boolean>();
  readonly #replicaIds: ReadonlySet<string>;

  /**
   * @param identity this participant's identity.
   * @param replicas the group's replicas: node id and Ed25519 public key.
   * @throws `ACP_PBFT_CONFIG_INVALID` when an id is not derived from its key
   *   or a key has no usable X25519 image.
   */
  constructor(identity: NodeIdentity, replicas: readonly { readonly id: string; readonly publicKey: Uint8Array }[]) {
    this.id = identity.nodeId;
    this.#identity = identity;
    this.#xSecret = createPrivateKey({
      key: Buffer.concat([PKCS8_X25519, ed25519.utils.toMontgomerySecret(identity.exportSecretKey())]),
      format: 'der',
      type: 'pkcs8',
    });
    this.#replicaIds = new Set(replicas.map((r) => r.id));
    this.#signer = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, identity.exportSecretKey()]),
      format: 'der',
      type: 'pkcs8',
    });
    // This node's own pair too: requests it issues carry a MAC for itself,
    // so it can check them when another primary orders them.
    for (const r of [...replicas, { id: this.id, publicKey: identity.publicKey }]) {
      const keys = this.#derive(r.id, r.publicKey);
      if (!keys) {
        throw new NovacronError(PbftErrorCode.CONFIG_INVALID, `pbft: replica ${r.id} has an unusable key`, {
          details: { id: r.id },
        });
      }
      this.#peers.set(r.id, keys);
    }
  }

  /** Derives the pairwise keys with `id`, or `undefined` when `publicKey` does not name `id` or is degenerate. */
  #derive(id: string, publicKey: Uint8Array): PeerKeys | undefined {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return undefined;
    if (nodeIdFromPublicKey(publicKey) !== id) return undefined;
    const info = publicKeyInfo(publicKey);
    if (!info) return undefined;
    let shared: Uint8Array;
    try {
      shared = diffieHellman({ privateKey: this.#xSecret, publicKey: info.exchange });
    } catch {
      return undefined;
    }
    if (shared.every((b) => b === 0)) return undefined;
    const key = (from: string, to: string) =>
      new Uint8Array(hkdfSync('sha256', shared, HKDF_SALT, `mac|${from}|${to}`, 32));
    return {
      publicKey: Uint8Array.from(publicKey),
      verifier: info.verifier,
      out: key(this.id, id),
      in: key(id, this.id),
    };
  }

  /** Keys for a replica, or a client that presented `publicKey` (cached, LRU-bounded). */
  #keysFor(id: string, publicKey?: Uint8Array): PeerKeys | undefined {
    const peer = this.#peers.get(id);
    if (peer) return peer;
    let c = this.#clients.get(id);
    if (c) {
      if (publicKey && !sameBytes(publicKey, c.publicKey)) return undefined;
      this.#clients.delete(id);
      this.#clients.set(id, c);
      return c;
    }
    if (!publicKey) return undefined;
    c = this.#derive(id, publicKey);
    if (!c) return undefined;
    this.#clients.set(id, c);
    if (this.#clients.size > MAX_CLIENT_KEYS) this.#clients.delete(this.#clients.keys().next().value!);
    return c;
  }

  /** Whether `id` is a known replica. */
  isReplica(id: string): boolean {
    return this.#replicaIds.has(id);
  }

  /** Public key of a replica (or of a cached client). */
  publicKeyOf(id: string): Uint8Array | undefined {
    if (id === this.id) return this.#identity.publicKey;
    return (this.#peers.get(id) ?? this.#clients.get(id))?.publicKey;
  }

  /** This participant's Ed25519 public key. */
  get publicKey(): Uint8Array {
    return this.#identity.publicKey;
  }

  /** MAC of `bytes` for `to` (a replica, or a client seen before). */
  mac(to: string, bytes: Uint8Array): Uint8Array {
    const keys = this.#keysFor(to);
    if (!keys) throw authError(`pbft: no key shared with ${to}`, { to });
    return hmac(keys.out, bytes);
  }

  /** An authenticator: one MAC per recipient. */
  authenticator(to: readonly string[], bytes: Uint8Array): [string, Uint8Array][] {
    return to.map((id) => [id, this.mac(id, bytes)]);
  }

  /**
   * Checks this node's entry of `auth`, sent by `from` over `bytes`.
   *
   * @param publicKey the sender's key when it is a client not yet seen.
   * @throws `ACP_PBFT_AUTH_INVALID` when there is no entry for this node,
   *   the sender is unknown, or the MAC does not verify.
   */
  verifyMac(
    from: string,
    bytes: Uint8Array,
    auth: readonly (readonly [string, Uint8Array])[],
    publicKey?: Uint8Array,
  ): void {
    const keys = this.#keysFor(from, publicKey);
    if (!keys) throw authError(`pbft: unknown sender ${from}`, { from });
    const entry = auth.find(([id]) => id === this.id);
    if (!entry) throw authError(`pbft: authenticator from ${from} has no entry for this node`, { from });
    const expected = hmac(keys.in, bytes);
    if (entry[1].length !== expected.length || !timingSafeEqual(entry[1], expected)) {
      throw authError(`pbft: bad MAC from ${from}`, { from });
    }
  }

  /** Ed25519 signature of `bytes` by this node. */
  sign(bytes: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, bytes, this.#signer));
  }

  /**
   * Checks a replica's Ed25519 signature (verdicts are cached by signer,
   * signature and a digest of the bytes).
   *
   * @throws `ACP_PBFT_AUTH_INVALID` for an unknown signer or a bad signature.
   */
  verifySignature(from: string, bytes: Uint8Array, signature: Uint8Array): void {
    const keys = this.#peers.get(from);
    if (!keys || !this.isReplica(from)) throw authError(`pbft: unknown signer ${from}`, { from });
    const key = `${from}|${Buffer.from(signature).toString('base64')}|${Buffer.from(sha256(bytes)).toString('base64')}`;
    let ok = this.#verdicts.get(key);
    if (ok === undefined) {
      ok = signature.length === 64 && canonicalS(signature) && nodeVerify(null, bytes, keys.verifier, signature);
      this.#verdicts.set(key, ok);
      if (this.#verdicts.size > MAX_VERDICTS) this.#verdicts.delete(this.#verdicts.keys().next().value!);
    }
    if (!ok) throw authError(`pbft: bad signature from ${from}`, { from });
  }
}

function hmac(key: Uint8Array, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(bytes).digest().subarray(0, PBFT_MAC_BYTES));
}

/** Byte-wise equality. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
