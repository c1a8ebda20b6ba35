import type { NodeId } from '../identity/node-id.js';

/**
 * A reliable, ordered, bidirectional byte stream (a TCP connection, a QUIC
 * stream, a simulated pipe). Reading is async iteration; writing applies
 * backpressure by resolving only when the stream has room.
 */
export interface Duplex extends AsyncIterable<Uint8Array> {
  /** Transport-specific address of this end, e.g. `127.0.0.1:40123`. */
  readonly localAddress: string;
  /** Transport-specific address of the other end. */
  readonly remoteAddress: string;
  /**
   * The authenticated node at the other end, set only by transports that
   * prove it cryptographically (TLS with node certificates); `undefined`
   * on transports that authenticate nobody (plain TCP, memory).
   */
  readonly remoteNodeId?: NodeId;
  /**
   * Queues `data` for sending. Resolves once the transport has accepted it
   * (not once the peer has read it). Rejects with `CORE_STREAM_CLOSED` after
   * `closeWrite`, `close` or `abort`, or when the connection has failed.
   * The caller must not mutate `data` until the promise settles.
   */
  write(data: Uint8Array): Promise<void>;
  /**
   * Half-closes: no more writes from this end; the peer's iteration ends
   * after it has read everything written before. Reading continues.
   */
  closeWrite(): Promise<void>;
  /** Graceful close of both directions: flushes pending writes, then releases the connection. */
  close(): Promise<void>;
  /**
   * Abrupt reset: pending and future writes and reads on both ends fail with
   * `CORE_STREAM_CLOSED` (carrying `reason` as the cause locally).
   */
  abort(reason?: Error): void;
  /** Resolves when the stream is fully closed, by either side, gracefully or not. */
  readonly closed: Promise<void>;
}

/** A bound, accepting endpoint created by {@link StreamTransport.listen}. */
export interface Listener {
  /** The address actually bound (a requested port 0 is replaced by the real one). */
  readonly address: string;
  /** Stops accepting; streams already accepted stay open. */
  close(): Promise<void>;
}

/** Options for {@link StreamTransport.dial}. */
export interface DialOptions {
  /** Aborts the dial; it then rejects with `CORE_ABORTED`. */
  readonly signal?: AbortSignal;
  /**
   * The node expected at `address`. Authenticating transports refuse the
   * connection (`CORE_DIAL_FAILED`) when another node answers; others ignore it.
   */
  readonly expectedPeer?: NodeId;
}

/** Called once per accepted inbound stream. Errors thrown here abort that stream. */
export type StreamHandler = (stream: Duplex) => void;

/**
 * Opens and accepts byte streams. Addresses are transport-specific strings
 * (`host:port` for TCP, a node name in the simulator). Implementations: TCP
 * in `@novacron/amst`, a simulated one in `@novacron/testkit`; each proves
 * itself with `@novacron/testkit/compliance/stream-transport`.
 */
export interface StreamTransport {
  /** Transport name for logs and metrics, e.g. `tcp`, `sim`. */
  readonly name: string;
  /**
   * Connects to a listener. Rejects with `CORE_DIAL_FAILED` when nothing
   * listens there or the peer is unreachable, `CORE_ABORTED` when aborted.
   */
  dial(address: string, options?: DialOptions): Promise<Duplex>;
  /** Binds `address` and calls `handler` for each inbound stream. */
  listen(address: string, handler: StreamHandler): Promise<Listener>;
}
