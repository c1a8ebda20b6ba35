import type { NodeId, NodeIdentity, PeerMessageHandler, PeerNetwork, Rng } from '@novacron/core';
import {
  batchDigest,
  type BatchItem,
  type MacPayload,
  PbftKeyring,
  type PbftPayload,
  type PbftReplicaInfo,
  PbftWire,
  type PrePreparePayload,
  type VotePayload,
} from '../../src/index.js';

/** How a Byzantine replica misbehaves (it runs the real protocol underneath and corrupts what it sends). */
export type ByzantineBehaviour = 'equivocate' | 'forge' | 'replay' | 'bad-auth' | 'watermark' | 'silent' | 'mixed';

/** Every behaviour, for drawing one per seed. */
export const BYZANTINE_BEHAVIOURS: readonly ByzantineBehaviour[] = [
  'equivocate',
  'forge',
  'replay',
  'bad-auth',
  'watermark',
  'silent',
  'mixed',
];

/**
 * A {@link PeerNetwork} endpoint that turns a correct PBFT replica into a
 * Byzantine one: it holds the replica's own keys (so what it forges is as
 * authentic as a real traitor's) and rewrites outgoing traffic:
 *
 * - `equivocate`: as primary, sends half the backups a pre-prepare for a
 *   different batch at the same sequence number; votes for random digests;
 * - `forge`: sends messages in another replica's name (MACs under its own
 *   keys, so they fail) and requests in a client's name;
 * - `replay`: re-sends messages it saw earlier, to random replicas;
 * - `bad-auth`: flips a byte of the MAC or signature;
 * - `watermark`: re-sends pre-prepares, prepares and commits with sequence
 *   numbers beyond the high watermark;
 * - `silent`: sends nothing at all;
 * - `mixed`: a different one of the above for each message.
 */
export class ByzantineNetwork implements PeerNetwork {
  readonly localId: NodeId;
  readonly maxMessageSize: number;
  readonly #inner: PeerNetwork;
  readonly #wire: PbftWire;
  readonly #rng: Rng;
  readonly #ids: readonly string[];
  readonly #behaviour: ByzantineBehaviour;
  readonly #seen: Uint8Array[] = [];
  /** Messages this endpoint corrupted, by behaviour. */
  readonly counts = new Map<string, number>();

  constructor(
    inner: PeerNetwork,
    identity: NodeIdentity,
    replicas: readonly PbftReplicaInfo[],
    behaviour: ByzantineBehaviour,
    rng: Rng,
  ) {
    this.#inner = inner;
    this.localId = inner.localId;
    this.maxMessageSize = inner.maxMessageSize;
    this.#wire = new PbftWire(new PbftKeyring(identity, replicas));
    this.#rng = rng;
    this.#ids = replicas.map((r) => r.id);
    this.#behaviour = behaviour;
  }

  handle(channel: string, handler: PeerMessageHandler): () => void {
    return this.#inner.handle(channel, (from, data) => {
      if (this.#seen.length < 512) this.#seen.push(data);
      else this.#seen[this.#rng.int(0, 511)] = data;
      handler(from, data);
    });
  }

  send(to: NodeId, channel: string, data: Uint8Array): void {
    const b =
      this.#behaviour === 'mixed'
        ? this.#rng.pick(BYZANTINE_BEHAVIOURS.filter((x) => x !== 'mixed' && x !== 'silent'))
        : this.#behaviour;
    if (b === 'silent') {
      this.#count('silent');
      return;
    }
    let p: PbftPayload | undefined;
    try {
      p = PbftWire.peek(data);
    } catch {
      p = undefined;
    }
    const out = (bytes: Uint8Array, why: string) => {
      this.#count(why);
      this.#inner.send(to, channel, bytes);
    };
    const others = this.#ids.filter((i) => i !== this.localId);
    switch (b) {
      case 'equivocate': {
        if (p?.k === 'pp' && this.#ids.indexOf(to) % 2 === 0) {
          const alt = this.#alternative(p);
          out(this.#wire.encodeMac(alt, others), 'equivocate-pp');
          return;
        }
        if ((p?.k === 'p' || p?.k === 'c') && this.#rng.chance(0.5)) {
          const v: VotePayload = { ...p, d: this.#rng.bytes(32) };
          out(this.#wire.encodeMac(v, others), 'equivocate-vote');
          return;
        }
        break;
      }
      case 'forge': {
        if (p && 'i' in p && p.k !== 'ck' && p.k !== 'vc' && p.k !== 'nv' && this.#rng.chance(0.5)) {
          const victim = this.#rng.pick(others);
          const forged = { ...p, i: victim } as MacPayload;
          out(this.#wire.encodeMac(forged, others), 'forge-sender');
        } else if (p?.k === 'req' && this.#rng.chance(0.5)) {
          const forged = { ...p, t: p.t + 1_000_000, o: this.#rng.bytes(8) };
          out(this.#wire.encodeMac(forged, others), 'forge-request');
        }
        break;
      }
      case 'replay': {
        if (this.#seen.length > 0 && this.#rng.chance(0.5)) {
          const old = this.#rng.pick(this.#seen);
          out(old, 'replay');
        }
        break;
      }
      case 'bad-auth': {
        if (this.#rng.chance(0.5)) {
          const copy = Uint8Array.from(data);
          // The authenticator or signature sits at the end of the envelope.
          const at = copy.length - 1 - this.#rng.int(0, Math.min(15, copy.length - 1));
          copy[at]! ^= 1 << this.#rng.int(0, 7);
          out(copy, 'bad-auth');
          return;
        }
        break;
      }
      case 'watermark': {
        if (p && (p.k === 'pp' || p.k === 'p' || p.k === 'c') && this.#rng.chance(0.5)) {
          const far = { ...p, n: p.n + this.#rng.int(1_000, 1_000_000) };
          out(this.#wire.encodeMac(far as MacPayload, others), 'watermark');
        }
        break;
      }
    }
    this.#inner.send(to, channel, data);
  }

  /** The same sequence number with another batch: one request fewer, or the null batch. */
  #alternative(p: PrePreparePayload): PrePreparePayload {
    const b: readonly BatchItem[] = p.b.length > 1 ? p.b.slice(1) : [];
    return { ...p, b, d: batchDigest(b) };
  }

  #count(why: string): void {
    this.counts.set(why, (this.counts.get(why) ?? 0) + 1);
  }
}
