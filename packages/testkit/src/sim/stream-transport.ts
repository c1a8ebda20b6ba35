import {
  CoreErrorCode,
  type DialOptions,
  type Listener,
  NovacronError,
  type Rng,
  type StreamHandler,
  type StreamTransport,
  type Timer,
  abortedError,
  assertNumber,
  invalidArgument,
} from '@novacron/core';
import {
  Bottleneck,
  DEFAULT_STREAM_PATH,
  type StreamPathConfig,
  type StreamPathStats,
  mergeStreamPathConfig,
} from './bottleneck.js';
import { type DuplexWire, type ResetReason, SimDuplex } from './sim-duplex.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig, mergeTcpConfig } from './tcp-config.js';
import type { Segment } from './tcp-wire.js';
import type { SimNode, SimWorld } from './world.js';

/** Decides whether packets may pass from one node to another (the world's partition table fits). */
export interface Reachability {
  /** True when a packet from `from` may reach `to`. */
  reachable(from: string, to: string): boolean;
}

/** Options for {@link SimStreams}. */
export interface SimStreamsOptions {
  /** Path behaviour of every direction without an override (fields left out keep {@link DEFAULT_STREAM_PATH}). */
  readonly path?: Partial<StreamPathConfig>;
  /** Connection parameters (fields left out keep {@link DEFAULT_TCP_CONFIG}). */
  readonly tcp?: Partial<TcpConfig>;
  /** Each connection is reset at random with this rate (a Poisson process per connection); default 0. */
  readonly resetRatePerSecond?: number;
  /** Partition source; default `world.partitions`. */
  readonly partitions?: Reachability;
  /** Names this transport's random stream (`streams:<name>`), so two in one world draw independently. */
  readonly name?: string;
}

/** Where a segment was lost, as recorded in `stream-drop` trace events. */
export type StreamDropCause = 'queue' | 'loss' | 'partition' | 'down';

interface Connection {
  readonly id: number;
  readonly clientNode: string;
  readonly serverNode: string;
  readonly serverPort: number;
  readonly client: SimDuplex;
  server: SimDuplex | undefined;
  randomReset: Timer | undefined;
}

/** Lowest port handed out for port 0 and for dialing ends (the IANA ephemeral range). */
const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;

/**
 * Simulated reliable byte streams between the nodes of a {@link SimWorld}:
 * one {@link StreamTransport} per node ({@link SimStreams.transport}), with
 * addresses `<nodeId>:<port>`.
 *
 * Every directed node pair has a path: a drop-tail bottleneck of fixed rate
 * and buffer plus a propagation delay and random loss ({@link Bottleneck}).
 * All connections between the same two nodes share it, and each runs a
 * TCP-like sender (slow start, CUBIC, RACK-style loss detection, RTO) and a
 * receiver with a receive window, so control loops tested here meet the
 * trade-offs of a real path: parallel streams win on a long lossy path and
 * only add drops on a short path with a shallow buffer.
 *
 * Faults: {@link SimStreams.resetStreams} (also the `reset-streams` fault),
 * random resets at `resetRatePerSecond`, partitions (packets are checked at
 * send and again at arrival; TCP retransmits until the cut heals or the user
 * timeout resets the connection), and crashes: a crashed node's connections
 * are reset and its peers get a reset (a crash is a process crash, whose
 * kernel resets its sockets; if a partition eats that reset, the peer learns
 * on its next transmission). The `link` fault changes paths too
 * (`latencyMs`, `bytesPerSecond`, `loss`).
 *
 * Acks, SYNs and resets are small: they take the propagation delay but
 * never queue or suffer random loss (partitions and down nodes still drop
 * them).
 *
 * Trace events: `stream-listen`, `stream-unlisten`, `stream-connect`,
 * `stream-dial-failed`, `stream-reset`, `stream-closed`, `stream-rto`,
 * `stream-drop` (one per lost segment); segment deliveries are counted in
 * {@link SimStreams.pathStats}, not traced.
 */
