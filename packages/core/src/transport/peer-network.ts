import type { NodeId } from '../identity/node-id.js';

/** Receives one message: the sender's id and the payload. */
export type PeerMessageHandler = (from: NodeId, data: Uint8Array) => void;

/**
 * Datagram-style messaging between nodes addressed by {@link NodeId}. Like
 * UDP and unlike a stream: a message may be dropped, delayed, duplicated or
 * reordered, and nothing tells the sender. Protocols built on it (Raft, PBFT,
 * SWIM) must cope, and the simulator makes them.
 *
 * Several protocols share one network through `channel` names
 * (`acp/raft`, `acp/swim`, ...): a message sent on a channel reaches only
 * that channel's handler on the receiver.
 */
export interface PeerNetwork {
  /** This node's id; the `from` of everything it sends. */
  readonly localId: NodeId;
  /** Largest payload `send` accepts, in bytes. */
  readonly maxMessageSize: number;
  /**
   * Sends `data` to `to` on `channel`, best effort. Never throws for network
   * reasons (an unknown or unreachable peer means a silent drop); throws
   * `CORE_INVALID_ARGUMENT` when `data` exceeds `maxMessageSize`. The caller
   * must not mutate `data` afterwards.
   */
  send(to: NodeId, channel: string, data: Uint8Array): void;
  /**
   * Registers the handler for `channel` (one per channel; a second
   * registration replaces the first). Returns a function that unregisters it.
   * Messages for a channel with no handler are dropped.
   */
  handle(channel: string, handler: PeerMessageHandler): () => void;
}
