import type { Startable } from '../lifecycle.js';

/**
 * The deterministic state machine a {@link ConsensusGroup} replicates:
 * every member applies the same commands in the same order and must reach
 * the same state and results. `apply` must not depend on time, randomness
 * or anything outside its arguments and state.
 */
export interface ReplicatedStateMachine {
  /** Applies a committed command (at log position `index`) and returns its result. */
  apply(command: Uint8Array, index: number): Uint8Array;
  /** Serialises the whole state (for snapshots). */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's. */
  restore(snapshot: Uint8Array): void;
}

/** A client session: commands retried with the same `client` and `seq` take effect once. */
export interface ClientSession {
  /** Stable client id (unique per client process). */
  readonly client: string;
  /** Per-client sequence number, increasing by one per new command; a retry reuses it. */
  readonly seq: number;
}

/** Options of {@link ConsensusGroup.propose}. */
export interface ProposeOptions {
  /** Gives the command exactly-once semantics across retries. */
  readonly session?: ClientSession;
  /** Rejects with `CORE_ABORTED` (the command may still commit). */
  readonly signal?: AbortSignal;
  /** Rejects with `CORE_PROPOSAL_UNKNOWN` when not applied in time. Implementation default. */
  readonly timeoutMs?: number;
}

/** Outcome of a committed proposal. */
export interface ProposeResult {
  /** Log position the command committed at. */
  readonly index: number;
  /** The state machine's result. */
  readonly result: Uint8Array;
}

/** One committed command, as delivered by {@link ConsensusGroup.onCommitted}. */
export interface CommittedCommand {
  /** Log position. */
  readonly index: number;
  /** The command. */
  readonly command: Uint8Array;
  /** The state machine's result (a duplicate in a session gets the first result). */
  readonly result: Uint8Array;
}

/** A member's view of its group. */
export interface ConsensusStatus {
  /** This member's id. */
  readonly id: string;
  /** Role in the protocol (`leader`, `follower`, `candidate`, ...; implementation-defined names). */
  readonly role: string;
  /** Current term, view or epoch. */
  readonly term: number;
  /** The member believed to lead, or `null`. */
  readonly leader: string | null;
  /** Highest log position known committed. */
  readonly commitIndex: number;
  /** Highest log position applied to the state machine here. */
  readonly appliedIndex: number;
  /** Voting members. */
  readonly voters: readonly string[];
  /** Non-voting members that receive the log (absent when the implementation has none). */
  readonly learners?: readonly string[];
}

/**
 * One single-server membership change: a new member joins as a learner
 * (non-voting, catching up), is then promoted to voter; any member can be
 * removed. Implementations allow one change in flight at a time.
 */
export type ConsensusMembershipChange =
  | { readonly type: 'add-learner'; readonly id: string }
  | { readonly type: 'promote'; readonly id: string }
  | { readonly type: 'remove'; readonly id: string };

/**
 * A replicated log with a state machine on top: Raft and PBFT implement
 * it; state sync and the node's control plane use only this contract.
 *
 * - `propose` resolves once the command is committed and applied here,
 *   with its result; it rejects with `CORE_NOT_LEADER` (with
 *   `details.leader`) on a member that cannot take proposals,
 *   `CORE_PROPOSAL_DROPPED` when the command certainly did not commit, and
 *   `CORE_PROPOSAL_UNKNOWN` when the outcome is unknown (retry with the
 *   same session to stay exactly-once).
 * - `read` is a linearizable read barrier: when it resolves, the local
 *   state machine reflects every command committed before `read` was
 *   called, so reading it is linearizable.
 * - `onCommitted` delivers every applied command in log order.
 */
export interface ConsensusGroup extends Startable {
  /** Replicates `command` and resolves with its result once applied on this member. */
  propose(command: Uint8Array, options?: ProposeOptions): Promise<ProposeResult>;
  /** Linearizable read barrier (see the interface comment). */
  read(options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number }): Promise<void>;
  /** Subscribes to applied commands; returns the unsubscribe function. */
  onCommitted(listener: (command: CommittedCommand) => void): () => void;
  /** This member's view. */
  status(): ConsensusStatus;
  /**
   * Changes the group's membership (optional: groups with a fixed
   * membership omit it). Resolves once the change is committed; rejects
   * with `CORE_NOT_LEADER` like `propose`, and with an implementation code
   * when the change is invalid or another one is still in flight.
   */
  changeMembership?(
    change: ConsensusMembershipChange,
    options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  ): Promise<{ readonly index: number }>;
}
