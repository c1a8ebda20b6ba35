import type { Rng } from '@novacron/core';
import { LocalHealth } from './awareness.js';
import { BroadcastQueue } from './broadcast-queue.js';
import type { GossipConfig } from './config.js';
import type { GossipItem, MemberSnapshot, MemberStatus, SwimMessage, UserEvent } from './messages.js';
import { Suspicion, minSuspicionTimeout, pushPullScale, retransmitLimit } from './suspicion.js';
import { datagramOverhead, gossipItemSize } from './wire.js';

/** A member as this member currently sees it. */
export interface MemberInfo {
  /** Node id (its id on the `PeerNetwork`). */
  readonly id: string;
  /** Address it advertises (`''` when none). */
  readonly address: string;
  /** Its incarnation number: only it may raise it, to refute a suspicion. */
  readonly incarnation: number;
  /** Its status. */
  readonly status: MemberStatus;
  /** Application metadata it advertises. */
  readonly meta: Uint8Array;
  /** Local time of the last status change, ms. */
  readonly since: number;
}

/** Kinds of membership change. */
export type MemberEventKind = 'join' | 'alive' | 'suspect' | 'dead' | 'left' | 'update';

/**
 * A membership change seen by this member: `join` (a new member, or one
 * back after being dead or gone), `alive` (a suspicion refuted), `suspect`,
 * `dead`, `left` (graceful leave), `update` (new address or metadata).
 */
export interface MemberEvent {
  /** What happened. */
  readonly kind: MemberEventKind;
  /** The member after the change. */
  readonly member: MemberInfo;
  /** Local time, ms. */
  readonly at: number;
  /** For `suspect` and `dead`: who accused it. */
  readonly from?: string;
}

/** A datagram the core wants sent. */
export interface SwimOutgoing {
  /** Recipient id. */
  readonly to: string;
  /** The message. */
  readonly message: SwimMessage;
}

/** Everything the core produced since the last {@link SwimCore.takeOutput}. */
export interface SwimOutput {
  /** Datagrams to send. */
  readonly messages: SwimOutgoing[];
  /** Membership changes. */
  readonly events: MemberEvent[];
  /** User events delivered (each once). */
  readonly userEvents: UserEvent[];
  /** Newly learned member addresses (`[id, address]`), for the network's address book. */
  readonly addresses: [string, string][];
  /** Seeds that answered a join request. */
  readonly joined: string[];
}

/** What {@link SwimCore} takes. */
export interface SwimCoreInit {
  /** This member's id. */
  readonly id: string;
  /** Address to advertise (default `''`). */
  readonly address?: string;
  /** Metadata to advertise (default empty). */
  readonly meta?: Uint8Array;
  /** A validated configuration (`resolveGossipConfig`). */
  readonly config: GossipConfig;
  /** Randomness for probe order, indirect and gossip targets. */
  readonly rng: Rng;
  /** Largest datagram the network carries (push-pull fills up to it). */
  readonly maxMessageSize: number;
  /** Local time at creation, ms. */
  readonly now: number;
}

interface Record_ {
  id: string;
  address: string;
  incarnation: number;
  status: MemberStatus;
  meta: Uint8Array;
  since: number;
  suspicion: Suspicion | undefined;
  suspicionTimer: CoreTimer | undefined;
}

