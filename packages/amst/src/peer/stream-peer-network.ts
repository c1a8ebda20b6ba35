import {
  type Clock,
  type Duplex,
  FRAME_HEADER_SIZE,
  FrameDecoder,
  type Listener,
  type Logger,
  type Metrics,
  type NodeId,
  type PeerMessageHandler,
  type PeerNetwork,
  type Startable,
  type StreamTransport,
  encodeFrameHeader,
  noopMetrics,
  systemClock,
} from '@novacron/core';
import { TcpTransport } from '../transport/tcp-transport.js';
import { type PeerNetworkStats, emptyPeerNetworkStats } from './peer-network-stats.js';
import { MESSAGE_OVERHEAD, decodePeerFrame, encodeHello, encodeMessage, nameBytes, oversized } from './peer-wire.js';

/** Options for {@link StreamPeerNetwork}. */
export interface StreamPeerNetworkOptions {
  /** This node's id (the `from` of everything it sends). */
  readonly localId: NodeId;
  /** The stream transport carrying messages (TCP for {@link tcpPeerNetwork}). */
  readonly transport: StreamTransport;
  /** Address to accept connections on (e.g. `0.0.0.0:7000`; port 0 picks one). */
  readonly listenAddress: string;
  /** Known peers: id → address to dial. More can be added with {@link StreamPeerNetwork.addPeer}. */
  readonly peers?: Iterable<readonly [NodeId, string]>;
  /** Largest payload `send` accepts (default 1 MiB). */
  readonly maxMessageSize?: number;
  /** Messages one peer's send queue holds before new ones are dropped (default 1024). */
  readonly maxQueueMessages?: number;
  /** Bytes one peer's send queue holds before new messages are dropped (default 8 MiB). */
  readonly maxQueueBytes?: number;
  /** First reconnect delay after a failed dial or a broken connection (default 100 ms), doubled up to `maxReconnectDelayMs`. */
  readonly reconnectDelayMs?: number;
  /** Longest reconnect delay (default 5 s). */
  readonly maxReconnectDelayMs?: number;
  /** Time source (default: the system clock; the simulator passes a virtual one). */
  readonly clock?: Clock;
  /** Debug logging (default: none). */
  readonly logger?: Logger;
  /** Where counters go (default: nowhere). */
  readonly metrics?: Metrics;
}

interface Outbound {
  readonly id: NodeId;
  address: string;
  queue: Uint8Array[];
  queuedBytes: number;
  stream: Duplex | undefined;
  pumping: boolean;
  delayMs: number;
  retry: { cancel(): void } | undefined;
  everConnected: boolean;
}

/**
 * A {@link PeerNetwork} over any {@link StreamTransport}: one outbound
 * connection per peer carrying core-framed messages (docs/protocol/amst.md,
 * "Peer messages"), reconnecting with exponential backoff, with a bounded
 * per-peer send queue whose overflow is dropped and counted. Messages are
 * delivered in order while a connection lives; across a reconnect the ones
 * in flight may be lost, as the contract allows.
 */
export class StreamPeerNetwork implements PeerNetwork, Startable {
  /** This node's id. */
  readonly localId: NodeId;
  /** Largest payload `send` accepts. */
  readonly maxMessageSize: number;
  private readonly transport: StreamTransport;
  private readonly listenAddress: string;
  private readonly maxQueueMessages: number;
  private readonly maxQueueBytes: number;
  private readonly reconnectDelayMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly handlers = new Map<string, PeerMessageHandler>();
  private readonly outbound = new Map<NodeId, Outbound>();
  private readonly inbound = new Set<Duplex>();
  private readonly idBytes: Uint8Array;
  private listener: Listener | undefined;
  private running = false;
  private readonly counters = emptyPeerNetworkStats();
  private readonly dropCounter;

  constructor(options: StreamPeerNetworkOptions) {
    this.localId = options.localId;
    this.idBytes = nameBytes('localId', options.localId);
    this.transport = options.transport;
    this.listenAddress = options.listenAddress;
    this.maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
    this.maxQueueMessages = options.maxQueueMessages ?? 1024;
    this.maxQueueBytes = options.maxQueueBytes ?? 8 * 1024 * 1024;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 100;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? 5_000;
    this.clock = options.clock ?? systemClock();
    this.logger = options.logger;
    this.dropCounter = (options.metrics ?? noopMetrics()).counter({
      name: 'novacron_amst_peer_dropped_total',
      help: 'Peer messages dropped by the stream PeerNetwork binding, by reason.',
      labelNames: ['reason'],
    });
    for (const [id, address] of options.peers ?? []) this.addPeer(id, address);
  }

