import {
  type Clock,
  decodeMsgpack,
  encodeMsgpack,
  type LinkSample,
  type Logger,
  type NodeId,
  type PeerNetwork,
  type Timer,
} from '@novacron/core';
import type { MemberChange, MemberInfo, Membership, MemberStatus } from './membership.js';

/** Channel the probes use on the peer network (docs/protocol/node-probe.md). */
export const PROBE_CHANNEL = 'node/probe';
const VERSION = 1;
const PING = 0;
const PONG = 1;
const MAX_META_ENTRIES = 16;
const MAX_META_CHARS = 512;

/** Options of {@link StaticMembership}. */
export interface StaticMembershipInit {
  /** Messages to and from peers. */
  readonly network: PeerNetwork;
  /** Peer-network address of this node (advertised in its own entry). */
  readonly localAddress: string;
  /** The other members: id → address (this node's id is ignored if present). */
  readonly seeds: ReadonlyMap<NodeId, string>;
  /** Time for probes and timeouts. */
  readonly clock: Clock;
  /** Probe every peer this often, in ms. */
  readonly probeIntervalMs: number;
  /** A peer silent for this long is `down`; for half of it, `suspect`. */
  readonly failAfterMs: number;
  /** Receives every RTT measurement (feeds the mode detector). */
  readonly onSample?: (peer: NodeId, sample: LinkSample) => void;
  /** Optional logger. */
  readonly logger?: Logger;
}

interface Peer {
  id: NodeId;
  address: string;
  status: MemberStatus;
  lastSeenAt: number | undefined;
  rttMs: number | undefined;
  meta: Record<string, string>;
  pongs: number;
}

/**
 * {@link Membership} with a fixed member list from configuration and
 * liveness from probes: every `probeIntervalMs` each peer gets a ping on
 * {@link PROBE_CHANNEL}; its pong gives an RTT sample (on this node's own
 * clock, so no clock sync is needed) and carries the peer's advertised
 * meta. Any probe from a peer counts as a sign of life. A peer silent for
 * `failAfterMs / 2` is `suspect`, for `failAfterMs` `down`. Malformed probes
 * are dropped (and counted), never thrown.
 */
export class StaticMembership implements Membership {
  readonly localId: NodeId;
  readonly #init: StaticMembershipInit;
  readonly #peers = new Map<NodeId, Peer>();
  readonly #listeners = new Set<(c: MemberChange) => void>();
  readonly #meta: Record<string, string> = {};
  #nonce = 0;
  #timer: Timer | undefined;
  #unhandle: (() => void) | undefined;
  #startedAt = 0;
  /** Probes dropped because they did not decode. */
  malformed = 0;

  constructor(init: StaticMembershipInit) {
    this.#init = init;
    this.localId = init.network.localId;
    for (const [id, address] of init.seeds)
      if (id !== this.localId)
        this.#peers.set(id, {
          id,
          address,
          status: 'alive',
          lastSeenAt: undefined,
          rttMs: undefined,
          meta: {},
          pongs: 0,
        });
  }

  start(): void {
    if (this.#timer) return;
    this.#startedAt = this.#init.clock.now();
    this.#unhandle = this.#init.network.handle(PROBE_CHANNEL, (from, data) => this.#receive(from, data));
    this.#timer = this.#init.clock.setInterval(() => this.#round(), this.#init.probeIntervalMs);
    this.#round();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#unhandle?.();
    this.#unhandle = undefined;
  }

  setLocalMeta(key: string, value: string): void {
    this.#meta[key] = value;
  }

  members(): MemberInfo[] {
    const self: MemberInfo = {
      id: this.localId,
      address: this.#init.localAddress,
      status: 'alive',
      lastSeenAt: this.#init.clock.now(),
      meta: { ...this.#meta },
    };
    const others = [...this.#peers.values()].map((p) => this.#info(p));
    return [self, ...others].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  onChange(listener: (change: MemberChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #info(p: Peer): MemberInfo {
    return {
      id: p.id,
      address: p.address,
      status: p.status,
      ...(p.lastSeenAt === undefined ? {} : { lastSeenAt: p.lastSeenAt }),
      ...(p.rttMs === undefined ? {} : { rttMs: p.rttMs }),
      meta: { ...p.meta },
    };
  }

  #round(): void {
    const now = this.#init.clock.now();
    for (const p of this.#peers.values()) {
      // A peer never heard from is measured from our own start.
      const silent = now - (p.lastSeenAt ?? this.#startedAt);
      const status: MemberStatus =
        silent >= this.#init.failAfterMs ? 'down' : silent >= this.#init.failAfterMs / 2 ? 'suspect' : 'alive';
      if (p.lastSeenAt !== undefined || status === 'down') this.#set(p, status);
      this.#init.network.send(p.id, PROBE_CHANNEL, encodeMsgpack([VERSION, PING, ++this.#nonce, now, this.#meta]));
    }
  }

  #set(p: Peer, status: MemberStatus): void {
    if (p.status === status) return;
    const previous = p.status;
    p.status = status;
    this.#init.logger?.info('member status', { member: p.id, from: previous, to: status });
    const change = { member: this.#info(p), previous };
    for (const l of [...this.#listeners]) {
      try {
        l(change);
      } catch (err) {
        this.#init.logger?.warn('membership listener failed', {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    }
  }

  #receive(from: NodeId, data: Uint8Array): void {
    const p = this.#peers.get(from);
    if (!p) return; // not a member of this static cluster
    const msg = decodeProbe(data);
    if (!msg) {
      this.malformed++;
      return;
    }
    const now = this.#init.clock.now();
    p.lastSeenAt = now;
    p.meta = msg.meta;
    if (msg.kind === PING) {
      this.#init.network.send(from, PROBE_CHANNEL, encodeMsgpack([VERSION, PONG, msg.nonce, msg.sentAt, this.#meta]));
    } else if (msg.sentAt <= now && now - msg.sentAt < 3_600_000) {
      p.rttMs = now - msg.sentAt;
      // The first pong's RTT includes connection setup (TCP handshake, peer start-up): it says
      // nothing about the link, and the detector's first sample sets the mode at once.
      if (p.pongs++ > 0) this.#init.onSample?.(from, { at: now, rttMs: p.rttMs, source: 'node-probe' });
    }
    this.#set(p, 'alive');
  }
}

interface Probe {
  kind: number;
  nonce: number;
  sentAt: number;
  meta: Record<string, string>;
}

/** Decodes a probe; `undefined` when malformed (wrong version, types, sizes). */
export function decodeProbe(data: Uint8Array): Probe | undefined {
  if (data.length > 8192) return undefined;
  let v: unknown;
  try {
    v = decodeMsgpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 5 || v[0] !== VERSION) return undefined;
  const [, kind, nonce, sentAt, meta] = v as unknown[];
  if (
    (kind !== PING && kind !== PONG) ||
    !Number.isSafeInteger(nonce) ||
    typeof sentAt !== 'number' ||
    !Number.isFinite(sentAt)
  )
    return undefined;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const entries = Object.entries(meta as Record<string, unknown>);
  if (entries.length > MAX_META_ENTRIES) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of entries) {
    if (typeof x !== 'string' || k.length + x.length > MAX_META_CHARS) return undefined;
    out[k] = x;
  }
  return { kind: kind as number, nonce: nonce as number, sentAt, meta: out };
}
