/**
 * A node's name across the cluster, derived from its Ed25519 public key
 * (see `nodeIdFromPublicKey`), so that a peer can check a claimed id against
 * the key that signs for it. A branded string: build it with
 * `nodeIdFromPublicKey` or `asNodeId`.
 */
export type NodeId = string & { readonly __brand?: 'NodeId' };

/** Treats `value` as a node id without checking its derivation (tests, simulators, config). */
export function asNodeId(value: string): NodeId {
  return value as NodeId;
}
