import { StreamPeerNetwork, type TcpPeerNetworkOptions } from '../peer/stream-peer-network.js';
import type { TlsCredentials } from './node-certificate.js';
import { TlsTransport, type TlsTrust } from './tls-transport.js';

/** Options of {@link tlsPeerNetwork}: those of `tcpPeerNetwork` plus this node's TLS credentials and trust. */
export type TlsPeerNetworkOptions = TcpPeerNetworkOptions & {
  /** This node's key and certificate; the certificate must be for `localId`. */
  readonly credentials: TlsCredentials;
  /** Which peers to accept (pinned node ids, or a cluster CA). */
  readonly trust: TlsTrust;
};

/**
 * A {@link StreamPeerNetwork} over mutually authenticated TLS 1.3
 * ({@link TlsTransport}): each connection is bound to the node that proved
 * its key, outbound dials refuse any node but the one addressed, and an
 * inbound hello naming another node closes the connection. Call `start()`
 * before use.
 */
export function tlsPeerNetwork(options: TlsPeerNetworkOptions): StreamPeerNetwork {
  const transport = new TlsTransport({
    credentials: options.credentials,
    trust: options.trust,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  return new StreamPeerNetwork({ ...options, transport });
}