  /** The address actually bound, once started. */
  get address(): string | undefined {
    return this.listener?.address;
  }

  /** A copy of the counters. */
  stats(): PeerNetworkStats {
    return { ...this.counters };
  }

  /** Adds or re-addresses a peer. */
  addPeer(id: NodeId, address: string): void {
    const existing = this.outbound.get(id);
    if (existing) {
      existing.address = address;
      return;
    }
    this.outbound.set(id, {
      id,
      address,
      queue: [],
      queuedBytes: 0,
      stream: undefined,
      pumping: false,
      delayMs: this.reconnectDelayMs,
      retry: undefined,
      everConnected: false,
    });
  }

  /** Starts accepting connections. */
  async start(): Promise<void> {
    if (this.running) return;
    this.listener = await this.transport.listen(this.listenAddress, (s) => this.accept(s));
    this.running = true;
    for (const peer of this.outbound.values()) if (peer.queue.length > 0) void this.pump(peer);
  }

  /** Closes the listener and every connection; queued messages are discarded. */
  async stop(): Promise<void> {
    this.running = false;
    await this.listener?.close();
    this.listener = undefined;
    for (const peer of this.outbound.values()) {
      peer.retry?.cancel();
      peer.stream?.abort();
      peer.stream = undefined;
      peer.queue = [];
      peer.queuedBytes = 0;
    }
    for (const s of this.inbound) s.abort();
    this.inbound.clear();
  }

  /**
   * Cuts every open connection to or from a peer `drop` selects (a member
   * just retired, a revoked key): inbound ones by the node the transport
   * authenticated, outbound ones by the node dialled. Queued messages stay
   * queued; whether the peer may connect again is the transport's trust
   * decision. Returns how many connections were cut.
   */
  disconnect(drop: (id: NodeId) => boolean): number {
    let n = 0;
    for (const s of this.inbound) {
      if (s.remoteNodeId !== undefined && drop(s.remoteNodeId as NodeId)) {
        s.abort();
        this.inbound.delete(s);
        n++;
      }
    }
    for (const peer of this.outbound.values()) {
      if (peer.stream !== undefined && drop(peer.id)) {
        peer.stream.abort();
        peer.stream = undefined;
        n++;
      }
    }
    return n;
  }

  /** Queues `data` for `to` (see {@link PeerNetwork.send}); drops and counts when the queue is full or the peer unknown. */
  send(to: NodeId, channel: string, data: Uint8Array): void {
    if (data.length > this.maxMessageSize) throw oversized(data.length, this.maxMessageSize);
    const body = encodeMessage(nameBytes('channel', channel), data);
    if (to === this.localId) {
      this.counters.sent++;
      setImmediate(() => this.dispatch(this.localId, channel, data));
      return;
    }
    const peer = this.outbound.get(to);
    if (!peer) {
      this.drop('unknown-peer');
      return;
    }
    if (peer.queue.length >= this.maxQueueMessages || peer.queuedBytes + body.length > this.maxQueueBytes) {
      this.drop('queue-full');
      return;
    }
    peer.queue.push(body);
    peer.queuedBytes += body.length;
    this.counters.sent++;
    if (this.running) void this.pump(peer);
  }

  /** Registers the handler for `channel` (see {@link PeerNetwork.handle}). */
  handle(channel: string, handler: PeerMessageHandler): () => void {
    this.handlers.set(channel, handler);
    return () => {
      if (this.handlers.get(channel) === handler) this.handlers.delete(channel);
    };
  }

  private drop(reason: 'unknown-peer' | 'queue-full' | 'no-handler' | 'connection-lost', n = 1): void {
    if (reason === 'unknown-peer') this.counters.droppedUnknownPeer += n;
    else if (reason === 'queue-full') this.counters.droppedQueueFull += n;
    else if (reason === 'no-handler') this.counters.droppedNoHandler += n;
    else this.counters.droppedConnectionLost += n;
    this.dropCounter.inc(n, { reason });
  }

