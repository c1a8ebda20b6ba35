import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { NovacronError, assertInteger, invalidArgument } from '@novacron/core';
import { AmstErrorCode } from '../errors.js';

/** Sealed datagram format version (docs/protocol/amst.md, "Sealed datagrams"). */
export const SEAL_VERSION = 1;
/** Bytes before the ciphertext: version, key id, sender salt, counter, timestamp. */
export const SEAL_HEADER_BYTES = 1 + 1 + 16 + 8 + 8;
/** Poly1305 tag length. */
export const SEAL_TAG_BYTES = 16;
/** Everything a sealed datagram adds to its payload. */
export const SEAL_OVERHEAD = SEAL_HEADER_BYTES + SEAL_TAG_BYTES;
/** Width of the per-sender sliding replay window, in datagrams. */
export const REPLAY_WINDOW = 1024;

/** One cluster key: a 1-byte id carried in every datagram, and 32 secret bytes. */
export interface ClusterKey {
  readonly id: number;
  readonly key: Uint8Array;
}

/** Options of {@link DatagramSealer}. */
export interface DatagramSealerOptions {
  /**
   * The cluster keys. The first seals; all of them open, so a key can be
   * rotated in without a flag day (add the new one second everywhere, then
   * move it first, then drop the old one) — as memberlist's keyring does.
   */
  readonly keys: readonly ClusterKey[];
  /** Wall-clock ms since the epoch (default `Date.now`): datagrams carry the sender's wall time. */
  readonly wallClock?: () => number;
  /** Datagrams older (or further in the future) than this are refused (default 60 s): bounds replay after state is lost. */
  readonly maxAgeMs?: number;
  /** Senders whose replay windows are remembered (default 4096); the least recently heard are forgotten first. */
  readonly maxSenders?: number;
  /** Random bytes for this sender's salt (default `crypto.randomBytes`); injectable for tests. */
  readonly randomBytes?: (n: number) => Uint8Array;
}

interface Window {
  max: bigint;
  /** Bit i set: counter `max - i` was seen. */
  readonly seen: Uint32Array;
  lastTimestamp: number;
}

const INFO = Buffer.from('novacron datagram v1');

/**
 * Authenticated encryption of datagrams under a shared cluster key, with
 * replay protection: ChaCha20-Poly1305 (OpenSSL, through node:crypto) under
 * a per-sender subkey HKDF-derived from the cluster key and a random 16-byte
 * salt chosen at start, with a 64-bit counter as nonce — so nonces never
 * repeat under one key however many nodes share the cluster key. The
 * header, the sender, the receiver and the channel are authenticated as
 * associated data. The receiver keeps a 1,024-datagram sliding window per
 * sender salt and refuses datagrams whose timestamp is more than
 * `maxAgeMs` away from its clock, so a replay is refused while the window
 * is remembered and impossible after `maxAgeMs` once it is forgotten.
 */
export class DatagramSealer {
  private keys: Map<number, Uint8Array>;
  private primary: ClusterKey;
  private readonly wallClock: () => number;
  private readonly maxAgeMs: number;
  private readonly maxSenders: number;
  private readonly salt: Uint8Array;
  private counter = 0n;
  private readonly subkeys = new Map<string, Uint8Array>();
  private readonly windows = new Map<string, Window>();
  /** Timestamps at or below this from an unknown sender are refused: their window was forgotten. */
  private floor: number;

  constructor(options: DatagramSealerOptions) {
    this.wallClock = options.wallClock ?? Date.now;
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    assertInteger('options.maxAgeMs', this.maxAgeMs, { min: 1 });
    this.maxSenders = options.maxSenders ?? 4096;
    assertInteger('options.maxSenders', this.maxSenders, { min: 1 });
    const rb = options.randomBytes ?? ((n: number) => new Uint8Array(randomBytes(n)));
    this.salt = Uint8Array.from(rb(16));
    ({ keys: this.keys, primary: this.primary } = DatagramSealer.checkKeys(options.keys));
    // Datagrams sealed before this receiver started cannot be told from replays of them: refuse
    // what predates start by more than a small clock-skew allowance.
    this.floor = this.wallClock() - Math.min(5_000, this.maxAgeMs);
  }

