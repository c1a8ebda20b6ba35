import {
  type NodeId,
  type PeerMessageHandler,
  type PeerNetwork,
  type Rng,
  assertInteger,
  invalidArgument,
} from '@novacron/core';
import { DEFAULT_LINK_CONFIG, type LinkConfig, drawJitter, mergeLinkConfig } from './link-config.js';
import type { SimNode, SimWorld } from './world.js';

/** Options for {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Link behaviour for every direction without an override (fields left out keep {@link DEFAULT_LINK_CONFIG}). */
  readonly defaults?: Partial<LinkConfig>;
  /** Largest payload an endpoint accepts, in bytes (default 1 MiB). */
  readonly maxMessageSize?: number;
  /**
   * Names this network's random streams (`net:<name>:<from>><to>`); give two
   * networks in one world different names so their draws are independent.
   */
  readonly name?: string;
}

/** Why a message never reached a handler, as recorded in the trace. */
export type DropReason =
  | 'sender-down'
  | 'unknown-peer'
  | 'partition'
  | 'loss'
  | 'receiver-down'
  | 'receiver-restarted'
  | 'no-handler';

/** Counters over a network's life. */
export interface SimNetworkStats {
  /** Messages accepted by `send`. */
  readonly sent: number;
  /** Copies handed to a handler (duplicates count twice). */
  readonly delivered: number;
  /** Copies dropped, for any reason. */
  readonly dropped: number;
  /** Extra copies created by duplication. */
  readonly duplicated: number;
}

interface LinkState {
  override: Partial<LinkConfig> | undefined;
  config: LinkConfig;
  readonly rng: Rng;
  // When the link finishes serialising what is already queued on it.
  busyUntil: number;
}

interface InFlight {
  readonly id: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly channel: string;
  readonly data: Uint8Array;
  readonly incarnation: number;
}

const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;

/**
 * A simulated {@link PeerNetwork} for every node of a {@link SimWorld}. Each
 * directed link has a latency (base + jitter), a serialisation rate, loss,
 * duplication and reordering, drawn from its own labelled fork of the world's
 * random stream; partitions come from `world.partitions` and are checked at
 * send and again at delivery. Messages are scheduled on the world's clock, so
 * they survive the sender's crash but are dropped when the receiver is down
 * or has restarted since they were sent.
 *
 * Every send, delivery and drop is recorded in the world's trace with
 * `id`, `from`, `to`, `channel` and `size` (and `reason` for drops).
 */
export class SimNetwork {
  /** The world this network belongs to. */
  readonly world: SimWorld;
  /** Largest payload an endpoint accepts, in bytes. */
  readonly maxMessageSize: number;
  readonly #name: string;
  #defaults: LinkConfig;
  readonly #links = new Map<string, LinkState>();
  readonly #endpoints = new Map<NodeId, SimEndpoint>();
  #seq = 0;
  #sent = 0;
  #delivered = 0;
  #dropped = 0;
  #duplicated = 0;