export class SimStreams {
  /** The world these streams live in. */
  readonly world: SimWorld;
  /** Connection parameters every connection uses. */
  readonly tcp: TcpConfig;
  readonly #rng: Rng;
  readonly #reach: Reachability;
  readonly #resetRate: number;
  #defaults: StreamPathConfig;
  readonly #overrides = new Map<string, Partial<StreamPathConfig>>();
  readonly #paths = new Map<string, Bottleneck>();
  readonly #transports = new Map<string, SimStreamTransport>();
  readonly #listeners = new Map<string, Map<number, SimListener>>();
  readonly #nextPort = new Map<string, number>();
  readonly #connections = new Map<number, Connection>();
  readonly #dialing = new Map<() => void, string>();
  #nextId = 1;

  /**
   * Attaches to `world`: registers its crash hook and the `reset-streams` and
   * `link` fault handlers. Throws `CORE_INVALID_ARGUMENT` for bad options.
   */
  constructor(world: SimWorld, options: SimStreamsOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
    this.world = world;
    this.tcp = mergeTcpConfig(DEFAULT_TCP_CONFIG, options.tcp ?? {}, 'options.tcp');
    this.#defaults = mergeStreamPathConfig(DEFAULT_STREAM_PATH, options.path ?? {}, 'options.path');
    this.#resetRate = options.resetRatePerSecond ?? 0;
    assertNumber('options.resetRatePerSecond', this.#resetRate, { min: 0 });
    const name = options.name ?? 'streams';
    if (typeof name !== 'string' || name.length === 0)
      throw invalidArgument('options.name', 'a non-empty string', name);
    this.#rng = world.rng.fork(name === 'streams' ? 'streams' : `streams:${name}`);
    this.#reach = options.partitions ?? world.partitions;
    world.onCrash((node) => this.#crashed(node));
    world.faults.on('reset-streams', (f) => this.resetStreams(f.a, f.b));
    world.faults.on('link', (f) => {
      const pick = (c: Record<string, unknown> | null): Partial<StreamPathConfig> | null => {
        if (c === null) return null;
        const out: { -readonly [K in keyof StreamPathConfig]?: StreamPathConfig[K] } = {};
        if (typeof c.latencyMs === 'number') out.latencyMs = c.latencyMs;
        if (typeof c.bytesPerSecond === 'number') out.bytesPerSecond = c.bytesPerSecond;
        if (typeof c.loss === 'number') out.loss = Math.min(c.loss, 0.999999);
        return out;
      };
      const cfg = pick(f.config as Record<string, unknown> | null);
      this.#setOne(f.a, f.b, cfg);
      if (!f.oneWay) this.#setOne(f.b, f.a, cfg);
    });
  }

  /** The stream transport of node `nodeId` (a node of the world); the same object on every call. */
  transport(nodeId: string): SimStreamTransport {
    const node = this.world.node(nodeId);
    let t = this.#transports.get(node.id);
    if (!t) {
      t = new SimStreamTransport(this, node);
      this.#transports.set(node.id, t);
    }
    return t;
  }

  /**
   * Overrides the path between `a` and `b` (both directions unless
   * `oneWay`, then only `a` → `b`); fields given replace earlier ones,
   * `null` restores the defaults. Applies to packets sent from now on.
   */
  setPath(a: string, b: string, config: Partial<StreamPathConfig> | null, options: { oneWay?: boolean } = {}): void {
    this.world.node(a);
    this.world.node(b);
    if (config !== null) mergeStreamPathConfig(this.#defaults, config, 'config');
    this.#setOne(a, b, config);
    if (!options.oneWay) this.#setOne(b, a, config);
  }

  /** The behaviour of the path `from` → `to` now. */
  pathConfig(from: string, to: string): StreamPathConfig {
    return this.#path(from, to).config;
  }

  /** Counters of the path `from` → `to` (zeros if nothing was ever sent on it). */
  pathStats(from: string, to: string): StreamPathStats {
    return this.#path(from, to).stats();
  }

  /** Connections not yet finished at both ends. */
  get openConnections(): number {
    return this.#connections.size;
  }

  /**
   * Resets connections at once at both ends (as a middlebox sending RSTs
   * both ways would): between `a` and `b` when both are given, every
   * connection of `a` when only it is, every connection when neither is.
   * Returns how many connections were reset.
   */
  resetStreams(a?: string, b?: string): number {
    let n = 0;
    for (const c of [...this.#connections.values()]) {
      const ends = [c.clientNode, c.serverNode];
      const match =
        a === undefined
          ? true
          : b === undefined
            ? ends.includes(a)
            : (c.clientNode === a && c.serverNode === b) || (c.clientNode === b && c.serverNode === a);
      if (!match) continue;
      n++;
      this.#resetBoth(c, 'demand');
    }
    return n;
  }

  // ----- internals used by SimStreamTransport -----

  /** @internal */
  _listen(node: SimNode, port: number, handler: StreamHandler): SimListener {
    let ports = this.#listeners.get(node.id);
    if (!ports) {
      ports = new Map();
      this.#listeners.set(node.id, ports);
    }
    const actual = port === 0 ? this.#ephemeral(node.id, ports) : port;
    if (ports.has(actual)) throw invalidArgument('address', 'an address not already bound', `${node.id}:${actual}`);
    const listener = new SimListener(`${node.id}:${actual}`, handler, () => {
      if (ports.get(actual) === listener) ports.delete(actual);
      this.#record('stream-unlisten', { node: node.id, port: actual });
    });
    ports.set(actual, listener);
    this.#record('stream-listen', { node: node.id, port: actual });
    return listener;
  }

  /** @internal */
  _dial(node: SimNode, to: string, port: number, options: DialOptions): Promise<SimDuplex> {
    const from = node.id;
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    const target = `${to}:${port}`;
    if (!node.alive) return Promise.reject(dialFailed(target, 'local node is down'));
    if (!this.world.nodes.some((n) => n.id === to)) return Promise.reject(dialFailed(target, 'unknown host'));
    const localPort = this.#ephemeral(from, this.#listeners.get(from));
    const id = this.#nextId++;
    const client = new SimDuplex(
      this.#wire(() => conn, 'client'),
      `${from}:${localPort}`,
      target,
      true,
    );
    const conn: Connection = {
      id,
      clientNode: from,
      serverNode: to,
      serverPort: port,
      client,
      server: undefined,
      randomReset: undefined,
    };
    this.#connections.set(id, conn);
    client.onFinished(() => this.#maybeForget(conn));
    return new Promise<SimDuplex>((resolve, reject) => {
      const clock = this.world.clock;
      const started = clock.now();
      let settled = false;
      let retry: Timer | undefined;
      let wait = this.tcp.initialRtoMs;
      const settle = (err: Error | undefined, why: string) => {
        if (settled) return;
        settled = true;
        retry?.cancel();
        this.#dialing.delete(onCrash);
        signal?.removeEventListener('abort', onAbort);
        if (!err) {
          client.established(clock.now() - lastSyn);
          this.#armRandomReset(conn);
          resolve(client);
          return;
        }
        this.#record('stream-dial-failed', { conn: id, from, to: target, reason: why });
        // A server end may exist if only the answer was lost: tell it to go away.
        if (conn.server) this.#control(from, to, () => conn.server?.reset('peer', false));
        client.reset('abort', false);
        this.#maybeForget(conn);
        reject(err);
      };
      const onAbort = () => settle(abortedError(signal), 'aborted');
      const onCrash = () => settle(dialFailed(target, 'local node crashed'), 'crash');
      this.#dialing.set(onCrash, from);
      signal?.addEventListener('abort', onAbort, { once: true });
      let lastSyn = started;
      const syn = () => {
        if (settled) return;
        lastSyn = clock.now();
        this.#control(from, to, () => this.#onSyn(conn, (err, why) => settle(err, why)));
        const elapsed = clock.now() - started;
        const left = this.tcp.connectTimeoutMs - elapsed;
        if (left <= 0) {
          settle(dialFailed(target, 'connect timed out'), 'timeout');
          return;
        }
        retry = clock.setTimeout(syn, Math.min(wait, left));
        wait *= 2;
      };
      syn();
    });
  }

  /** A SYN reached the server node. */
  #onSyn(conn: Connection, answer: (err: Error | undefined, why: string) => void): void {
    const { clientNode: from, serverNode: to } = conn;
    const listener = this.#listeners.get(to)?.get(conn.serverPort);
    const target = `${to}:${conn.serverPort}`;
    if (!conn.server) {
      if (!listener) {
        this.#control(to, from, () => answer(dialFailed(target, 'connection refused'), 'refused'));
        return;
      }
      const server = new SimDuplex(
        this.#wire(() => conn, 'server'),
        target,
        conn.client.localAddress,
        false,
      );
      conn.server = server;
      // The server's sample would come from the handshake's final ACK; the path's base round trip stands in for it.
      server.seedRtt(this.#path(to, from).config.latencyMs + this.#path(from, to).config.latencyMs);
      server.onFinished(() => this.#maybeForget(conn));
      this.#record('stream-connect', { conn: conn.id, from: conn.client.localAddress, to: target });
      // Answer before the handler runs: data it writes at once must not overtake the SYN-ACK.
      this.#synAck(conn, answer);
      listener._accept(server);
      return;
    }
    // A repeated SYN (its answer was lost) gets the answer again.
    this.#synAck(conn, answer);
  }

  #synAck(conn: Connection, answer: (err: Error | undefined, why: string) => void): void {
    // The kernel completes the handshake before the application sees the stream, so even a server end
    // that was reset meanwhile answers; its reset follows and reaches the client after the dial resolves.
    this.#control(conn.serverNode, conn.clientNode, () => answer(undefined, 'ok'));
  }

  #wire(conn: () => Connection, side: 'client' | 'server'): DuplexWire {
    const self = this;
    const ends = () => {
      const c = conn();
      const local = side === 'client' ? c.clientNode : c.serverNode;
      const remote = side === 'client' ? c.serverNode : c.clientNode;
      const peer = side === 'client' ? c.server : c.client;
      return { c, local, remote, peer };
    };
    return {
      clock: this.world.clock,
      config: this.tcp,
      segment(seg: Segment, retransmit: boolean) {
        const { c, local, remote } = ends();
        self.#sendSegment(c, local, remote, seg, retransmit, () => {
          const peer = ends().peer;
          if (!peer || peer.wasReset) {
            // Nobody there any more: answer with a reset, as a TCP stack does.
            self.#control(remote, local, () => (side === 'client' ? c.client : c.server)?.reset('peer', false));
          } else if (peer.accepting) {
            peer.onSegment(seg);
          }
        });
      },
      ack(ack) {
        const { local, remote } = ends();
        self.#control(local, remote, () => ends().peer?.onAck(ack));
      },
      probe() {
        const { local, remote } = ends();
        self.#control(local, remote, () => ends().peer?.onProbe());
      },
      rst() {
        const { local, remote } = ends();
        self.#control(local, remote, () => ends().peer?.reset('peer', false));
      },
      event(kind, fields) {
        self.#record(`stream-${kind}`, { conn: conn().id, side, ...fields });
      },
    };
  }

  #sendSegment(c: Connection, from: string, to: string, seg: Segment, retransmit: boolean, arrive: () => void): void {
    const path = this.#path(from, to);
    const bytes = seg.data.length;
    const now = this.world.clock.now();
    if (!this.#reach.reachable(from, to)) {
      path.refused(bytes, retransmit);
      this.#drop(c, from, to, seg, 'partition');
      return;
    }
    const packets = Math.max(1, Math.ceil(bytes / this.tcp.packetBytes));
    const r = path.offer(now, bytes, packets, this.#rng, retransmit);
    if ('drop' in r) {
      this.#drop(c, from, to, seg, r.drop);
      return;
    }
    this.world.clock.setTimeout(() => {
      if (!this.#reach.reachable(from, to)) {
        path.partitionDropped();
        this.#drop(c, from, to, seg, 'partition');
        return;
      }
      if (!this.world.node(to).alive) {
        path.partitionDropped();
        this.#drop(c, from, to, seg, 'down');
        return;
      }
      path.delivered(bytes);
      arrive();
    }, r.arriveAt - now);
  }

  /** Sends a small control packet (SYN, ack, reset): propagation delay only, partition and liveness checked. */
  #control(from: string, to: string, arrive: () => void): void {
    if (!this.#reach.reachable(from, to)) return;
    const delay = this.#path(from, to).config.latencyMs;
    this.world.clock.setTimeout(() => {
      if (!this.#reach.reachable(from, to) || !this.world.node(to).alive) return;
      arrive();
    }, delay);
  }

  #drop(c: Connection, from: string, to: string, seg: Segment, cause: StreamDropCause): void {
    this.#record('stream-drop', { conn: c.id, from, to, seq: seg.seq, bytes: seg.data.length, cause });
  }

  #resetBoth(c: Connection, why: ResetReason): void {
    c.client.reset(why, false);
    c.server?.reset(why, false);
  }

  #armRandomReset(c: Connection): void {
    if (this.#resetRate <= 0) return;
    // Exponential inter-arrival time: a Poisson process of rate resetRatePerSecond.
    const ms = (-Math.log(1 - this.#rng.next()) / this.#resetRate) * 1000;
    c.randomReset = this.world.clock.setTimeout(() => {
      c.randomReset = undefined;
      if (this.#connections.has(c.id)) this.#resetBoth(c, 'random');
    }, ms);
  }

  #maybeForget(c: Connection): void {
    if (!c.client.finished) return;
    if (c.server && !c.server.finished) return;
    c.randomReset?.cancel();
    this.#connections.delete(c.id);
  }

  #crashed(node: SimNode): void {
    for (const [fail, from] of [...this.#dialing]) if (from === node.id) fail();
    const ports = this.#listeners.get(node.id);
    if (ports) for (const l of [...ports.values()]) void l.close();
    for (const c of [...this.#connections.values()]) {
      if (c.clientNode === node.id) c.client.reset('crash', true);
      if (c.serverNode === node.id) c.server?.reset('crash', true);
    }
  }

  #setOne(from: string, to: string, config: Partial<StreamPathConfig> | null): void {
    const key = `${from}>${to}`;
    const merged = config === null ? {} : { ...this.#overrides.get(key), ...config };
    if (config === null) this.#overrides.delete(key);
    else this.#overrides.set(key, merged);
    const path = this.#paths.get(key);
    if (path) path.config = mergeStreamPathConfig(this.#defaults, merged);
  }

  #path(from: string, to: string): Bottleneck {
    const key = `${from}>${to}`;
    let p = this.#paths.get(key);
    if (!p) {
      p = new Bottleneck(mergeStreamPathConfig(this.#defaults, this.#overrides.get(key) ?? {}));
      this.#paths.set(key, p);
    }
    return p;
  }

  #ephemeral(nodeId: string, ports: Map<number, SimListener> | undefined): number {
    let p = this.#nextPort.get(nodeId) ?? EPHEMERAL_LOW;
    for (let i = 0; i <= EPHEMERAL_HIGH - EPHEMERAL_LOW; i++) {
      const candidate = p;
      p = p >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
      if (!ports?.has(candidate)) {
        this.#nextPort.set(nodeId, p);
        return candidate;
      }
    }
    throw new NovacronError(CoreErrorCode.INVALID_STATE, `no free port on ${nodeId}`);
  }

  #record(kind: string, fields: Record<string, string | number | boolean | null>): void {
    this.world.trace.record(this.world.now(), kind, fields);
  }
}

/**
 * The {@link StreamTransport} of one simulated node. Addresses are
 * `<nodeId>:<port>`; `listen` binds only this node's id (port 0 picks a free
 * port). A dial is answered after one round trip: a stream, or
 * `CORE_DIAL_FAILED` when nothing listens; when the peer is down or cut off
 * it retries the SYN with backoff and fails after `connectTimeoutMs`.
 */
export class SimStreamTransport implements StreamTransport {
  /** Always `sim`. */
  readonly name = 'sim';
  /** The node this transport belongs to. */
  readonly node: SimNode;
  readonly #streams: SimStreams;

  /** @internal use {@link SimStreams.transport}. */
  constructor(streams: SimStreams, node: SimNode) {
    this.#streams = streams;
    this.node = node;
  }

  /**
   * Connects to `<nodeId>:<port>`. Rejects with `CORE_DIAL_FAILED` (refused,
   * unknown host, timed out, or this node crashed), `CORE_ABORTED`, or
   * `CORE_INVALID_ARGUMENT` for a malformed address or port 0.
   */
  dial(address: string, options: DialOptions = {}): Promise<SimDuplex> {
    let parsed: { node: string; port: number };
    try {
      parsed = parseAddress(address);
      if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (parsed.port === 0) return Promise.reject(invalidArgument('address', 'a port in 1..65535', address));
    return this.#streams._dial(this.node, parsed.node, parsed.port, options);
  }

  /**
   * Binds `<thisNode>:<port>` (0 picks a free port). Rejects with
   * `CORE_INVALID_ARGUMENT` for another node's address, a bound port or a
   * malformed address, `CORE_INVALID_STATE` while the node is down. The
   * listener closes by itself when the node crashes.
   */
  async listen(address: string, handler: StreamHandler): Promise<Listener> {
    const parsed = parseAddress(address);
    if (parsed.node !== this.node.id) {
      throw invalidArgument('address', `an address of this node (${this.node.id}:<port>)`, address);
    }
    if (typeof handler !== 'function') throw invalidArgument('handler', 'a function', handler);
    if (!this.node.alive) throw new NovacronError(CoreErrorCode.INVALID_STATE, `node ${this.node.id} is down`);
    return this.#streams._listen(this.node, parsed.port, handler);
  }
}

/** A bound simulated endpoint; closing it refuses new dials (they fail with `CORE_DIAL_FAILED`). */
export class SimListener implements Listener {
  /** The bound `<nodeId>:<port>`. */
  readonly address: string;
  readonly #handler: StreamHandler;
  readonly #onClose: () => void;
  #open = true;

  /** @internal created by {@link SimStreamTransport.listen}. */
  constructor(address: string, handler: StreamHandler, onClose: () => void) {
    this.address = address;
    this.#handler = handler;
    this.#onClose = onClose;
  }

  /** Stops accepting; accepted streams stay open. Idempotent. */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#onClose();
  }

  /** Hands an inbound stream to the handler; a throwing handler aborts that stream. @internal */
  _accept(stream: SimDuplex): void {
    try {
      this.#handler(stream);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function parseAddress(address: unknown): { node: string; port: number } {
  if (typeof address !== 'string') throw invalidArgument('address', 'a string <nodeId>:<port>', address);
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !/^\d{1,5}$/.test(address.slice(i + 1)) || port > 65535) {
    throw invalidArgument('address', '<nodeId>:<port> with a port in 0..65535', address);
  }
  return { node: address.slice(0, i), port };
}

function dialFailed(address: string, why: string): NovacronError {
  return new NovacronError(CoreErrorCode.DIAL_FAILED, `dial ${address} failed: ${why}`, { details: { address, why } });
}