  private static checkKeys(keys: readonly ClusterKey[]): { keys: Map<number, Uint8Array>; primary: ClusterKey } {
    if (!Array.isArray(keys) || keys.length === 0) throw invalidArgument('keys', 'one or more cluster keys', keys);
    const map = new Map<number, Uint8Array>();
    keys.forEach((k, i) => {
      assertInteger(`keys[${i}].id`, k?.id, { min: 0, max: 255 });
      if (!(k.key instanceof Uint8Array) || k.key.length !== 32)
        throw invalidArgument(`keys[${i}].key`, '32 bytes', k.key);
      if (map.has(k.id)) throw invalidArgument(`keys[${i}].id`, 'a unique key id', k.id);
      map.set(k.id, Uint8Array.from(k.key));
    });
    return { keys: map, primary: { id: keys[0]!.id, key: map.get(keys[0]!.id)! } };
  }

  /** Replaces the keyring (rotation); the first key seals from now on. */
  setKeys(keys: readonly ClusterKey[]): void {
    ({ keys: this.keys, primary: this.primary } = DatagramSealer.checkKeys(keys));
    this.subkeys.clear();
  }

  private subkey(keyId: number, key: Uint8Array, salt: Uint8Array): Uint8Array {
    const cacheKey = `${keyId}:${Buffer.from(salt).toString('hex')}`;
    let k = this.subkeys.get(cacheKey);
    if (k === undefined) {
      k = new Uint8Array(hkdfSync('sha256', key, salt, INFO, 32));
      if (this.subkeys.size >= 2 * this.maxSenders) this.subkeys.clear();
      this.subkeys.set(cacheKey, k);
    }
    return k;
  }

  /** Seals `data` from `from` to `to` on `channel`. */
  seal(from: string, to: string, channel: string, data: Uint8Array): Uint8Array {
    const out = new Uint8Array(SEAL_OVERHEAD + data.length);
    const view = new DataView(out.buffer);
    out[0] = SEAL_VERSION;
    out[1] = this.primary.id;
    out.set(this.salt, 2);
    this.counter++;
    view.setBigUint64(18, this.counter);
    view.setBigUint64(26, BigInt(Math.max(0, Math.floor(this.wallClock()))));
    const header = out.subarray(0, SEAL_HEADER_BYTES);
    const cipher = createCipheriv(
      'chacha20-poly1305',
      this.subkey(this.primary.id, this.primary.key, this.salt),
      nonce(this.counter),
      {
        authTagLength: SEAL_TAG_BYTES,
      },
    );
    cipher.setAAD(aad(header, from, to, channel), { plaintextLength: data.length });
    const body = cipher.update(data);
    cipher.final();
    out.set(body, SEAL_HEADER_BYTES);
    out.set(cipher.getAuthTag(), SEAL_HEADER_BYTES + data.length);
    return out;
  }