interface CoreTimer {
  at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

interface AckHandler {
  ack(): void;
  nack?(): void;
}

/** Counters for tests, tools and metrics. */
export interface SwimCoreStats {
  /** Probes started. */
  probes: number;
  /** Probes that ended without any ack. */
  failedProbes: number;
  /** Suspicions this member raised from its own failed probes. */
  suspicionsRaised: number;
  /** Times this member refuted an accusation about itself. */
  refutations: number;
  /** Push-pull exchanges answered or started. */
  pushPulls: number;
}

const EMPTY = new Uint8Array(0);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * SWIM with Lifeguard as a deterministic state machine (the model is
 * HashiCorp memberlist). It does no I/O and reads no clock: the caller
 * passes the local time into every call, runs {@link SwimCore.advance} at
 * {@link SwimCore.nextDeadline}, and sends what {@link SwimCore.takeOutput}
 * returns. Given the same inputs and seed it makes the same decisions.
 *
 * Failure detection: one probe per (health-scaled) interval, to members in
 * random round-robin order; on a missed ack, `indirectChecks` members probe
 * on our behalf (and nack if they cannot reach the target); with no ack by
 * the end of the interval the target becomes suspect. Suspicions expire
 * into `dead` after a timeout that shrinks as other members independently
 * confirm them; the suspected member refutes by raising its incarnation.
 * Dissemination: every datagram piggybacks queued gossip, each item sent a
 * bounded number of times; gossip rounds push it to a few random members;
 * push-pull periodically exchanges full state with one random member.
 */
export class SwimCore {
  /** This member's id. */
  readonly id: string;
  readonly #config: GossipConfig;
  readonly #rng: Rng;
  readonly #maxMessageSize: number;
  readonly #members = new Map<string, Record_>();
  readonly #self: Record_;
  readonly #queue = new BroadcastQueue();
  readonly #health: LocalHealth;
  readonly #timers: CoreTimer[] = [];
  readonly #acks = new Map<number, AckHandler>();
  #timerSeq = 0;
  #now: number;
  #seq = 0;
  #probeList: string[] = [];
  #probeIndex = 0;
  #started = false;
  #leaving = false;
  #ltime = 0;
  readonly #eventBuffer = new Map<number, UserEvent[]>();
  #joinSeeds = new Set<string>();
  #joinTimer: CoreTimer | undefined;
  #out: SwimOutput = { messages: [], events: [], userEvents: [], addresses: [], joined: [] };
  /** Counters. */
  readonly stats: SwimCoreStats = { probes: 0, failedProbes: 0, suspicionsRaised: 0, refutations: 0, pushPulls: 0 };

  constructor(init: SwimCoreInit) {
    this.id = init.id;
    this.#config = init.config;
    this.#rng = init.rng;
    this.#maxMessageSize = init.maxMessageSize;
    this.#now = init.now;
    this.#health = new LocalHealth(init.config.lifeguard ? init.config.awarenessMaxMultiplier : 1);
    this.#self = {
      id: init.id,
      address: init.address ?? '',
      incarnation: 0,
      status: 'alive',
      meta: init.meta ?? EMPTY,
      since: init.now,
      suspicion: undefined,
      suspicionTimer: undefined,
    };
    this.#members.set(init.id, this.#self);
  }

  /** Lifeguard's local health score (0 is healthy). */
  get localHealth(): number {
    return this.#health.score;
  }

  /** This member's incarnation number. */
  get incarnation(): number {
    return this.#self.incarnation;
  }

  /** This member's Lamport clock for user events. */
  get eventTime(): number {
    return this.#ltime;
  }

  /** True once {@link SwimCore.leave} was called. */
  get leaving(): boolean {
    return this.#leaving;
  }

  /** Gossip items waiting to be disseminated. */
  get pendingBroadcasts(): number {
    return this.#queue.size;
  }

