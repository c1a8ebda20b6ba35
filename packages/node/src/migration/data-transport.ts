import { TcpTransport } from '@novacron/amst';
import type { Clock, StreamTransport } from '@novacron/core';

/** Where and how the migration data path listens. */
export interface MigrationDataTransport {
  /** Carries the lanes of migration streams. */
  readonly transport: StreamTransport;
  /** Address the node's migration receiver listens on. */
  readonly listenAddress: string;
}

/**
 * Creates the transport of the migration data path: kernel TCP on the
 * node's own migration port, separate from the peer network. The one place
 * that decides how migration bytes travel, so a secured build swaps this
 * function for one returning amst's TLS transport with the node's
 * certificate.
 */
export function migrationDataTransport(init: { listen: string; clock: Clock }): MigrationDataTransport {
  return {
    transport: new TcpTransport({ clock: init.clock, writeBufferBytes: 4 * 1024 * 1024 }),
    listenAddress: init.listen,
  };
}