  /** Writes the peer's queue on its connection, dialling first if needed; one pump per peer at a time. */
  private async pump(peer: Outbound): Promise<void> {
    if (peer.pumping || peer.retry) return;
    peer.pumping = true;
    try {
      while (this.running && peer.queue.length > 0) {
        if (!peer.stream) {
          const stream = await this.transport.dial(peer.address, { expectedPeer: peer.id });
          if (!this.running) {
            stream.abort();
            return;
          }
          if (peer.everConnected) this.counters.reconnects++;
          peer.everConnected = true;
          peer.stream = stream;
          peer.delayMs = this.reconnectDelayMs;
          // Inbound data on an outbound connection is not part of the protocol; draining detects resets.
          void this.watch(peer, stream);
          await stream.write(frame(encodeHello(this.idBytes)));
        }
        const body = peer.queue.shift()!;
        peer.queuedBytes -= body.length;
        try {
          await peer.stream.write(frame(body));
        } catch (err) {
          this.drop('connection-lost');
          throw err;
        }
      }
    } catch (err) {
      this.logger?.debug('peer connection failed', { address: peer.address, error: String(err) });
      peer.stream?.abort();
      peer.stream = undefined;
      if (this.running) {
        peer.retry = this.clock.setTimeout(() => {
          peer.retry = undefined;
          void this.pump(peer);
        }, peer.delayMs);
        peer.delayMs = Math.min(peer.delayMs * 2, this.maxReconnectDelayMs);
      }
    } finally {
      peer.pumping = false;
    }
  }

  private async watch(peer: Outbound, stream: Duplex): Promise<void> {
    try {
      for await (const _ of stream) {
        // ignored
      }
    } catch {
      // reset: handled below
    }
    if (peer.stream === stream) {
      peer.stream = undefined;
      stream.abort();
    }
  }

  private accept(stream: Duplex): void {
    if (!this.running) {
      stream.abort();
      return;
    }
    this.inbound.add(stream);
    void (async () => {
      const decoder = new FrameDecoder({ maxFrameSize: this.maxMessageSize + MESSAGE_OVERHEAD });
      let from: string | undefined;
      try {
        for await (const chunk of stream) {
          for (const payload of decoder.push(chunk)) {
            const f = decodePeerFrame(payload);
            if (f.kind === 'hello') {
              if (from !== undefined) throw new Error('second hello');
              // On an authenticating transport (TLS) the hello must name the node that proved its key.
              if (stream.remoteNodeId !== undefined && f.id !== stream.remoteNodeId)
                throw new Error(`hello claims ${f.id} but the transport authenticated ${stream.remoteNodeId}`);
              from = f.id;
            } else if (from === undefined) {
              throw new Error('message before hello');
            } else {
              this.dispatch(from as NodeId, f.channel, f.data);
            }
          }
        }
      } catch (err) {
        this.counters.malformed++;
        this.logger?.debug('inbound peer connection failed', { error: String(err) });
        stream.abort();
      } finally {
        this.inbound.delete(stream);
      }
    })();
  }

  private dispatch(from: NodeId, channel: string, data: Uint8Array): void {
    const handler = this.handlers.get(channel);
    if (!handler) {
      this.drop('no-handler');
      return;
    }
    this.counters.delivered++;
    try {
      handler(from, data);
    } catch (err) {
      this.logger?.warn('peer message handler threw', { channel, error: String(err) });
    }
  }
}

function frame(payload: Uint8Array): Uint8Array {
  const header = encodeFrameHeader(payload, { maxFrameSize: payload.length });
  const out = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  out.set(header);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/** Options for {@link tcpPeerNetwork}: those of {@link StreamPeerNetwork} without the transport. */
export type TcpPeerNetworkOptions = Omit<StreamPeerNetworkOptions, 'transport'> & {
  /** Connect timeout for dials (default 5 s). */
  readonly connectTimeoutMs?: number;
};

/** A {@link StreamPeerNetwork} over kernel TCP ({@link TcpTransport}). Call `start()` before use. */
export function tcpPeerNetwork(options: TcpPeerNetworkOptions): StreamPeerNetwork {
  const transport = new TcpTransport({
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  return new StreamPeerNetwork({ ...options, transport });
}
