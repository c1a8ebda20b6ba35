import { decodeMsgpack, encodeMsgpack, type PeerNetwork } from '@novacron/core';

/** Messages between the two halves of a migration, outside the data streams (docs/protocol/migration.md). */
export type ControlMessage =
  /** Destination → source: the guest touched pages still missing (post-copy). */
  | { readonly t: 'fault'; readonly migrationId: string; readonly pages: readonly number[] }
  /** Destination → source: the VM runs here now (wall-clock ms), for the downtime figure. */
  | { readonly t: 'resumed'; readonly migrationId: string; readonly at: number; readonly digest?: string }
  /** Source → destination: the ownership change committed; check the log and resume now (saves a reconcile tick). */
  | { readonly t: 'owned'; readonly migrationId: string; readonly vmId: string };

/** Carries {@link ControlMessage}s between nodes (best effort: may drop; both halves cope). */
export interface MigrationControl {
  send(to: string, message: ControlMessage): void;
  onMessage(handler: (from: string, message: ControlMessage) => void): () => void;
}

/** The peer-network channel migrations use. */
export const MIGRATION_CHANNEL = 'migration/v1';

/** Decodes a control message; `undefined` for anything malformed (dropped, never thrown). */
export function decodeControl(data: Uint8Array): ControlMessage | undefined {
  let m: unknown;
  try {
    m = decodeMsgpack(data);
  } catch {
    return undefined;
  }
  const o = m as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || typeof o.migrationId !== 'string' || o.migrationId.length > 128)
    return undefined;
  if (
    o.t === 'fault' &&
    Array.isArray(o.pages) &&
    o.pages.length <= 4096 &&
    o.pages.every((p) => Number.isInteger(p) && p >= 0)
  )
    return { t: 'fault', migrationId: o.migrationId, pages: o.pages as number[] };
  if (o.t === 'resumed' && typeof o.at === 'number')
    return {
      t: 'resumed',
      migrationId: o.migrationId,
      at: o.at,
      ...(typeof o.digest === 'string' && o.digest.length <= 128 ? { digest: o.digest } : {}),
    };
  if (o.t === 'owned' && typeof o.vmId === 'string' && o.vmId.length <= 128)
    return { t: 'owned', migrationId: o.migrationId, vmId: o.vmId };
  return undefined;
}

/** {@link MigrationControl} over the node's peer network. */
export function peerMigrationControl(network: PeerNetwork): MigrationControl {
  return {
    send: (to, message) => {
      try {
        network.send(to, MIGRATION_CHANNEL, encodeMsgpack(message));
      } catch {
        // best effort: the halves recover from a lost message
      }
    },
    onMessage: (handler) =>
      network.handle(MIGRATION_CHANNEL, (from, data) => {
        const m = decodeControl(data);
        if (m) handler(from, m);
      }),
  };
}
