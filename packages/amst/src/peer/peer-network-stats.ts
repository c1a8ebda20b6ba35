/** Counters every PeerNetwork binding keeps (also exported through core `Metrics`). */
export interface PeerNetworkStats {
  /** Messages accepted by `send` and queued or written. */
  sent: number;
  /** Messages handed to a handler. */
  delivered: number;
  /** Messages dropped because the peer's bounded send queue was full. */
  droppedQueueFull: number;
  /** Messages dropped because the destination id has no known address. */
  droppedUnknownPeer: number;
  /** Messages received on a channel with no handler. */
  droppedNoHandler: number;
  /** Messages lost with a connection that failed before they were written. */
  droppedConnectionLost: number;
  /** Inbound frames or datagrams that failed to parse. */
  malformed: number;
  /** Connections re-established after a failure (stream binding). */
  reconnects: number;
}

/** A fresh, zeroed {@link PeerNetworkStats}. */
export function emptyPeerNetworkStats(): PeerNetworkStats {
  return {
    sent: 0,
    delivered: 0,
    droppedQueueFull: 0,
    droppedUnknownPeer: 0,
    droppedNoHandler: 0,
    droppedConnectionLost: 0,
    malformed: 0,
    reconnects: 0,
  };
}
