import type { Clock, PeerMessageHandler, PeerNetwork, Timer } from '@novacron/core';
import { sleepOn } from '@novacron/core';
import { type LinkConfig, SimNetwork, type SimWorld } from '@novacron/testkit';
import { type GossipConfig, GossipMembership, type MemberEvent } from '../../src/index.js';

/**
 * A member's event loop that can stall, as a blocked Node.js loop does:
 * while stalled nothing runs; when the stall ends, timers that fell due run
 * first (in due order), then the datagrams that arrived meanwhile (in
 * arrival order) — libuv's timers phase comes before its poll phase.
 */
export class StallableLoop {
  #stalledUntil = -1;
  #timers: { at: number; seq: number; run: () => void }[] = [];
  #messages: (() => void)[] = [];
  #seq = 0;
  #timersToo = true;
  readonly clock: Clock;
  readonly #world: SimWorld;

  constructor(world: SimWorld, base: Clock) {
    this.#world = world;
    const gate = (at: () => number, run: () => void) => {
      if (this.stalled && this.#timersToo) this.#timers.push({ at: at(), seq: this.#seq++, run });
      else run();
    };
    const clock: Clock = {
      now: () => base.now(),
      setTimeout: (cb, ms): Timer => {
        const due = base.now() + Math.max(0, ms);
        return base.setTimeout(() => gate(() => due, cb), ms);
      },
      setInterval: (cb, ms): Timer => base.setInterval(() => gate(() => base.now(), cb), ms),
      sleep: (ms, signal) => sleepOn(clock, ms, signal),
    };
    this.clock = clock;
  }

  get stalled(): boolean {
    return this.#world.now() < this.#stalledUntil;
  }

  /**
   * Blocks the loop for `ms` from now. With `inboundOnly`, only message
   * processing is held back while timers keep firing: Lifeguard's "slow
   * message processing" (a receive queue backed up behind a busy worker).
   */
  stall(ms: number, inboundOnly = false): void {
    this.#timersToo = !inboundOnly;
    this.#stalledUntil = this.#world.now() + ms;
    this.#world.schedule(ms, () => this.#resume());
  }

  /** Wraps a network so deliveries wait out stalls. */
  network(inner: PeerNetwork): PeerNetwork {
    return {
      localId: inner.localId,
      maxMessageSize: inner.maxMessageSize,
      send: (to, channel, data) => inner.send(to, channel, data),
      handle: (channel, handler: PeerMessageHandler) =>
        inner.handle(channel, (from, data) => {
          if (this.stalled) this.#messages.push(() => handler(from, data));
          else handler(from, data);
        }),
    };
  }

  #resume(): void {
    if (this.stalled) return;
    const timers = this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.#timers = [];
    for (const t of timers) t.run();
    const messages = this.#messages;
    this.#messages = [];
    for (const m of messages) m();
  }
}

/** One simulated member. */
export interface SimMember {
  readonly id: string;
  readonly gossip: GossipMembership;
  readonly loop: StallableLoop;
  /** Every membership event it saw, in order. */
  readonly events: MemberEvent[];
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  readonly n: number;
  readonly config?: Partial<GossipConfig>;
  readonly link?: Partial<LinkConfig>;
  /** Virtual ms allowed for everyone to learn everyone (default 30 s). */
  readonly convergeMs?: number;
  /** Id prefix (default `m`), to run several clusters in one world. */
  readonly prefix?: string;
}

/** LAN-like links: 0.5 ms ± 1 ms one way. */
export const LAN_LINK: Partial<LinkConfig> = { latencyMs: 0.5, jitterMs: 1 };

/**
 * Starts `n` members over a `SimNetwork`, all joining through `m0`, and
 * runs until every member knows every other as alive.
 */
export async function startCluster(
  world: SimWorld,
  o: ClusterOptions,
): Promise<{ net: SimNetwork; members: SimMember[]; ids: string[] }> {
  const net = new SimNetwork(world, { defaults: { ...LAN_LINK, ...o.link } });
  const prefix = o.prefix ?? 'm';
  const ids = Array.from({ length: o.n }, (_, i) => `${prefix}${i}`);
  const members: SimMember[] = [];
  for (const id of ids) {
    const node = world.addNode(id);
    const loop = new StallableLoop(world, node.clock);
    const gossip = new GossipMembership({
      network: loop.network(net.endpoint(id)),
      clock: loop.clock,
      rng: node.rng,
      ...(id === ids[0] ? {} : { seeds: [ids[0]!] }),
      ...(o.config ? { config: o.config } : {}),
    });
    const events: MemberEvent[] = [];
    gossip.onMember((e) => events.push(e));
    members.push({ id, gossip, loop, events });
  }
  for (const m of members) m.gossip.start();
  const converged = () => members.every((m) => m.gossip.members().filter((x) => x.status === 'alive').length === o.n);
  const ok = await world.runUntil(converged, o.convergeMs ?? 30_000);
  if (!ok) throw new Error(`cluster of ${o.n} did not converge (seed ${world.seed})`);
  return { net, members, ids };
}

/** The p-th percentile (nearest rank) of `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