  /**
   * Opens a datagram sealed by a cluster member. `AMST_DATAGRAM_AUTH_FAILED`
   * for anything not sealed under a known cluster key for exactly this
   * sender, receiver and channel (wrong key, tampered, truncated, wrong
   * version); `AMST_DATAGRAM_REPLAYED` for an authentic datagram seen
   * before or outside the age window. A refused datagram changes no state.
   */
  open(from: string, to: string, channel: string, sealed: Uint8Array): Uint8Array {
    if (sealed.length < SEAL_OVERHEAD || sealed[0] !== SEAL_VERSION)
      throw authFailed(sealed.length < SEAL_OVERHEAD ? 'truncated datagram' : `unknown seal version ${sealed[0]}`);
    const key = this.keys.get(sealed[1]!);
    if (key === undefined) throw authFailed(`unknown cluster key id ${sealed[1]}`);
    const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const salt = sealed.subarray(2, 18);
    const counter = view.getBigUint64(18);
    const timestamp = Number(view.getBigUint64(26));
    const header = sealed.subarray(0, SEAL_HEADER_BYTES);
    const bodyLength = sealed.length - SEAL_OVERHEAD;
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('chacha20-poly1305', this.subkey(sealed[1]!, key, salt), nonce(counter), {
        authTagLength: SEAL_TAG_BYTES,
      });
      decipher.setAAD(aad(header, from, to, channel), { plaintextLength: bodyLength });
      decipher.setAuthTag(sealed.subarray(SEAL_HEADER_BYTES + bodyLength));
      plain = Buffer.concat([
        decipher.update(sealed.subarray(SEAL_HEADER_BYTES, SEAL_HEADER_BYTES + bodyLength)),
        decipher.final(),
      ]);
    } catch (err) {
      throw authFailed('authentication tag mismatch', err);
    }
    this.admit(salt, counter, timestamp);
    return new Uint8Array(plain.buffer, plain.byteOffset, plain.byteLength);
  }

  /** Replay check and window update for an authentic datagram. */
  private admit(salt: Uint8Array, counter: bigint, timestamp: number): void {
    const now = this.wallClock();
    if (Math.abs(now - timestamp) > this.maxAgeMs)
      throw replayed(`timestamp ${timestamp} is outside ±${this.maxAgeMs} ms of now`);
    const id = Buffer.from(salt).toString('hex');
    let w = this.windows.get(id);
    if (w === undefined) {
      if (timestamp <= this.floor) throw replayed('datagram predates what this receiver can check');
      if (this.windows.size >= this.maxSenders) this.evictOldest();
      w = { max: 0n, seen: new Uint32Array(REPLAY_WINDOW / 32), lastTimestamp: timestamp };
      this.windows.set(id, w);
    } else {
      // Map order is recency order: move this sender to the back.
      this.windows.delete(id);
      this.windows.set(id, w);
    }
    if (counter > w.max) {
      shift(w.seen, counter - w.max);
      w.max = counter;
      w.seen[0]! |= 1;
    } else {
      const back = w.max - counter;
      if (back >= BigInt(REPLAY_WINDOW)) throw replayed(`counter ${counter} is behind the replay window`);
      const i = Number(back);
      const word = i >>> 5;
      const bit = 1 << (i & 31);
      if ((w.seen[word]! & bit) !== 0) throw replayed(`counter ${counter} was already received`);
      w.seen[word]! |= bit;
    }
    if (timestamp > w.lastTimestamp) w.lastTimestamp = timestamp;
  }

  private evictOldest(): void {
    const [oldest, w] = this.windows.entries().next().value as [string, Window];
    this.windows.delete(oldest);
    this.floor = Math.max(this.floor, w.lastTimestamp);
  }
}

/** Shifts the window's bitmap towards older counters by `n` positions. */
function shift(seen: Uint32Array, n: bigint): void {
  if (n >= BigInt(REPLAY_WINDOW)) {
    seen.fill(0);
    return;
  }
  const k = Number(n);
  const words = k >>> 5;
  const bits = k & 31;
  for (let i = seen.length - 1; i >= 0; i--) {
    const src = i - words;
    const hi = src >= 0 ? seen[src]! : 0;
    const lo = src - 1 >= 0 ? seen[src - 1]! : 0;
    seen[i] = bits === 0 ? hi : ((hi << bits) | (lo >>> (32 - bits))) >>> 0;
  }
}

function nonce(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(counter, 4);
  return n;
}

function aad(header: Uint8Array, from: string, to: string, channel: string): Buffer {
  const parts = [from, to, channel].map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.alloc(header.length + parts.reduce((n, p) => n + 2 + p.length, 0));
  out.set(header, 0);
  let o = header.length;
  for (const p of parts) {
    out.writeUInt16BE(p.length, o);
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  return out;
}

function authFailed(message: string, cause?: unknown): NovacronError {
  return new NovacronError(AmstErrorCode.DATAGRAM_AUTH_FAILED, `sealed datagram refused: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

function replayed(message: string): NovacronError {
  return new NovacronError(AmstErrorCode.DATAGRAM_REPLAYED, `sealed datagram refused: ${message}`);
}
