import type { Clock, LinkSample, Logger, NodeId, PeerNetwork, Timer } from '@novacron/core';
import type { MemberChange, MemberInfo, Membership, MemberStatus } from './membership.js';
import { RttProber } from './rtt-prober.js';

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
  readonly #prober: RttProber;
  #timer: Timer | undefined;
  #startedAt = 0;

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
        });
    this.#prober = new RttProber({
      network: init.network,
      clock: init.clock,
      meta: () => this.#meta,
      accept: (from) => this.#peers.has(from), // not a member of this static cluster
      onProbe: (from, meta) => {
        const p = this.#peers.get(from)!;
        p.lastSeenAt = init.clock.now();
        p.meta = meta;
        this.#set(p, 'alive');
      },
      onRtt: (from, rttMs, at, first) => {
        this.#peers.get(from)!.rttMs = rttMs;
        // The first pong's RTT includes connection setup (TCP handshake, peer start-up): it says
        // nothing about the link, and the detector's first sample sets the mode at once.
        if (!first) init.onSample?.(from, { at, rttMs, source: 'node-probe' });
      },
    });
  }

  start(): void {
    if (this.#timer) return;
    this.#startedAt = this.#init.clock.now();
    this.#prober.start();
    this.#timer = this.#init.clock.setInterval(() => this.#round(), this.#init.probeIntervalMs);
    this.#round();
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#prober.stop();
  }

  /** Probes dropped because they did not decode. */
  get malformed(): number {
    return this.#prober.malformed;
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
      this.#prober.ping(p.id);
    }
  }

  #set(p: Peer, status: MemberStatus): void {
    if (p.status === status) return;
    const previous = p.status;
    p.status = status;
    this.#init.logger?.info('member status', { member: p.id, from: previous, to: status });
    const change: MemberChange = { member: this.#info(p), previous, reason: 'probe' };
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
}
