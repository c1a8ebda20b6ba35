import dgram from 'node:dgram';
import net from 'node:net';
import {
  type Logger,
  type Metrics,
  type NodeId,
  type PeerMessageHandler,
  type PeerNetwork,
  type Startable,
  noopMetrics,
} from '@novacron/core';
import { formatHostPort, parseHostPort } from '../transport/address.js';
import { type PeerNetworkStats, emptyPeerNetworkStats } from './peer-network-stats.js';
import { DATAGRAM_OVERHEAD, decodeDatagram, encodeDatagram, nameBytes, oversized } from './peer-wire.js';

/** Largest UDP payload over IPv4. */
const UDP_MAX_PAYLOAD = 65_507;

/** Options for {@link UdpPeerNetwork}. */
export interface UdpPeerNetworkOptions {
  /** This node's id. */
  readonly localId: NodeId;
  /** `host:port` to bind (port 0 picks one). */
  readonly listenAddress: string;
  /** Known peers: id → `host:port`. */
  readonly peers?: Iterable<readonly [NodeId, string]>;
  /**
   * Largest payload `send` accepts. Default: what fits one IPv4 UDP datagram
   * with the longest id and channel (65,507 − 514 bytes). Use ~1,200 on paths
   * where IP fragmentation is unwelcome.
   */
  readonly maxMessageSize?: number;
  /** Datagrams waiting to be handed to the kernel before new ones are dropped (default 4096). */
  readonly maxQueueMessages?: number;
  /** Datagrams handed to the kernel per event-loop turn, so a burst does not overrun a local receiver (default 32). */
  readonly burst?: number;
  /** Kernel socket buffer sizes to request (default 4 MiB; capped by `net.core.[rw]mem_max`). */
  readonly socketBufferBytes?: number;
  /** Debug logging (default: none). */
  readonly logger?: Logger;
  /** Where counters go (default: nowhere). */
  readonly metrics?: Metrics;
}

/**
 * A {@link PeerNetwork} over UDP (`node:dgram`): one datagram per message
 * (docs/protocol/amst.md, "Peer messages"), sent from a bounded queue that
 * drops and counts what does not fit. Like the contract, it may lose,
 * duplicate or reorder; it never retries.
 */
export class UdpPeerNetwork implements PeerNetwork, Startable {
  /** This node's id. */
  readonly localId: NodeId;
  /** Largest payload `send` accepts. */
  readonly maxMessageSize: number;
  private readonly listenAddress: string;
  private readonly maxQueueMessages: number;
  private readonly burst: number;
  private readonly socketBufferBytes: number;
  private readonly logger: Logger | undefined;
  private readonly peers = new Map<NodeId, { host: string; port: number }>();
  private readonly handlers = new Map<string, PeerMessageHandler>();
  private readonly idBytes: Uint8Array;
  private readonly queue: { datagram: Uint8Array; host: string; port: number }[] = [];
  private flushing = false;
  private socket: dgram.Socket | undefined;
  private bound: string | undefined;
  private readonly counters = emptyPeerNetworkStats();
  private readonly dropCounter;

  constructor(options: UdpPeerNetworkOptions) {
    this.localId = options.localId;
    this.idBytes = nameBytes('localId', options.localId);
    this.listenAddress = options.listenAddress;
    this.maxMessageSize = options.maxMessageSize ?? UDP_MAX_PAYLOAD - DATAGRAM_OVERHEAD;
    if (this.maxMessageSize + DATAGRAM_OVERHEAD > UDP_MAX_PAYLOAD) {
      throw oversized(this.maxMessageSize, UDP_MAX_PAYLOAD - DATAGRAM_OVERHEAD);
    }
    this.maxQueueMessages = options.maxQueueMessages ?? 4096;
    this.burst = options.burst ?? 32;
    this.socketBufferBytes = options.socketBufferBytes ?? 4 * 1024 * 1024;
    this.logger = options.logger;
    this.dropCounter = (options.metrics ?? noopMetrics()).counter({
      name: 'novacron_amst_udp_dropped_total',
      help: 'Peer messages dropped by the UDP PeerNetwork binding, by reason.',
      labelNames: ['reason'],
    });
    for (const [id, address] of options.peers ?? []) this.addPeer(id, address);
  }

