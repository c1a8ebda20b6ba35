/**
 * SWIM messages as the core sees them. Their wire form is in `wire.ts` and
 * docs/protocol/gossip.md.
 */

/** What a member believes about another: memberlist's node states. */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

/** One gossip item piggybacked on any message. */
export type GossipItem =
  /** `id` is alive at `incarnation`, reachable at `address`, with `meta`. */
  | {
      readonly kind: 'alive';
      readonly id: string;
      readonly incarnation: number;
      readonly address: string;
      readonly meta: Uint8Array;
    }
  /** `from` suspects `id` (at `incarnation`) of having failed. */
  | { readonly kind: 'suspect'; readonly id: string; readonly incarnation: number; readonly from: string }
  /** `from` declares `id` dead; `from === id` is a graceful leave. */
  | { readonly kind: 'dead'; readonly id: string; readonly incarnation: number; readonly from: string }
  /** A user event (see {@link UserEvent}). */
  | ({ readonly kind: 'event' } & UserEvent);

/** An application event broadcast to every member, ordered by Lamport time. */
export interface UserEvent {
  /** The member that broadcast it. */
  readonly origin: string;
  /** Lamport time at the origin when broadcast. */
  readonly ltime: number;
  /** Event name. */
  readonly name: string;
  /** Opaque payload. */
  readonly payload: Uint8Array;
}

/** One member's state in a push-pull exchange. */
export interface MemberSnapshot {
  /** Member id. */
  readonly id: string;
  /** Address (`host:port`, or `''` when the network needs none). */
  readonly address: string;
  /** Incarnation number. */
  readonly incarnation: number;
  /** Status as the sender sees it. */
  readonly status: MemberStatus;
  /** Application metadata. */
  readonly meta: Uint8Array;
}

/** A SWIM datagram. Every kind may carry piggybacked gossip. */
export type SwimMessage =
  /** Direct probe; `target` is who the sender thinks it is probing. */
  | { readonly kind: 'ping'; readonly seq: number; readonly target: string; readonly gossip: readonly GossipItem[] }
  /** Asks the receiver to probe `target` and relay the ack (and, with `nack`, a nack if none comes). */
  | {
      readonly kind: 'ping-req';
      readonly seq: number;
      readonly target: string;
      readonly nack: boolean;
      readonly gossip: readonly GossipItem[];
    }
  /** Answers the ping (or relays the indirect ack) with sequence number `seq`. */
  | { readonly kind: 'ack'; readonly seq: number; readonly gossip: readonly GossipItem[] }
  /** Lifeguard: an intermediary got no ack from the target in time (but is itself alive). */
  | { readonly kind: 'nack'; readonly seq: number; readonly gossip: readonly GossipItem[] }
  /** Gossip only. */
  | { readonly kind: 'gossip'; readonly gossip: readonly GossipItem[] }
  /** Full state exchange (anti-entropy), also used to join. */
  | {
      readonly kind: 'push-pull';
      readonly join: boolean;
      readonly reply: boolean;
      readonly members: readonly MemberSnapshot[];
      readonly events: readonly UserEvent[];
      readonly ltime: number;
      readonly gossip: readonly GossipItem[];
    };

/** The kinds of {@link SwimMessage}. */
export type SwimMessageKind = SwimMessage['kind'];
