import { checksum32 } from '@novacron/core';
import * as Y from 'yjs';

/** What two replicas of one Yjs document compare to find divergence. */
export interface DocDigest {
  /** The encoded state vector (y-protocols' step 1 payload). */
  readonly stateVector: Uint8Array;
  /** CRC-32 of the encoded delete set (canonical: sorted and merged by Yjs). */
  readonly deleteSetHash: number;
}

/**
 * The state vector and delete-set digest of `doc`. Two documents with the
 * same state vector and delete set hold the same content (the fast-check
 * property in test/unit/crdt-convergence.test.ts).
 */
export function docDigest(doc: Y.Doc): DocDigest {
  const ds = Y.createDeleteSetFromStructStore(doc.store);
  const dsBytes = Y.encodeSnapshot(new Y.Snapshot(ds, new Map()));
  return { stateVector: Y.encodeStateVector(doc), deleteSetHash: checksum32(dsBytes) };
}

/** True when state vector `a` covers `b` (has seen every clock `b` has). */
export function stateVectorCovers(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  for (const [client, clock] of b) if ((a.get(client) ?? 0) < clock) return false;
  return true;
}

/** True when two decoded state vectors are equal. */
export function stateVectorsEqual(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  return a.size === b.size && stateVectorCovers(a, b);
}