  /** The bound `host:port`, once started. */
  get address(): string | undefined {
    return this.bound;
  }

  /** A copy of the counters. */
  stats(): PeerNetworkStats {
    return { ...this.counters };
  }

  /** Adds or re-addresses a peer. */
  addPeer(id: NodeId, address: string): void {
    this.peers.set(id, parseHostPort(address));
  }

  /** Binds the socket. */
  async start(): Promise<void> {
    if (this.socket) return;
    const { host, port } = parseHostPort(this.listenAddress);
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    socket.on('message', (msg) => this.receive(msg));
    socket.on('error', (err) => this.logger?.warn('udp socket error', { error: String(err) }));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(this.socketBufferBytes);
      socket.setSendBufferSize(this.socketBufferBytes);
    } catch {
      // The kernel caps the request; the default buffers still work.
    }
    const a = socket.address();
    this.bound = formatHostPort(a.address, a.port);
    this.socket = socket;
  }

  /** Closes the socket; queued datagrams are discarded. */
  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.queue.length = 0;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  /** Queues one datagram for `to` (see {@link PeerNetwork.send}); drops and counts when the queue is full or the peer unknown. */
  send(to: NodeId, channel: string, data: Uint8Array): void {
    if (data.length > this.maxMessageSize) throw oversized(data.length, this.maxMessageSize);
    const datagram = encodeDatagram(this.idBytes, nameBytes('channel', channel), data);
    const peer = this.peers.get(to);
    if (!peer) {
      this.drop('unknown-peer');
      return;
    }
    if (this.queue.length >= this.maxQueueMessages) {
      this.drop('queue-full');
      return;
    }
    this.queue.push({ datagram, host: peer.host, port: peer.port });
    this.counters.sent++;
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /** Registers the handler for `channel` (see {@link PeerNetwork.handle}). */
  handle(channel: string, handler: PeerMessageHandler): () => void {
    this.handlers.set(channel, handler);
    return () => {
      if (this.handlers.get(channel) === handler) this.handlers.delete(channel);
    };
  }

  private flush(): void {
    const socket = this.socket;
    if (!socket) {
      this.flushing = false;
      return;
    }
    for (let i = 0; i < this.burst && this.queue.length > 0; i++) {
      const { datagram, host, port } = this.queue.shift()!;
      socket.send(datagram, port, host, (err) => {
        if (err) this.drop('connection-lost');
      });
    }
    if (this.queue.length > 0) setImmediate(() => this.flush());
    else this.flushing = false;
  }

  private receive(msg: Buffer): void {
    let d: ReturnType<typeof decodeDatagram>;
    try {
      d = decodeDatagram(msg);
    } catch {
      this.counters.malformed++;
      return;
    }
    if (d.data.length > this.maxMessageSize) {
      this.counters.malformed++;
      return;
    }
    const handler = this.handlers.get(d.channel);
    if (!handler) {
      this.drop('no-handler');
      return;
    }
    this.counters.delivered++;
    try {
      handler(d.from as NodeId, d.data);
    } catch (err) {
      this.logger?.warn('peer message handler threw', { channel: d.channel, error: String(err) });
    }
  }

  private drop(reason: 'unknown-peer' | 'queue-full' | 'no-handler' | 'connection-lost'): void {
    if (reason === 'unknown-peer') this.counters.droppedUnknownPeer++;
    else if (reason === 'queue-full') this.counters.droppedQueueFull++;
    else if (reason === 'no-handler') this.counters.droppedNoHandler++;
    else this.counters.droppedConnectionLost++;
    this.dropCounter.inc(1, { reason });
  }
}
