import type { NodeId, Startable } from '@novacron/core';

/** What a member looks like to this node. */
export type MemberStatus = 'alive' | 'suspect' | 'down';

/** One member of the cluster as this node sees it. */
export interface MemberInfo {
  /** Node id. */
  readonly id: NodeId;
  /** Peer-network address. */
  readonly address: string;
  /** Liveness as this node sees it (this node is always `alive`). */
  readonly status: MemberStatus;
  /** Local clock time a message from it last arrived (undefined: never). */
  readonly lastSeenAt?: number;
  /** Latest measured round-trip time in ms. */
  readonly rttMs?: number;
  /** Small facts the member advertises (its HTTP API URL, host id, ...). */
  readonly meta: Readonly<Record<string, string>>;
}

/** A change of one member's status. */
export interface MemberChange {
  /** The member after the change. */
  readonly member: MemberInfo;
  /** Its previous status (`undefined` when newly known). */
  readonly previous: MemberStatus | undefined;
}

/**
 * Membership and discovery as the node consumes it: who is in the
 * cluster, who is reachable, and what they advertise. The node ships a
 * static implementation (members from config seeds, liveness from RTT
 * probes); acp's SWIM gossip (#7) will implement the same interface so the
 * node can swap it in without other changes.
 */
export interface Membership extends Startable {
  /** This node's id. */
  readonly localId: NodeId;
  /** Every known member, this node included, sorted by id. */
  members(): MemberInfo[];
  /** Sets a fact this node advertises to the others. */
  setLocalMeta(key: string, value: string): void;
  /** Calls `listener` on every status change; returns the unsubscribe function. */
  onChange(listener: (change: MemberChange) => void): () => void;
}
