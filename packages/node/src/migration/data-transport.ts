import { TcpTransport, type TlsCredentials, TlsTransport, type TlsTrust } from '@novacron/amst';
import type { Clock, StreamTransport } from '@novacron/core';

/** Where and how the migration data path listens. */
export interface MigrationDataTransport {
  /** Carries the lanes of migration streams. */
  readonly transport: StreamTransport;
  /** Address the node's migration receiver listens on. */
  readonly listenAddress: string;
}

/**
 * Creates the transport of the migration data path, on the node's own
 * migration port, separate from the peer network: TLS 1.3 with the node's
 * certificate and the peer network's trust (docs/security.md, "Links"), so
 * only cluster members can send or receive VM memory; kernel TCP only when
 * the node runs with `security.insecure`. The one place that decides how
 * migration bytes travel.
 */
export function migrationDataTransport(init: {
  listen: string;
  clock: Clock;
  tls?: { readonly credentials: TlsCredentials; readonly trust: TlsTrust } | undefined;
}): MigrationDataTransport {
  const common = { clock: init.clock, writeBufferBytes: 4 * 1024 * 1024 };
  return {
    transport: init.tls
      ? new TlsTransport({ ...common, credentials: init.tls.credentials, trust: init.tls.trust })
      : new TcpTransport(common),
    listenAddress: init.listen,
  };
}
