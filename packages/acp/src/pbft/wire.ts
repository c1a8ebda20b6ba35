import {
  assertBytes,
  assertObject,
  CoreErrorCode,
  decodeCanonical,
  defineMessage,
  encodeCanonical,
  MessageCodec,
  type MsgpackLimits,
  NovacronError,
} from '@novacron/core';
import { PbftErrorCode } from '../errors.js';
import type { PbftKeyring } from './keyring.js';
import {
  type Authenticator,
  isSignedKind,
  type MacPayload,
  type PbftPayload,
  type RequestPayload,
  type Signed,
  type SignedPayload,
  validateAuth,
  validatePayload,
} from './messages.js';

/** Channel PBFT messages travel on over a `PeerNetwork`. */
export const PBFT_CHANNEL = 'acp/pbft';

/** Decoding limits for untrusted PBFT bytes. */
export const PBFT_MSGPACK_LIMITS: MsgpackLimits = {
  maxDepth: 16,
  maxStrLength: 256,
  maxArrayLength: 1 << 17,
  maxMapLength: 16,
};

const keysExactly = (o: Record<string, unknown>, k: readonly string[]) => {
  const got = Object.keys(o);
  if (got.length !== k.length || !k.every((x) => x in o)) throw new Error(`expected exactly the keys ${k.join(',')}`);
};

/** `acp.pbft.mac` v1: `{ p: canonical payload, a: authenticator }`. */
export const PBFT_MAC_MESSAGE = defineMessage({
  type: 'acp.pbft.mac',
  version: 1,
  validate: (b) => {
    assertObject('body', b);
    keysExactly(b, ['p', 'a']);
    assertBytes('p', b.p);
    return { p: b.p, a: validateAuth('a', b.a) };
  },
});

/** `acp.pbft.signed` v1: `{ p: canonical payload, s: Ed25519 signature }`. */
export const PBFT_SIGNED_MESSAGE = defineMessage({
  type: 'acp.pbft.signed',
  version: 1,
  validate: (b) => {
    assertObject('body', b);
    keysExactly(b, ['p', 's']);
    assertBytes('p', b.p);
    assertBytes('s', b.s, 64);
    return { p: b.p, s: b.s };
  },
});

const PEEK_CODEC = new MessageCodec([PBFT_MAC_MESSAGE, PBFT_SIGNED_MESSAGE], { limits: PBFT_MSGPACK_LIMITS });

/** One decoded and authenticated message. */
export interface PbftEnvelope {
  /** The payload. */
  readonly payload: PbftPayload;
  /** The wire bytes it arrived as (forwarded verbatim on retransmission). */
  readonly raw: Uint8Array;
  /** Its canonical bytes (what the MAC or signature covers). */
  readonly bytes: Uint8Array;
  /** For signed kinds: the statement, to forward inside proofs. */
  readonly signed?: Signed;
  /** For MAC'd kinds: the whole authenticator (a request's travels on inside batches). */
  readonly auth?: Authenticator;
}

function invalid(reason: string, cause?: unknown): NovacronError {
  return new NovacronError(CoreErrorCode.MESSAGE_INVALID, `pbft: invalid payload: ${reason}`, {
    details: { type: 'acp.pbft', reason: reason.slice(0, 200) },
    cause,
  });
}

/**
 * Encodes, authenticates, decodes and verifies PBFT messages. Normal-case
 * messages carry a MAC authenticator (one HMAC per recipient, see
 * {@link PbftKeyring}); checkpoints, view changes and new views carry an
 * Ed25519 signature so they can be forwarded as proofs.
 */
export class PbftWire {
  readonly #keys: PbftKeyring;
  readonly #codec = new MessageCodec([PBFT_MAC_MESSAGE, PBFT_SIGNED_MESSAGE], { limits: PBFT_MSGPACK_LIMITS });

  constructor(keys: PbftKeyring) {
    this.#keys = keys;
  }

  /** Canonical bytes of a payload. */
  static payloadBytes(p: PbftPayload): Uint8Array {
    return encodeCanonical(p);
  }

  /** Encodes `payload` with an authenticator for each of `to`. */
  encodeMac(payload: MacPayload, to: readonly string[]): Uint8Array {
    const bytes = encodeCanonical(payload);
    return this.#codec.encode(PBFT_MAC_MESSAGE, { p: bytes, a: this.#keys.authenticator(to, bytes) });
  }

  /** Encodes canonical payload bytes with an existing authenticator (a client's request inside a batch). */
  encodeMacRaw(bytes: Uint8Array, auth: Authenticator): Uint8Array {
    return this.#codec.encode(PBFT_MAC_MESSAGE, { p: bytes, a: auth });
  }