  constructor(world: SimWorld, options: SimNetworkOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
    this.world = world;
    this.#name = options.name ?? 'net';
    if (typeof this.#name !== 'string' || this.#name.length === 0) {
      throw invalidArgument('options.name', 'a non-empty string', options.name);
    }
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    assertInteger('options.maxMessageSize', this.maxMessageSize, { min: 0 });
    this.#defaults = mergeLinkConfig(DEFAULT_LINK_CONFIG, options.defaults ?? {}, 'options.defaults');
    // A crashed process loses its registered handlers; its restarted self
    // must register again, as a real restarted process would.
    world.onCrash((node) => this.#endpoints.get(node.id)?._clear());
    world.faults.on('link', (f) => this.link(f.a, f.b, f.config, { oneWay: f.oneWay ?? false }));
  }

  /** The {@link PeerNetwork} of node `nodeId` (which must be a node of the world); the same object on every call. */
  endpoint(nodeId: string): PeerNetwork {
    const node = this.world.node(nodeId);
    let ep = this.#endpoints.get(node.id);
    if (!ep) {
      ep = new SimEndpoint(this, node);
      this.#endpoints.set(node.id, ep);
    }
    return ep;
  }

  /**
   * Overrides the link `a` → `b` and, unless `oneWay`, `b` → `a`. Fields given
   * replace those of any earlier override; `null` removes the override so the
   * direction follows the defaults again.
   */
  link(a: string, b: string, config: Partial<LinkConfig> | null, options: { oneWay?: boolean } = {}): void {
    if (typeof a !== 'string' || a.length === 0) throw invalidArgument('a', 'a node id', a);
    if (typeof b !== 'string' || b.length === 0) throw invalidArgument('b', 'a node id', b);
    const dirs: [string, string][] = options.oneWay
      ? [[a, b]]
      : [
          [a, b],
          [b, a],
        ];
    for (const [from, to] of dirs) {
      const st = this.#link(from, to);
      st.override = config === null ? undefined : { ...st.override, ...config };
      st.config = mergeLinkConfig(this.#defaults, st.override ?? {}, 'config');
    }
  }

  /** Replaces the defaults (fields given override the current defaults); overrides stay on top. */
  setDefaults(config: Partial<LinkConfig>): void {
    this.#defaults = mergeLinkConfig(this.#defaults, config, 'config');
    for (const st of this.#links.values()) st.config = mergeLinkConfig(this.#defaults, st.override ?? {}, 'config');
  }

  /** The effective configuration of the direction `from` → `to`. */
  linkConfig(from: string, to: string): LinkConfig {
    return this.#links.get(linkKey(from, to))?.config ?? this.#defaults;
  }

  /** Message counters so far. */
  get stats(): SimNetworkStats {
    return { sent: this.#sent, delivered: this.#delivered, dropped: this.#dropped, duplicated: this.#duplicated };
  }

  #link(from: string, to: string): LinkState {
    const key = linkKey(from, to);
    let st = this.#links.get(key);
    if (!st) {
      st = {
        override: undefined,
        config: this.#defaults,
        rng: this.world.rng.fork(`${this.#name}:${from}>${to}`),
        busyUntil: Number.NEGATIVE_INFINITY,
      };
      this.#links.set(key, st);
    }
    return st;
  }

  /** @internal called by {@link SimEndpoint.send} after argument checks. */
  _send(sender: SimNode, to: NodeId, channel: string, data: Uint8Array): void {
    const world = this.world;
    const now = world.now();
    const id = ++this.#seq;
    const from = sender.id;
    const size = data.byteLength;
    this.#sent++;
    // Keys in sorted order spare the trace a sort per event.
    world.trace.record(now, 'send', { channel, from, id, size, to });
    if (!sender.alive) {
      this.#drop(id, from, to, channel, size, 'sender-down');
      return;
    }
    const receiver = this.#endpoints.get(to)?.node ?? this.#findNode(to);
    if (!receiver) {
      this.#drop(id, from, to, channel, size, 'unknown-peer');
      return;
    }
    if (!world.partitions.reachable(from, to)) {
      this.#drop(id, from, to, channel, size, 'partition');
      return;
    }

    const st = this.#link(from, to);
    const cfg = st.config;
    // The message occupies the link while it is serialised, even if the wire
    // then loses it, so later messages queue behind it.
    let done = now;
    if (cfg.bytesPerSecond !== Number.POSITIVE_INFINITY) {
      done = Math.max(now, st.busyUntil) + (size * 1000) / cfg.bytesPerSecond;
      st.busyUntil = done;
    }
    const rng = st.rng;
    if (cfg.loss > 0 && rng.chance(cfg.loss)) {
      this.#drop(id, from, to, channel, size, 'loss');
      return;
    }
    const copies = cfg.duplicate > 0 && rng.chance(cfg.duplicate) ? 2 : 1;
    if (copies === 2) this.#duplicated++;
    const msg: InFlight = { id, from, to, channel, data, incarnation: receiver.incarnation };
    for (let c = 0; c < copies; c++) {
      let delay = done - now + cfg.latencyMs + drawJitter(cfg, rng);
      if (cfg.reorder > 0 && rng.chance(cfg.reorder)) delay += (1 - rng.next()) * cfg.reorderDelayMs;
      world.clock.setTimeout(() => this.#deliver(msg, receiver), delay);
    }
  }

  #deliver(msg: InFlight, receiver: SimNode): void {
    const { id, from, to, channel, data } = msg;
    const size = data.byteLength;
    if (!receiver.alive) {
      this.#drop(id, from, to, channel, size, 'receiver-down');
      return;
    }
    if (receiver.incarnation !== msg.incarnation) {
      this.#drop(id, from, to, channel, size, 'receiver-restarted');
      return;
    }
    if (!this.world.partitions.reachable(from, to)) {
      this.#drop(id, from, to, channel, size, 'partition');
      return;
    }
    const handler = this.#endpoints.get(to)?._handler(channel);
    if (!handler) {
      this.#drop(id, from, to, channel, size, 'no-handler');
      return;
    }
    this.#delivered++;
    this.world.trace.record(this.world.now(), 'deliver', { channel, from, id, size, to });
    handler(from, data);
  }

  #drop(id: number, from: string, to: string, channel: string, size: number, reason: DropReason): void {
    this.#dropped++;
    this.world.trace.record(this.world.now(), 'drop', { channel, from, id, reason, size, to });
  }

  #findNode(id: NodeId): SimNode | undefined {
    for (const n of this.world.nodes) if (n.id === id) return n;
    return undefined;
  }
}

/** One node's view of a {@link SimNetwork}. */
class SimEndpoint implements PeerNetwork {
  readonly localId: NodeId;
  readonly node: SimNode;
  readonly #net: SimNetwork;
  readonly #handlers = new Map<string, PeerMessageHandler>();

  constructor(net: SimNetwork, node: SimNode) {
    this.#net = net;
    this.node = node;
    this.localId = node.id;
  }

  get maxMessageSize(): number {
    return this.#net.maxMessageSize;
  }

  send(to: NodeId, channel: string, data: Uint8Array): void {
    if (typeof to !== 'string') throw invalidArgument('to', 'a node id', to);
    if (typeof channel !== 'string' || channel.length === 0)
      throw invalidArgument('channel', 'a channel name', channel);
    if (!(data instanceof Uint8Array)) throw invalidArgument('data', 'a Uint8Array', data);
    if (data.byteLength > this.#net.maxMessageSize) {
      throw invalidArgument('data', `at most ${this.#net.maxMessageSize} bytes`, data);
    }
    this.#net._send(this.node, to, channel, data);
  }

  handle(channel: string, handler: PeerMessageHandler): () => void {
    if (typeof channel !== 'string' || channel.length === 0)
      throw invalidArgument('channel', 'a channel name', channel);
    if (typeof handler !== 'function') throw invalidArgument('handler', 'a function', handler);
    this.#handlers.set(channel, handler);
    return () => {
      // Only our own registration: a later replacement stays.
      if (this.#handlers.get(channel) === handler) this.#handlers.delete(channel);
    };
  }

  /** @internal */
  _handler(channel: string): PeerMessageHandler | undefined {
    return this.#handlers.get(channel);
  }

  /** @internal */
  _clear(): void {
    this.#handlers.clear();
  }
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}
