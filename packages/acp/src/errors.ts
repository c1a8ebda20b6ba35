/**
 * Stable error codes raised by `@novacron/acp` (thrown as core's
 * `NovacronError`). Consensus outcomes shared with other implementations
 * (`CORE_NOT_LEADER`, `CORE_PROPOSAL_UNKNOWN`, `CORE_PROPOSAL_DROPPED`) are
 * core codes, so callers of any `ConsensusGroup` switch on the same ones.
 */
export const AcpErrorCode = {
  /** A Raft message from a peer violates the protocol (an append that conflicts with committed entries). */
  RAFT_PROTOCOL_VIOLATION: 'ACP_RAFT_PROTOCOL_VIOLATION',
  /** A Raft group's configuration is invalid (unknown self id, empty voter set, bad timing). */
  RAFT_CONFIG_INVALID: 'ACP_RAFT_CONFIG_INVALID',
  /** A membership change makes no sense (adding a member twice, promoting a non-learner, removing the last voter). */
  RAFT_MEMBERSHIP_INVALID: 'ACP_RAFT_MEMBERSHIP_INVALID',
  /**
   * A membership change cannot start yet: another is still uncommitted, the
   * new leader has not committed an entry of its term, or a learner to be
   * promoted has not caught up. Retry later.
   */
  RAFT_MEMBERSHIP_BUSY: 'ACP_RAFT_MEMBERSHIP_BUSY',
  /** A key-value command could not be decoded. */
  KV_COMMAND_INVALID: 'ACP_KV_COMMAND_INVALID',
} as const;

/** Union of every code in {@link AcpErrorCode}. */
export type AcpErrorCode = (typeof AcpErrorCode)[keyof typeof AcpErrorCode];

// #7 pbft
/**
 * Stable error codes raised by `@novacron/acp`'s PBFT and consensus mode
 * selector (thrown as core's `NovacronError`).
 */
export const PbftErrorCode = {
  /** A PBFT group's configuration is invalid (fewer than 4 replicas, duplicate ids, ids not derived from keys, bad timing). */
  CONFIG_INVALID: 'ACP_PBFT_CONFIG_INVALID',
  /** A PBFT message's MAC or signature does not verify, or it names an unknown or wrong sender. */
  AUTH_INVALID: 'ACP_PBFT_AUTH_INVALID',
  /** A PBFT message is authentic but violates the protocol (a proof with too few or conflicting members, a bad digest). */
  PROTOCOL_VIOLATION: 'ACP_PBFT_PROTOCOL_VIOLATION',
  /** A state snapshot received by state transfer does not match its stable checkpoint's digest. */
  STATE_MISMATCH: 'ACP_PBFT_STATE_MISMATCH',
  /** The consensus mode selector was asked for something its trust configuration does not allow. */
  SELECTOR_INVALID: 'ACP_SELECTOR_INVALID',
} as const;

/** Union of every code in {@link PbftErrorCode}. */
export type PbftErrorCode = (typeof PbftErrorCode)[keyof typeof PbftErrorCode];
// #7 gossip
/** Stable error codes raised by `@novacron/acp`'s gossip membership (thrown as core's `NovacronError`). */
export const GossipErrorCode = {
  /** A gossip configuration, seed, address or metadata is invalid (`details.field` names it). */
  GOSSIP_CONFIG_INVALID: 'ACP_GOSSIP_CONFIG_INVALID',
  /** No seed answered a join request in time. */
  GOSSIP_JOIN_FAILED: 'ACP_GOSSIP_JOIN_FAILED',
  /** A user event has a bad name or a payload too large for one datagram. */
  GOSSIP_EVENT_INVALID: 'ACP_GOSSIP_EVENT_INVALID',
  /** An operation needs a started (and not yet stopped) gossip member. */
  GOSSIP_NOT_STARTED: 'ACP_GOSSIP_NOT_STARTED',
} as const;

/** Union of every code in {@link GossipErrorCode}. */
export type GossipErrorCode = (typeof GossipErrorCode)[keyof typeof GossipErrorCode];
