import {
  type GossipAddressBook,
  type GossipConfig,
  GossipMembership,
  type GossipProfileName,
  type MemberEvent,
  type MemberInfo as GossipMemberInfo,
} from '@novacron/acp';
import {
  type Clock,
  decodeMsgpack,
  encodeMsgpack,
  type LinkSample,
  type Logger,
  type Metrics,
  type NodeId,
  type PeerNetwork,
  type Rng,
  type Timer,
} from '@novacron/core';
import type { MemberChange, MemberInfo, Membership, MemberStatus } from './membership.js';
import { RttProber } from './rtt-prober.js';

/** Options of {@link SwimMembership}. */
export interface SwimMembershipInit {
  /** Datagrams to and from the members: a sealed UDP network in a running node. */
  readonly network: PeerNetwork;
  /** Where learned member addresses go (the UDP network's `addPeer`). */
  readonly addressBook?: GossipAddressBook;
  /** Address this member advertises (its UDP `host:port`). */
  readonly localAddress: string;
  /** Members to join through: id → address (this node's own id is skipped). */
  readonly seeds: ReadonlyMap<NodeId, string>;
  readonly clock: Clock;
  readonly rng: Rng;
  /** SWIM timing profile. */
  readonly profile: GossipProfileName;
  /** Overrides of the profile's fields. */
  readonly gossip?: Partial<GossipConfig>;
  /** RTT probe interval per live member, ms (the mode detector's samples). */
  readonly probeIntervalMs: number;
  /**
   * How often to try to rejoin members declared dead (not those that left),
   * ms (default 10 s). SWIM alone never probes the dead, so without this two
   * sides of a healed partition would stay apart (Serf's reconnect does the same).
   */
  readonly reconnectIntervalMs?: number;
  /** Receives every RTT measurement but each member's first (which includes its start-up). */
  readonly onSample?: (peer: NodeId, sample: LinkSample) => void;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

const MAX_META_ENTRIES = 16;

function statusOf(s: GossipMemberInfo['status']): MemberStatus {
  return s === 'alive' ? 'alive' : s === 'suspect' ? 'suspect' : 'down';
}

/** Decodes advertised meta (a MessagePack map of strings); `{}` for anything else. */
export function decodeMemberMeta(bytes: Uint8Array): Record<string, string> {
  if (bytes.length === 0) return {};
  let v: unknown;
  try {
    v = decodeMsgpack(bytes);
  } catch {
    return {};
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_META_ENTRIES || entries.some(([, x]) => typeof x !== 'string')) return {};
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * {@link Membership} through acp's SWIM gossip (with Lifeguard): members
 * join through seed addresses and learn every other member from gossip;
 * failure detection is SWIM's (direct and indirect probes, suspicion
 * refutable by the suspect), so one member's bad link does not mark a
 * healthy member down. `alive`/`suspect` map across; `dead` and `left` are
 * `down`. Advertised facts travel as SWIM metadata (MessagePack, at most
 * 512 bytes). RTT probes (docs/protocol/node-probe.md) run on the same
 * network to every live member and feed the mode detector, since SWIM's
 * own probes are for liveness only.
 */
export class SwimMembership implements Membership {
  readonly localId: NodeId;
  /** The gossip member (for inspection: stats, local health). */
  readonly gossip: GossipMembership;
  readonly #init: SwimMembershipInit;
  readonly #prober: RttProber;
  readonly #listeners = new Set<(c: MemberChange) => void>();
  readonly #status = new Map<NodeId, MemberStatus>();
  readonly #rtt = new Map<NodeId, number>();
  readonly #seen = new Map<NodeId, number>();
  readonly #meta: Record<string, string> = {};
  #timer: Timer | undefined;
  #reconnectTimer: Timer | undefined;
  #unsubscribe: (() => void) | undefined;
  #started = false;