  /** Every known member (this one included), dead and left ones until they are forgotten. */
  members(): MemberInfo[] {
    return [...this.#members.values()].map((m) => this.#info(m));
  }

  /** One member, if known. */
  member(id: string): MemberInfo | undefined {
    const m = this.#members.get(id);
    return m && this.#info(m);
  }

  /** Members alive or suspect, this one included: the `n` of memberlist's formulas. */
  get liveCount(): number {
    let n = 0;
    for (const m of this.#members.values()) if (m.status === 'alive' || m.status === 'suspect') n++;
    return n;
  }

  /** Starts probing, gossip and push-pull. */
  start(now: number): void {
    this.#now = now;
    if (this.#started) return;
    this.#started = true;
    const c = this.#config;
    // Random phases keep members that start together from probing in lockstep.
    this.#after(now + this.#rng.int(0, c.probeIntervalMs - 1), () => this.#probeTick());
    this.#after(now + this.#rng.int(0, c.gossipIntervalMs - 1), () => this.#gossipTick());
    if (c.pushPullIntervalMs > 0) this.#after(now + this.#rng.int(1, c.pushPullIntervalMs), () => this.#pushPullTick());
    this.#queue.enqueue(this.#aliveItem(this.#self));
  }

  /**
   * Contacts `seeds` with a join push-pull, repeating every `joinRetryMs`
   * until one answers (reported in {@link SwimOutput.joined}).
   */
  join(seeds: readonly string[], now: number): void {
    this.#now = now;
    for (const s of seeds) if (s !== this.id) this.#joinSeeds.add(s);
    this.#sendJoin();
  }

  /**
   * Starts a graceful leave: this member announces it is leaving and stops
   * probing. `onAnnounced` runs once the announcement has been sent its
   * full number of times.
   */
  leave(now: number, onAnnounced?: () => void): void {
    this.#now = now;
    if (this.#leaving) {
      onAnnounced?.();
      return;
    }
    this.#leaving = true;
    this.#joinSeeds.clear();
    this.#self.status = 'left';
    this.#self.since = now;
    this.#queue.enqueue({ kind: 'dead', id: this.id, incarnation: this.#self.incarnation, from: this.id }, onAnnounced);
    this.#emit('left', this.#self);
    this.#gossipRound();
  }

  /** Broadcasts a user event to every member (delivered here too). Returns it. */
  broadcastEvent(name: string, payload: Uint8Array, now: number): UserEvent {
    this.#now = now;
    const event: UserEvent = { origin: this.id, ltime: this.#ltime, name, payload };
    this.#ltime++;
    this.#receiveEvent(event);
    return event;
  }

  /** Changes the advertised metadata (raises the incarnation so it wins everywhere). */
  setMeta(meta: Uint8Array, now: number): void {
    this.#now = now;
    this.#self.meta = meta;
    this.#self.incarnation++;
    this.#queue.enqueue(this.#aliveItem(this.#self));
  }

  /** When the next timer is due, or undefined when none is armed. */
  nextDeadline(): number | undefined {
    let best: CoreTimer | undefined;
    for (let i = this.#timers.length - 1; i >= 0; i--) {
      const t = this.#timers[i]!;
      if (t.cancelled) {
        this.#timers.splice(i, 1);
        continue;
      }
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best?.at;
  }

  /** Runs every timer due at or before `now`, in order. */
  advance(now: number): void {
    this.#now = Math.max(this.#now, now);
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.#timers.length; i++) {
        const t = this.#timers[i]!;
        if (t.cancelled || t.at > now) continue;
        const b = this.#timers[best];
        if (!b || t.at < b.at || (t.at === b.at && t.seq < b.seq)) best = i;
      }
      if (best < 0) break;
      const [t] = this.#timers.splice(best, 1);
      t!.cancelled = true;
      t!.fn();
    }
  }

  /** Handles one datagram from `from`. */
  receive(from: string, m: SwimMessage, now: number): void {
    this.#now = Math.max(this.#now, now);
    if (!this.#started || from === this.id) return;
    // Gossip first: a refutation triggered by a piggybacked suspicion then rides on our answer.
    for (const g of m.gossip) this.#applyItem(g);
    switch (m.kind) {
      case 'ping':
        // Answered while leaving too: silence before the leave notice lands would look like a failure.
        if (m.target !== this.id) return;
        this.#send(from, { kind: 'ack', seq: m.seq, gossip: [] });
        return;
      case 'ping-req':
        if (!this.#leaving) this.#relayProbe(from, m.seq, m.target, m.nack);
        return;
      case 'ack':
        this.#acks.get(m.seq)?.ack();
        return;
      case 'nack':
        this.#acks.get(m.seq)?.nack?.();
        return;
      case 'gossip':
        return;
      case 'push-pull':
        this.#mergePushPull(from, m);
        return;
    }
  }

  /** Takes what the core produced since the last call. */
  takeOutput(): SwimOutput {
    const out = this.#out;
    this.#out = { messages: [], events: [], userEvents: [], addresses: [], joined: [] };
    return out;
  }

  // ---- timers -------------------------------------------------------------

  #after(at: number, fn: () => void): CoreTimer {
    const t: CoreTimer = { at, seq: this.#timerSeq++, fn, cancelled: false };
    this.#timers.push(t);
    return t;
  }

  // ---- probing ------------------------------------------------------------

  #probeTick(): void {
    if (this.#leaving) return;
    const c = this.#config;
    const interval = this.#health.scale(c.probeIntervalMs);
    this.#after(this.#now + interval, () => this.#probeTick());
    const target = this.#nextProbeTarget();
    if (target) this.#probe(target, interval);
  }

  #nextProbeTarget(): Record_ | undefined {
    for (let checked = 0; checked <= this.#probeList.length; checked++) {
      if (this.#probeIndex >= this.#probeList.length) {
        this.#resetProbeList();
        if (this.#probeList.length === 0) return undefined;
      }
      const m = this.#members.get(this.#probeList[this.#probeIndex++]!);
      if (m && m.id !== this.id && (m.status === 'alive' || m.status === 'suspect')) return m;
    }
    return undefined;
  }

  #resetProbeList(): void {
    // Forget members dead (or gone) for longer than gossipToTheDead; the rest are probed in a fresh random order.
    for (const [id, m] of this.#members) {
      if (id !== this.id && (m.status === 'dead' || m.status === 'left')) {
        if (this.#now - m.since > this.#config.gossipToTheDeadMs) this.#members.delete(id);
      }
    }
    this.#probeList = this.#rng.shuffle(
      [...this.#members.values()]
        .filter((m) => m.id !== this.id && (m.status === 'alive' || m.status === 'suspect'))
        .map((m) => m.id),
    );
    this.#probeIndex = 0;
  }

  #probe(target: Record_, interval: number): void {
    const c = this.#config;
    const seq = ++this.#seq;
    const incarnation = target.incarnation;
    let done = false;
    let expectedNacks = 0;
    let nacks = 0;
    this.stats.probes++;
    const finish = () => {
      done = true;
      this.#acks.delete(seq);
      timeout.cancelled = true;
      deadline.cancelled = true;
    };
    this.#acks.set(seq, {
      ack: () => {
        if (done) return;
        finish();
        this.#health.apply(-1);
      },
      nack: () => {
        nacks++;
      },
    });
    // Buddy system: tell a suspect it is suspected, so it can refute at once.
    const buddy: GossipItem | undefined =
      c.lifeguard && target.status === 'suspect'
        ? { kind: 'suspect', id: target.id, incarnation: target.incarnation, from: this.id }
        : undefined;
    this.#send(target.id, { kind: 'ping', seq, target: target.id, gossip: [] }, buddy);
    const timeout = this.#after(this.#now + this.#health.scale(c.probeTimeoutMs), () => {
      if (done) return;
      const helpers = this.#randomMembers(c.indirectChecks, (m) => m.status === 'alive' && m.id !== target.id);
      for (const h of helpers) {
        this.#send(h.id, { kind: 'ping-req', seq, target: target.id, nack: c.lifeguard, gossip: [] });
      }
      if (c.lifeguard) expectedNacks = helpers.length;
    });
    const deadline = this.#after(this.#now + interval, () => {
      if (done) return;
      finish();
      this.stats.failedProbes++;
      // Lifeguard: missing nacks mean our own messages are not getting through (or in time).
      this.#health.apply(expectedNacks > 0 ? Math.max(0, expectedNacks - nacks) : 1);
      const m = this.#members.get(target.id);
      if (!m || m.status === 'dead' || m.status === 'left') return;
      this.stats.suspicionsRaised++;
      this.#suspectNode({ kind: 'suspect', id: target.id, incarnation, from: this.id });
    });
  }

  /** Probes `target` for `origin` (an indirect probe) and relays the ack, or a nack. */
  #relayProbe(origin: string, originSeq: number, target: string, wantNack: boolean): void {
    const c = this.#config;
    const seq = ++this.#seq;
    let done = false;
    const timers: CoreTimer[] = [];
    const finish = () => {
      done = true;
      this.#acks.delete(seq);
      for (const t of timers) t.cancelled = true;
    };
    this.#acks.set(seq, {
      ack: () => {
        if (done) return;
        finish();
        this.#send(origin, { kind: 'ack', seq: originSeq, gossip: [] });
      },
    });
    this.#send(target, { kind: 'ping', seq, target, gossip: [] });
    if (wantNack) {
      // 80% of the timeout leaves the origin time to receive the nack before its own deadline.
      timers.push(
        this.#after(this.#now + Math.floor(c.probeTimeoutMs * 0.8), () => {
          if (!done) this.#send(origin, { kind: 'nack', seq: originSeq, gossip: [] });
        }),
      );
    }
    timers.push(this.#after(this.#now + c.probeTimeoutMs, finish));
  }

  // ---- dissemination -------------------------------------------------------

  #gossipTick(): void {
    this.#after(this.#now + this.#config.gossipIntervalMs, () => this.#gossipTick());
    this.#gossipRound();
  }

  #gossipRound(): void {
    if (this.#queue.size === 0) return;
    const c = this.#config;
    const targets = this.#randomMembers(c.gossipNodes, (m) => {
      if (m.status === 'alive' || m.status === 'suspect') return true;
      return m.status === 'dead' && this.#now - m.since <= c.gossipToTheDeadMs;
    });
    for (const t of targets) {
      const before = this.#out.messages.length;
      this.#send(t.id, { kind: 'gossip', gossip: [] });
      const sent = this.#out.messages[before];
      if (sent && sent.message.gossip.length === 0) {
        this.#out.messages.pop();
        break;
      }
    }
  }

  #pushPullTick(): void {
    const c = this.#config;
    this.#after(this.#now + pushPullScale(c.pushPullIntervalMs, this.liveCount), () => this.#pushPullTick());
    if (this.#leaving) return;
    const [peer] = this.#randomMembers(1, (m) => m.status === 'alive');
    if (peer) this.#sendPushPull(peer.id, false, false);
  }

  #sendJoin(): void {
    if (this.#joinSeeds.size === 0 || this.#leaving) return;
    for (const s of this.#joinSeeds) this.#sendPushPull(s, true, false);
    if (this.#joinTimer) this.#joinTimer.cancelled = true;
    this.#joinTimer = this.#after(this.#now + this.#config.joinRetryMs, () => this.#sendJoin());
  }

  #sendPushPull(to: string, join: boolean, reply: boolean): void {
    this.stats.pushPulls++;
    // A datagram, not memberlist's TCP stream: state beyond one datagram is sampled (ourselves first).
    let room = this.#maxMessageSize - 96;
    const members: MemberSnapshot[] = [];
    const others = this.#rng.shuffle([...this.#members.values()].filter((m) => m !== this.#self));
    for (const m of [this.#self, ...others]) {
      const size = gossipItemSize(this.#aliveItem(m)) + 2;
      if (size > room) break;
      room -= size;
      members.push({ id: m.id, address: m.address, incarnation: m.incarnation, status: m.status, meta: m.meta });
    }
    const events: UserEvent[] = [];
    const recent = [...this.#eventBuffer.keys()].sort((a, b) => b - a);
    outer: for (const lt of recent) {
      for (const e of this.#eventBuffer.get(lt)!) {
        const size = gossipItemSize({ kind: 'event', ...e });
        if (size > room) break outer;
        room -= size;
        events.push(e);
      }
    }
    this.#out.messages.push({
      to,
      message: { kind: 'push-pull', join, reply, members, events, ltime: this.#ltime, gossip: [] },
    });
  }

  #mergePushPull(from: string, m: Extract<SwimMessage, { kind: 'push-pull' }>): void {
    // The sender's own entry tells where to answer: a member restarted on a new port is still
    // dead here at its old address until it refutes, which it can only do once our reply reaches it.
    const own = m.members.find((s) => s.id === from);
    if (own && own.address !== '' && own.address !== this.#members.get(from)?.address) {
      this.#out.addresses.push([from, own.address]);
    }
    if (!m.reply) this.#sendPushPull(from, false, true);
    else if (this.#joinSeeds.has(from)) {
      this.#joinSeeds.clear();
      if (this.#joinTimer) this.#joinTimer.cancelled = true;
      this.#out.joined.push(from);
    }
    for (const s of m.members) {
      switch (s.status) {
        case 'alive':
          this.#aliveNode({ kind: 'alive', id: s.id, incarnation: s.incarnation, address: s.address, meta: s.meta });
          break;
        // memberlist trusts a remote "dead" only as far as "suspect": the member may have come back since.
        case 'dead':
        case 'suspect':
          // A member we never heard of is learned as alive first, so the suspicion has something to apply to.
          if (!this.#members.has(s.id) && s.id !== this.id) {
            this.#aliveNode({ kind: 'alive', id: s.id, incarnation: s.incarnation, address: s.address, meta: s.meta });
          }
          this.#suspectNode({ kind: 'suspect', id: s.id, incarnation: s.incarnation, from: from });
          break;
        case 'left':
          this.#deadNode({ kind: 'dead', id: s.id, incarnation: s.incarnation, from: s.id });
          break;
      }
    }
    this.#witness(m.ltime);
    for (const e of m.events) this.#receiveEvent(e);
  }

  // ---- state changes (memberlist aliveNode / suspectNode / deadNode) -------

  #applyItem(g: GossipItem): void {
    switch (g.kind) {
      case 'alive':
        this.#aliveNode(g);
        return;
      case 'suspect':
        this.#suspectNode(g);
        return;
      case 'dead':
        this.#deadNode(g);
        return;
      case 'event':
        this.#receiveEvent(g);
        return;
    }
  }

  #aliveNode(a: Extract<GossipItem, { kind: 'alive' }>): void {
    if (a.id === this.id) {
      // News about ourselves: only a claim that beats or contradicts what we advertise needs an answer.
      if (this.#leaving || a.incarnation < this.#self.incarnation) return;
      if (
        a.incarnation === this.#self.incarnation &&
        a.address === this.#self.address &&
        bytesEqual(a.meta, this.#self.meta)
      ) {
        return;
      }
      this.#refute(a.incarnation);
      return;
    }
    const m = this.#members.get(a.id);
    if (!m) {
      if (this.#members.size >= this.#config.maxMembers) return;
      const rec: Record_ = {
        id: a.id,
        address: a.address,
        incarnation: a.incarnation,
        status: 'alive',
        meta: a.meta,
        since: this.#now,
        suspicion: undefined,
        suspicionTimer: undefined,
      };
      this.#members.set(a.id, rec);
      // Probe newcomers within the current round: insert at a random place in the rest of the list.
      const at = this.#rng.int(this.#probeIndex, this.#probeList.length);
      this.#probeList.splice(at, 0, a.id);
      if (a.address !== '') this.#out.addresses.push([a.id, a.address]);
      this.#queue.enqueue(a);
      this.#emit('join', rec);
      return;
    }
    if (a.incarnation <= m.incarnation) return;
    const was = m.status;
    const moved = a.address !== m.address;
    const changed = moved || !bytesEqual(a.meta, m.meta);
    m.incarnation = a.incarnation;
    m.address = a.address;
    m.meta = a.meta;
    if (moved && a.address !== '') this.#out.addresses.push([a.id, a.address]);
    this.#queue.enqueue(a);
    if (was !== 'alive') {
      this.#clearSuspicion(m);
      m.status = 'alive';
      m.since = this.#now;
      if (was === 'dead' || was === 'left') {
        const at = this.#rng.int(this.#probeIndex, this.#probeList.length);
        this.#probeList.splice(at, 0, a.id);
      }
      this.#emit(was === 'suspect' ? 'alive' : 'join', m);
    } else if (changed) {
      this.#emit('update', m);
    }
  }

  #suspectNode(s: Extract<GossipItem, { kind: 'suspect' }>): void {
    const m = this.#members.get(s.id);
    if (!m || s.incarnation < m.incarnation) return;
    if (m === this.#self) {
      if (!this.#leaving) this.#refute(s.incarnation);
      return;
    }
    if (m.status === 'suspect') {
      // An independent accusation: with Lifeguard it shortens the timeout and is worth spreading.
      if (m.suspicion?.confirm(s.from)) {
        this.#queue.enqueue(s);
        this.#armSuspicion(m);
      }
      return;
    }
    if (m.status !== 'alive') return;
    const c = this.#config;
    const n = this.liveCount;
    let k = c.lifeguard ? c.suspicionMult - 2 : 0;
    if (n - 2 < k) k = 0;
    const min = minSuspicionTimeout(c.suspicionMult, n, c.probeIntervalMs);
    const max = c.lifeguard ? c.suspicionMaxTimeoutMult * min : min;
    this.#queue.enqueue(s);
    m.incarnation = s.incarnation;
    m.status = 'suspect';
    m.since = this.#now;
    m.suspicion = new Suspicion(s.from, k, min, max, this.#now);
    this.#armSuspicion(m);
    this.#emit('suspect', m, s.from);
  }

  #armSuspicion(m: Record_): void {
    if (m.suspicionTimer) m.suspicionTimer.cancelled = true;
    const since = m.since;
    const at = Math.max(this.#now, m.suspicion!.deadline);
    m.suspicionTimer = this.#after(at, () => {
      if (m.status !== 'suspect' || m.since !== since || this.#members.get(m.id) !== m) return;
      this.#deadNode({ kind: 'dead', id: m.id, incarnation: m.incarnation, from: this.id });
    });
  }

  #clearSuspicion(m: Record_): void {
    if (m.suspicionTimer) m.suspicionTimer.cancelled = true;
    m.suspicionTimer = undefined;
    m.suspicion = undefined;
  }

  #deadNode(d: Extract<GossipItem, { kind: 'dead' }>): void {
    const m = this.#members.get(d.id);
    if (!m || d.incarnation < m.incarnation) return;
    if (m === this.#self) {
      if (!this.#leaving) this.#refute(d.incarnation);
      return;
    }
    if (m.status === 'dead' || m.status === 'left') return;
    this.#queue.enqueue(d);
    this.#clearSuspicion(m);
    m.incarnation = d.incarnation;
    m.status = d.from === d.id ? 'left' : 'dead';
    m.since = this.#now;
    this.#emit(m.status === 'left' ? 'left' : 'dead', m, d.from);
  }

  /** Answers an accusation against ourselves by outbidding its incarnation. */
  #refute(accused: number): void {
    // An accusation at the top of the range cannot be outbid within safe integers; only a hostile peer sends one.
    if (accused >= Number.MAX_SAFE_INTEGER - 1) return;
    this.#self.incarnation = Math.max(this.#self.incarnation, accused) + 1;
    this.stats.refutations++;
    // Lifeguard: being accused suggests we are the slow one.
    this.#health.apply(1);
    this.#queue.enqueue(this.#aliveItem(this.#self));
  }

  // ---- user events (Serf-style, Lamport-ordered) ---------------------------

  #witness(ltime: number): void {
    // Far-future times are refused: one hostile message must not push everyone's clock out of range.
    if (ltime > this.#ltime + 2 ** 32) return;
    if (ltime >= this.#ltime && ltime < Number.MAX_SAFE_INTEGER) this.#ltime = ltime + 1;
  }

  #receiveEvent(e: UserEvent): void {
    const size = this.#config.eventBufferSize;
    // Far-future times are refused: one hostile event must not push everyone's clock out of range.
    if (e.ltime > this.#ltime + 2 ** 32) return;
    if (this.#ltime > size && e.ltime < this.#ltime - size) return; // too old to deduplicate: drop
    const slot = this.#eventBuffer.get(e.ltime);
    if (slot?.some((x) => x.origin === e.origin && x.name === e.name && bytesEqual(x.payload, e.payload))) return;
    this.#witness(e.ltime);
    if (slot) {
      if (slot.length >= 64) return;
      slot.push(e);
    } else {
      this.#eventBuffer.set(e.ltime, [e]);
      const floor = this.#ltime - size;
      if (this.#eventBuffer.size > size) {
        for (const lt of this.#eventBuffer.keys()) if (lt < floor) this.#eventBuffer.delete(lt);
      }
    }
    this.#out.userEvents.push(e);
    this.#queue.enqueue({ kind: 'event', ...e });
  }

  // ---- helpers -------------------------------------------------------------

  #aliveItem(m: Record_): Extract<GossipItem, { kind: 'alive' }> {
    return { kind: 'alive', id: m.id, incarnation: m.incarnation, address: m.address, meta: m.meta };
  }

  #randomMembers(k: number, accept: (m: Record_) => boolean): Record_[] {
    const pool = [...this.#members.values()].filter((m) => m !== this.#self && accept(m));
    if (pool.length <= k) return this.#rng.shuffle(pool);
    // Partial Fisher–Yates: only the first k slots are needed.
    for (let i = 0; i < k; i++) {
      const j = this.#rng.int(i, pool.length - 1);
      const tmp = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = tmp;
    }
    return pool.slice(0, k);
  }

  #send(to: string, m: SwimMessage, first?: GossipItem): void {
    const budget = Math.min(this.#config.packetBytes, this.#maxMessageSize) - datagramOverhead(to.length);
    const gossip = this.#queue.take(budget, retransmitLimit(this.#config.retransmitMult, this.liveCount), first);
    this.#out.messages.push({ to, message: { ...m, gossip } as SwimMessage });
  }

  #emit(kind: MemberEventKind, m: Record_, from?: string): void {
    this.#out.events.push(
      from === undefined
        ? { kind, member: this.#info(m), at: this.#now }
        : { kind, member: this.#info(m), at: this.#now, from },
    );
  }

  #info(m: Record_): MemberInfo {
    return { id: m.id, address: m.address, incarnation: m.incarnation, status: m.status, meta: m.meta, since: m.since };
  }
}
