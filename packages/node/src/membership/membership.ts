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
  /**
   * What the implementation saw, for audit logs: SWIM's event kind (`join`,
   * `alive`, `suspect`, `dead`, `left`) for gossip membership; `probe` for
   * static membership.
   */
  readonly reason?: string;
}

/**
 * Membership and discovery as the node consumes it: who is in the
 * cluster, who is reachable, and what they advertise. The node ships a
 * gossip implementation (SWIM over sealed UDP, the default) and a static
 * one (members from config seeds, liveness from RTT probes).
 */
export interface Membership extends Startable {
  /** This node's id. */
  readonly localId: NodeId;
  /** Every known member, this node included, sorted by id. */
  members(): MemberInfo[];
  /** Sets a fact this node advertises to the others. */
  setLocalMeta(key: string, value: string): void;
  /**
   * Calls `listener` on every change of a member's status, a new member
   * included (`previous` undefined), in the order they happen; returns the
   * unsubscribe function. A listener that throws is logged and skipped.
   * This is the hook audit logs and the cluster controller use.
   */
  onChange(listener: (change: MemberChange) => void): () => void;
}
