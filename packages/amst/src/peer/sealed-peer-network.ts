import {
  type Counter,
  type Logger,
  type Metrics,
  type NodeId,
  type PeerMessageHandler,
  type PeerNetwork,
  isNovacronError,
  noopMetrics,
} from '@novacron/core';
import { AmstErrorCode } from '../errors.js';
import { DatagramSealer, type DatagramSealerOptions, SEAL_OVERHEAD } from './datagram-seal.js';

/** Options of {@link sealedPeerNetwork}. */
export interface SealedPeerNetworkOptions extends DatagramSealerOptions {
  /** The network to carry sealed messages (typically a `UdpPeerNetwork`). */
  readonly inner: PeerNetwork;
  /** Refused messages are logged at debug level here (default: nowhere). */
  readonly logger?: Logger;
  /** Counter `novacron_amst_sealed_refused_total{reason}` goes here (default: nowhere). */
  readonly metrics?: Metrics;
}

/** A {@link PeerNetwork} whose messages are sealed; the sealer is exposed for key rotation. */
export interface SealedPeerNetwork extends PeerNetwork {
  /** The sealer (call `setKeys` to rotate the cluster key). */
  readonly sealer: DatagramSealer;
  /** Messages refused so far, by reason. */
  readonly refused: { readonly auth: number; readonly replay: number };
}

/**
 * Wraps a {@link PeerNetwork} so every message is sealed under the cluster
 * key ({@link DatagramSealer}): for UDP gossip, where TLS does not apply.
 * The sender id, receiver id and channel are authenticated, so a member
 * cannot be impersonated by rewriting the datagram's header; forged,
 * tampered, truncated and replayed messages are counted and dropped before
 * any handler sees them.
 */
export function sealedPeerNetwork(options: SealedPeerNetworkOptions): SealedPeerNetwork {
  const { inner, logger } = options;
  const sealer = new DatagramSealer(options);
  const refusedCounter: Counter = (options.metrics ?? noopMetrics()).counter({
    name: 'novacron_amst_sealed_refused_total',
    help: 'Sealed peer messages refused: failed authentication or replays.',
    labelNames: ['reason'],
  });
  const refused = { auth: 0, replay: 0 };
  return {
    sealer,
    refused,
    get localId(): NodeId {
      return inner.localId;
    },
    get maxMessageSize(): number {
      return inner.maxMessageSize - SEAL_OVERHEAD;
    },
    send(to: NodeId, channel: string, data: Uint8Array): void {
      inner.send(to, channel, sealer.seal(inner.localId, to, channel, data));
    },
    handle(channel: string, handler: PeerMessageHandler): () => void {
      return inner.handle(channel, (from, sealed) => {
        let data: Uint8Array;
        try {
          data = sealer.open(from, inner.localId, channel, sealed);
        } catch (err) {
          const reason = isNovacronError(err) && err.code === AmstErrorCode.DATAGRAM_REPLAYED ? 'replay' : 'auth';
          refused[reason]++;
          refusedCounter.inc(1, { reason });
          logger?.debug('sealed message refused', { from, channel, reason });
          return;
        }
        handler(from, data);
      });
    },
  };
}
