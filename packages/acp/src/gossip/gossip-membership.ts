import {
  type Clock,
  type Logger,
  type Metrics,
  NovacronError,
  type PeerNetwork,
  type Rng,
  type Startable,
  type Timer,
  noopMetrics,
} from '@novacron/core';
import { GossipErrorCode as AcpErrorCode } from '../errors.js';
import { type GossipConfig, type GossipProfileName, resolveGossipConfig } from './config.js';
import type { UserEvent } from './messages.js';
import { type MemberEvent, type MemberInfo, SwimCore, type SwimCoreStats } from './swim-core.js';
import {
  GOSSIP_CHANNEL,
  MAX_GOSSIP_ADDRESS_LENGTH,
  MAX_GOSSIP_ID_LENGTH,
  MAX_GOSSIP_META_BYTES,
  SwimWireCodec,
} from './wire.js';

/** A seed: a member id, optionally with the address the network needs to reach it. */
export type GossipSeed = string | { readonly id: string; readonly address: string };

/** Where learned addresses go: a network that addresses peers by id needs to know where they are (amst's `UdpPeerNetwork.addPeer`). */
export interface GossipAddressBook {
  /** Records that `id` is reachable at `address`. */
  addPeer(id: string, address: string): void;
}

/** What {@link GossipMembership} takes. */
export interface GossipMembershipInit {
  /** Datagrams to and from the other members; `network.localId` is this member's id. */
  readonly network: PeerNetwork;
  /** Time source for probes, timeouts and gossip rounds. */
  readonly clock: Clock;
  /** Randomness for probe order and targets. */
  readonly rng: Rng;
  /** Address to advertise (e.g. the UDP `host:port`); default `''`. */
  readonly address?: string;
  /** Metadata to advertise (at most 512 bytes). */
  readonly meta?: Uint8Array;
  /** Members to join through; `start` contacts them and keeps retrying until one answers. */
  readonly seeds?: readonly GossipSeed[];
  /** Receives addresses of members as they are learned. */
  readonly addressBook?: GossipAddressBook;
  /** Profile the configuration starts from (default `lan`). */
  readonly profile?: GossipProfileName;
  /** Overrides of the profile's fields. */
  readonly config?: Partial<GossipConfig>;
  /** Optional logger. */
  readonly logger?: Logger;
  /** Optional metrics. */
  readonly metrics?: Metrics;
}

/** Counters of a running member. */
export interface GossipStats extends SwimCoreStats {
  /** Datagrams sent. */
  sent: number;
  /** Datagrams received and decoded. */
  received: number;
  /** Datagrams dropped because they did not decode. */
  malformed: number;
}

/** Listener for membership changes. */
export type MemberListener = (event: MemberEvent) => void;
/** Listener for user events. */
export type UserEventListener = (event: UserEvent) => void;

/**
 * A gossip membership member (SWIM with Lifeguard, after HashiCorp
 * memberlist) over any {@link PeerNetwork}: amst's UDP binding in
 * production, testkit's `SimNetwork` in simulation. The thin runtime around
 * {@link SwimCore}: it owns one timer on the injected clock, encodes and
 * decodes datagrams (hostile ones are counted and dropped), feeds learned
 * addresses to the address book and delivers events to listeners.
 *
 * ```ts
 * const gossip = new GossipMembership({ network, clock, rng, seeds: ['node-a'] });
 * gossip.onMember((e) => console.log(e.kind, e.member.id));
 * await gossip.start();
 * ```
 */
export class GossipMembership implements Startable {
  /** The configuration in force. */
  readonly config: GossipConfig;
  readonly #init: GossipMembershipInit;
  readonly #codec = new SwimWireCodec();
  readonly #memberListeners = new Set<MemberListener>();
  readonly #eventListeners = new Set<UserEventListener>();
  readonly #joinWaiters = new Set<(seed: string) => void>();
  readonly #stopWaiters = new Set<() => void>();
  readonly #core: SwimCore;
  readonly #counters = { sent: 0, received: 0, malformed: 0 };
  readonly #eventsCounter;
  readonly #healthGauge;
  readonly #membersGauge;
  readonly #malformedCounter;
  #timer: Timer | undefined;
  #timerAt: number | undefined;
  #unhandle: (() => void) | undefined;
  #state: 'new' | 'started' | 'stopped' = 'new';