  /** Signs `payload`; returns the statement and its wire bytes. */
  encodeSigned(payload: SignedPayload): { signed: Signed; bytes: Uint8Array } {
    const p = encodeCanonical(payload);
    const s = this.#keys.sign(p);
    return { signed: [p, s], bytes: this.#codec.encode(PBFT_SIGNED_MESSAGE, { p, s }) };
  }

  /** Wire bytes of an existing signed statement (forwarding). */
  encodeStatement(s: Signed): Uint8Array {
    return this.#codec.encode(PBFT_SIGNED_MESSAGE, { p: s[0], s: s[1] });
  }

  /**
   * Decodes canonical payload bytes (no authentication).
   *
   * @throws `CORE_MESSAGE_MALFORMED`, `CORE_CANONICAL_MISMATCH` or `CORE_MESSAGE_INVALID`.
   */
  static decodePayload(bytes: Uint8Array): PbftPayload {
    const value = decodeCanonical(bytes, PBFT_MSGPACK_LIMITS);
    try {
      return validatePayload(value);
    } catch (err) {
      throw invalid(err instanceof Error ? err.message : String(err), err);
    }
  }

  /**
   * Opens a signed statement: canonical, well-formed, of kind `kind`, and
   * signed by the replica it names.
   *
   * @throws as {@link decodePayload}; `ACP_PBFT_AUTH_INVALID` for a bad
   *   signature; `CORE_MESSAGE_INVALID` for the wrong kind.
   */
  openSigned<K extends SignedPayload['k']>(s: Signed, kind: K): Extract<SignedPayload, { k: K }> {
    const p = PbftWire.decodePayload(s[0]);
    if (p.k !== kind) throw invalid(`expected a signed ${kind}, got ${p.k}`);
    this.#keys.verifySignature((p as SignedPayload).i, s[0], s[1]);
    return p as Extract<SignedPayload, { k: K }>;
  }

  /**
   * Decodes a message without authenticating it (for tools and tests that
   * inspect traffic). Never use the result to change protocol state.
   *
   * @throws as {@link decodePayload}.
   */
  static peek(data: Uint8Array): PbftPayload {
    const m = PEEK_CODEC.decode(data);
    return PbftWire.decodePayload((m.body as { p: Uint8Array }).p);
  }

  /**
   * Decodes and authenticates a message received from the network.
   *
   * @throws `CORE_MESSAGE_*` / `CORE_CANONICAL_MISMATCH` for malformed
   *   bytes; `ACP_PBFT_AUTH_INVALID` when the MAC or signature does not
   *   verify for the sender the payload names, or a kind travels with the
   *   wrong kind of authenticator.
   */
  decode(data: Uint8Array): PbftEnvelope {
    const m = this.#codec.decode(data);
    if (m.type === 'acp.pbft.signed') {
      const { p, s } = m.body as { p: Uint8Array; s: Uint8Array };
      const payload = PbftWire.decodePayload(p);
      if (!isSignedKind(payload.k)) throw this.#wrongAuth(payload.k);
      this.#keys.verifySignature((payload as SignedPayload).i, p, s);
      return { payload, bytes: p, raw: data, signed: [p, s] };
    }
    const { p, a } = m.body as { p: Uint8Array; a: Authenticator };
    const payload = PbftWire.decodePayload(p);
    if (isSignedKind(payload.k)) throw this.#wrongAuth(payload.k);
    if (payload.k === 'req') {
      this.#keys.verifyMac(payload.c, p, a, payload.x);
    } else {
      const from = (payload as Exclude<MacPayload, { k: 'req' }>).i;
      if (!this.#keys.isReplica(from)) {
        throw new NovacronError(PbftErrorCode.AUTH_INVALID, `pbft: ${from} is not a replica`, { details: { from } });
      }
      this.#keys.verifyMac(from, p, a);
    }
    return { payload, bytes: p, raw: data, auth: a };
  }

  /**
   * Decodes a request carried inside a batch and checks this node's entry
   * of the client's authenticator.
   *
   * @throws as {@link decode}.
   */
  openRequest(bytes: Uint8Array, auth: Authenticator): RequestPayload {
    const p = PbftWire.decodePayload(bytes);
    if (p.k !== 'req') throw invalid(`expected a request, got ${p.k}`);
    this.#keys.verifyMac(p.c, bytes, auth, p.x);
    return p;
  }

  #wrongAuth(k: string): NovacronError {
    return new NovacronError(PbftErrorCode.AUTH_INVALID, `pbft: ${k} travels with the wrong authenticator`, {
      details: { kind: k },
    });
  }
}