  constructor(init: SwimMembershipInit) {
    this.#init = init;
    this.localId = init.network.localId;
    this.gossip = new GossipMembership({
      network: init.network,
      clock: init.clock,
      rng: init.rng,
      address: init.localAddress,
      seeds: [...init.seeds].filter(([id]) => id !== this.localId).map(([id, address]) => ({ id, address })),
      profile: init.profile,
      ...(init.gossip ? { config: init.gossip } : {}),
      ...(init.addressBook ? { addressBook: init.addressBook } : {}),
      ...(init.logger ? { logger: init.logger } : {}),
      ...(init.metrics ? { metrics: init.metrics } : {}),
    });
    this.#prober = new RttProber({
      network: init.network,
      clock: init.clock,
      accept: (from) => this.gossip.member(from) !== undefined,
      onProbe: (from) => this.#seen.set(from, init.clock.now()),
      onRtt: (from, rttMs, at, first) => {
        this.#rtt.set(from, rttMs);
        if (!first) init.onSample?.(from, { at, rttMs, source: 'node-probe' });
      },
    });
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#unsubscribe = this.gossip.onMember((e) => this.#onMember(e));
    this.gossip.start();
    if (Object.keys(this.#meta).length > 0) this.#advertise();
    this.#prober.start();
    this.#timer = this.#init.clock.setInterval(() => this.#probeRound(), this.#init.probeIntervalMs);
    this.#reconnectTimer = this.#init.clock.setInterval(
      () => this.#reconnect(),
      this.#init.reconnectIntervalMs ?? 10_000,
    );
  }

  /** Leaves gracefully (others see `left` at once instead of waiting for failure detection), then stops. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#reconnectTimer?.cancel();
    this.#reconnectTimer = undefined;
    try {
      await this.gossip.leave();
    } finally {
      this.gossip.stop();
      this.#prober.stop();
      this.#unsubscribe?.();
    }
  }

  setLocalMeta(key: string, value: string): void {
    this.#meta[key] = value;
    if (this.#started) this.#advertise();
  }

  members(): MemberInfo[] {
    const now = this.#init.clock.now();
    return this.gossip
      .members()
      .map((m): MemberInfo => {
        if (m.id === this.localId)
          return { id: m.id, address: m.address, status: 'alive', lastSeenAt: now, meta: { ...this.#meta } };
        const seen = this.#seen.get(m.id);
        const rtt = this.#rtt.get(m.id);
        return {
          id: m.id,
          address: m.address,
          status: statusOf(m.status),
          ...(seen === undefined ? {} : { lastSeenAt: seen }),
          ...(rtt === undefined ? {} : { rttMs: rtt }),
          meta: decodeMemberMeta(m.meta),
        };
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  onChange(listener: (change: MemberChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Probes dropped because they did not decode. */
  get malformed(): number {
    return this.#prober.malformed;
  }

  #advertise(): void {
    try {
      this.gossip.updateMeta(encodeMsgpack(this.#meta));
    } catch (err) {
      this.#init.logger?.warn('member meta not advertised', { error: (err as Error).message });
    }
  }

  #probeRound(): void {
    for (const m of this.gossip.liveMembers()) if (m.id !== this.localId) this.#prober.ping(m.id);
  }

  #reconnect(): void {
    const dead = this.gossip
      .members()
      .filter((m) => m.status === 'dead' && m.id !== this.localId)
      .map((m) => ({ id: m.id, address: m.address }));
    if (dead.length === 0) return;
    this.gossip.join(dead, { timeoutMs: this.#init.reconnectIntervalMs ?? 10_000 }).catch(() => undefined);
  }

  #onMember(e: MemberEvent): void {
    const id = e.member.id;
    if (id === this.localId) return;
    const status = statusOf(e.member.status);
    const previous = this.#status.get(id);
    if (previous === status && e.kind !== 'join') return;
    this.#status.set(id, status);
    // A member back from the dead restarted: its first pong again includes its start-up.
    if (e.kind === 'join') this.#prober.forget(id);
    if (status === 'down') this.#rtt.delete(id);
    this.#init.logger?.info('member status', { member: id, from: previous, to: status, event: e.kind });
    const member = this.members().find((m) => m.id === id);
    if (!member) return;
    const change: MemberChange = { member, previous, reason: e.kind };
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