  /** @throws `ACP_GOSSIP_CONFIG_INVALID` for a bad configuration, seed, address or metadata. */
  constructor(init: GossipMembershipInit) {
    this.config = resolveGossipConfig(init.config ?? {}, init.profile ?? 'lan');
    const id = init.network.localId;
    const bad = (field: string, expected: string) =>
      new NovacronError(AcpErrorCode.GOSSIP_CONFIG_INVALID, `gossip: ${field} must be ${expected}`, {
        details: { field, expected },
      });
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_GOSSIP_ID_LENGTH) {
      throw bad('network.localId', `a non-empty id of at most ${MAX_GOSSIP_ID_LENGTH} characters`);
    }
    if (
      init.address !== undefined &&
      (typeof init.address !== 'string' || init.address.length > MAX_GOSSIP_ADDRESS_LENGTH)
    ) {
      throw bad('address', `a string of at most ${MAX_GOSSIP_ADDRESS_LENGTH} characters`);
    }
    if (init.meta !== undefined && (!(init.meta instanceof Uint8Array) || init.meta.length > MAX_GOSSIP_META_BYTES)) {
      throw bad('meta', `at most ${MAX_GOSSIP_META_BYTES} bytes`);
    }
    for (const s of init.seeds ?? []) {
      const sid = typeof s === 'string' ? s : s?.id;
      if (typeof sid !== 'string' || sid.length === 0 || sid.length > MAX_GOSSIP_ID_LENGTH) {
        throw bad('seeds', 'ids (or { id, address }) of at most 256 characters');
      }
      if (typeof s !== 'string' && typeof s.address !== 'string')
        throw bad('seeds', '{ id, address } with a string address');
    }
    if (init.network.maxMessageSize < 512) throw bad('network.maxMessageSize', 'at least 512 bytes');
    this.#init = init;
    this.#core = new SwimCore({
      id,
      config: this.config,
      rng: init.rng,
      maxMessageSize: init.network.maxMessageSize,
      now: init.clock.now(),
      ...(init.address !== undefined ? { address: init.address } : {}),
      ...(init.meta !== undefined ? { meta: init.meta.slice() } : {}),
    });
    this.#eventsCounter = (init.metrics ?? noopMetrics()).counter({
      name: 'novacron_acp_gossip_member_events_total',
      help: 'Membership changes seen by this gossip member, by kind.',
      labelNames: ['kind'],
    });
    const metrics = init.metrics ?? noopMetrics();
    this.#healthGauge = metrics.gauge({
      name: 'novacron_acp_gossip_local_health',
      help: "Lifeguard's local health score of this gossip member (0 is healthy).",
    });
    this.#membersGauge = metrics.gauge({
      name: 'novacron_acp_gossip_members',
      help: 'Members this gossip member knows, by status.',
      labelNames: ['status'],
    });
    this.#malformedCounter = metrics.counter({
      name: 'novacron_acp_gossip_malformed_total',
      help: 'Gossip datagrams dropped because they did not decode.',
    });
  }

  /** This member's id. */
  get id(): string {
    return this.#core.id;
  }

  /** The deterministic core (for inspection by tests and tools). */
  get core(): SwimCore {
    return this.#core;
  }

  /** Lifeguard's local health score (0 is healthy; probes are scaled by score + 1). */
  get localHealth(): number {
    return this.#core.localHealth;
  }

  /** Counters. */
  stats(): GossipStats {
    return { ...this.#core.stats, ...this.#counters };
  }

  /** Every known member, this one included (dead and left ones until forgotten). */
  members(): MemberInfo[] {
    return this.#core.members();
  }

  /** Members currently alive or suspect, this one included. */
  liveMembers(): MemberInfo[] {
    return this.#core.members().filter((m) => m.status === 'alive' || m.status === 'suspect');
  }

  /** One member, if known. */
  member(id: string): MemberInfo | undefined {
    return this.#core.member(id);
  }

  /** Calls `listener` on every membership change; returns an unsubscribe function. */
  onMember(listener: MemberListener): () => void {
    this.#memberListeners.add(listener);
    return () => this.#memberListeners.delete(listener);
  }

  /** Calls `listener` on every user event (once per event, own events included); returns an unsubscribe function. */
  onUserEvent(listener: UserEventListener): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /**
   * Membership changes as an async stream, ending when `signal` aborts or the
   * member stops. At most `buffer` (default 1024) unread events are kept; the
   * oldest are dropped beyond that.
   */
  async *memberEvents(options: { signal?: AbortSignal; buffer?: number } = {}): AsyncGenerator<MemberEvent> {
    const limit = options.buffer ?? 1024;
    const queue: MemberEvent[] = [];
    let wake: (() => void) | undefined;
    const off = this.onMember((e) => {
      if (queue.length >= limit) queue.shift();
      queue.push(e);
      wake?.();
    });
    const onAbort = () => wake?.();
    options.signal?.addEventListener('abort', onAbort);
    const stopWaiter = () => wake?.();
    this.#stopWaiters.add(stopWaiter);
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (options.signal?.aborted || this.#state === 'stopped') return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      off();
      this.#stopWaiters.delete(stopWaiter);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Starts probing and gossip, and contacts the seeds (without waiting for them: see {@link GossipMembership.join}). */
  start(): void {
    if (this.#state !== 'new') return;
    this.#state = 'started';
    this.#unhandle = this.#init.network.handle(GOSSIP_CHANNEL, (from, data) => this.#receive(from, data));
    this.#core.start(this.#init.clock.now());
    const seeds = this.#init.seeds ?? [];
    if (seeds.length > 0) this.#startJoin(seeds);
    this.#pump();
  }

  /** Stops at once, without announcing anything (see {@link GossipMembership.leave}). */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#unhandle?.();
    for (const w of this.#stopWaiters) w();
  }

  /**
   * Joins through `seeds` and resolves with the first seed that answered.
   *
   * @throws `ACP_GOSSIP_JOIN_FAILED` when none answers within `timeoutMs`
   *   (default: 5 join attempts); attempts continue in the background.
   */
  join(seeds: readonly GossipSeed[], options: { timeoutMs?: number } = {}): Promise<string> {
    if (this.#state !== 'started') return Promise.reject(this.#notStarted('join'));
    const timeoutMs = options.timeoutMs ?? this.config.joinRetryMs * 5;
    return new Promise<string>((resolve, reject) => {
      let timer: Timer | undefined;
      // A stop ends the wait at once: its timer must not outlive the member (it would hold the process open).
      const onStop = () => {
        timer?.cancel();
        this.#joinWaiters.delete(done);
        this.#stopWaiters.delete(onStop);
        reject(this.#notStarted('join'));
      };
      const done = (seed: string) => {
        timer?.cancel();
        this.#joinWaiters.delete(done);
        this.#stopWaiters.delete(onStop);
        resolve(seed);
      };
      this.#joinWaiters.add(done);
      this.#stopWaiters.add(onStop);
      timer = this.#init.clock.setTimeout(() => {
        this.#joinWaiters.delete(done);
        this.#stopWaiters.delete(onStop);
        reject(
          new NovacronError(AcpErrorCode.GOSSIP_JOIN_FAILED, `gossip: no seed answered within ${timeoutMs} ms`, {
            details: { seeds: seeds.map((s) => (typeof s === 'string' ? s : s.id)), timeoutMs },
          }),
        );
      }, timeoutMs);
      this.#startJoin(seeds);
      this.#pump();
    });
  }

  /**
   * Leaves gracefully: announces the departure (other members see `left`,
   * not `dead`), waits until the announcement has gone out or
   * `leaveTimeoutMs` passed, then stops.
   */
  async leave(): Promise<void> {
    if (this.#state !== 'started') return;
    // Alone in the cluster nobody can hear the announcement: waiting for it would only delay shutdown.
    if (this.liveMembers().length <= 1) {
      this.stop();
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = this.#init.clock.setTimeout(resolve, this.config.leaveTimeoutMs);
      this.#core.leave(this.#init.clock.now(), () => {
        timer.cancel();
        resolve();
      });
      this.#pump();
    });
    this.stop();
  }

  /**
   * Broadcasts a user event to every member (Lamport-stamped, deduplicated;
   * delivered to this member's listeners too).
   *
   * @throws `ACP_GOSSIP_EVENT_INVALID` for a bad name or a payload too large for one datagram.
   */
  broadcastEvent(name: string, payload: Uint8Array = new Uint8Array(0)): UserEvent {
    if (this.#state !== 'started') throw this.#notStarted('broadcastEvent');
    const limit = Math.min(this.config.packetBytes, this.#init.network.maxMessageSize) - 160 - 3 * MAX_GOSSIP_ID_LENGTH;
    if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
      throw new NovacronError(AcpErrorCode.GOSSIP_EVENT_INVALID, 'gossip: event name must be 1..128 characters', {
        details: { field: 'name' },
      });
    }
    if (!(payload instanceof Uint8Array) || payload.length > limit) {
      throw new NovacronError(
        AcpErrorCode.GOSSIP_EVENT_INVALID,
        `gossip: event payload must be at most ${limit} bytes`,
        {
          details: { field: 'payload', limit },
        },
      );
    }
    const e = this.#core.broadcastEvent(name, payload.slice(), this.#init.clock.now());
    this.#pump();
    return e;
  }

  /**
   * Advertises new metadata (raising this member's incarnation, so the
   * change wins everywhere); other members see an `update` event.
   *
   * @throws `ACP_GOSSIP_CONFIG_INVALID` for metadata over 512 bytes.
   */
  updateMeta(meta: Uint8Array): void {
    if (this.#state !== 'started') throw this.#notStarted('updateMeta');
    if (!(meta instanceof Uint8Array) || meta.length > MAX_GOSSIP_META_BYTES) {
      throw new NovacronError(
        AcpErrorCode.GOSSIP_CONFIG_INVALID,
        `gossip: meta must be at most ${MAX_GOSSIP_META_BYTES} bytes`,
        {
          details: { field: 'meta', expected: `at most ${MAX_GOSSIP_META_BYTES} bytes` },
        },
      );
    }
    this.#core.setMeta(meta.slice(), this.#init.clock.now());
    this.#pump();
  }

  #startJoin(seeds: readonly GossipSeed[]): void {
    const ids: string[] = [];
    for (const s of seeds) {
      if (typeof s === 'string') ids.push(s);
      else {
        this.#init.addressBook?.addPeer(s.id, s.address);
        ids.push(s.id);
      }
    }
    this.#core.join(ids, this.#init.clock.now());
  }

  #receive(from: string, data: Uint8Array): void {
    if (this.#state !== 'started') return;
    let message: ReturnType<SwimWireCodec['decode']>;
    try {
      message = this.#codec.decode(data);
    } catch (err) {
      this.#counters.malformed++;
      this.#malformedCounter.inc(1);
      this.#init.logger?.debug('gossip: dropped a malformed datagram', { from, error: String(err) });
      return;
    }
    this.#counters.received++;
    this.#core.receive(from, message, this.#init.clock.now());
    this.#pump();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = undefined;
    if (this.#state !== 'started') return;
    this.#core.advance(this.#init.clock.now());
    this.#pump();
  }

  /** Sends what the core produced, delivers its events and re-arms the one timer. */
  #pump(): void {
    const out = this.#core.takeOutput();
    const network = this.#init.network;
    for (const [id, address] of out.addresses) {
      try {
        this.#init.addressBook?.addPeer(id, address);
      } catch (err) {
        this.#init.logger?.debug('gossip: address book refused an address', { id, error: String(err) });
      }
    }
    for (const { to, message } of out.messages) {
      const bytes = this.#codec.encode(message);
      if (bytes.length > network.maxMessageSize) continue;
      network.send(to, GOSSIP_CHANNEL, bytes);
      this.#counters.sent++;
    }
    for (const e of out.events) {
      this.#eventsCounter.inc(1, { kind: e.kind });
      for (const l of this.#memberListeners) this.#safely(() => l(e));
    }
    if (out.events.length > 0 && this.#init.metrics) {
      const counts = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of this.#core.members()) counts[m.status]++;
      for (const [status, n] of Object.entries(counts)) this.#membersGauge.set(n, { status });
    }
    this.#healthGauge.set(this.#core.localHealth);
    for (const e of out.userEvents) for (const l of this.#eventListeners) this.#safely(() => l(e));
    for (const seed of out.joined) for (const w of [...this.#joinWaiters]) w(seed);
    if (this.#state !== 'started') return;
    const next = this.#core.nextDeadline();
    if (next === this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = next;
    this.#timer =
      next === undefined
        ? undefined
        : this.#init.clock.setTimeout(() => this.#fire(), Math.max(0, next - this.#init.clock.now()));
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#init.logger?.warn('gossip: a listener threw', { error: String(err) });
    }
  }

  #notStarted(op: string): NovacronError {
    return new NovacronError(AcpErrorCode.GOSSIP_NOT_STARTED, `gossip: ${op} needs a started member`, {
      details: { op, state: this.#state },
    });
  }
}
