/**
 * Stable error codes raised by `@novacron/core`. Codes are namespaced by
 * package (`CORE_`, `AMST_`, `HDE_`, ...) and never change meaning once
 * published: callers may switch on them. Each package exports its own table.
 */
export const CoreErrorCode = {
  /** A public entry point received an argument that fails validation. */
  INVALID_ARGUMENT: 'CORE_INVALID_ARGUMENT',
  /** A component was used in the wrong lifecycle state (e.g. before `start`). */
  INVALID_STATE: 'CORE_INVALID_STATE',
  /** An operation was cancelled through its `AbortSignal`. */
  ABORTED: 'CORE_ABORTED',
  /** An operation did not finish before its deadline. */
  TIMEOUT: 'CORE_TIMEOUT',
  /** A byte stream ended in the middle of a frame. */
  FRAME_TRUNCATED: 'CORE_FRAME_TRUNCATED',
  /** A frame header announced more bytes than the receiver's limit. */
  FRAME_OVERSIZED: 'CORE_FRAME_OVERSIZED',
  /** A frame's magic, version or checksum is wrong: the bytes are not a frame. */
  FRAME_CORRUPT: 'CORE_FRAME_CORRUPT',
  /** Bytes that should hold a MessagePack message could not be decoded. */
  MESSAGE_MALFORMED: 'CORE_MESSAGE_MALFORMED',
  /** A message's type is not known to the receiving codec. */
  MESSAGE_UNKNOWN_TYPE: 'CORE_MESSAGE_UNKNOWN_TYPE',
  /** A message's version is not supported by the receiving codec. */
  MESSAGE_UNSUPPORTED_VERSION: 'CORE_MESSAGE_UNSUPPORTED_VERSION',
  /** A message decoded but its body does not match the message schema. */
  MESSAGE_INVALID: 'CORE_MESSAGE_INVALID',
  /** A value cannot be encoded canonically (undefined, non-string map keys, ...). */
  CANONICAL_UNSUPPORTED: 'CORE_CANONICAL_UNSUPPORTED',
  /** Bytes are valid MessagePack but not the canonical encoding of their value. */
  CANONICAL_MISMATCH: 'CORE_CANONICAL_MISMATCH',
  /** A key file is unreadable, truncated or fails its integrity check. */
  IDENTITY_KEY_CORRUPT: 'CORE_IDENTITY_KEY_CORRUPT',
  /** A key file is well-formed but belongs to another format, algorithm or node. */
  IDENTITY_KEY_FOREIGN: 'CORE_IDENTITY_KEY_FOREIGN',
  /** A key file is readable by users other than its owner. */
  IDENTITY_KEY_PERMISSIONS: 'CORE_IDENTITY_KEY_PERMISSIONS',
  /** A signature does not verify against the claimed key. */
  SIGNATURE_INVALID: 'CORE_SIGNATURE_INVALID',
  /** A link sample has a missing, negative or non-finite measurement. */
  LINK_SAMPLE_INVALID: 'CORE_LINK_SAMPLE_INVALID',
  /** A file or directory does not exist. */
  FILE_NOT_FOUND: 'CORE_FILE_NOT_FOUND',
  /** A file already exists where the caller required a new one. */
  FILE_EXISTS: 'CORE_FILE_EXISTS',
  /** Any other file-system failure; `cause` holds the platform error. */
  FILE_IO: 'CORE_FILE_IO',
  /** A stream or connection was closed while an operation needed it. */
  STREAM_CLOSED: 'CORE_STREAM_CLOSED',
  /** A dial could not reach its peer. */
  DIAL_FAILED: 'CORE_DIAL_FAILED',
  // #9 pba
  /** A predictor state given to `restore` is malformed or belongs to another kind. */
  PREDICTOR_STATE_INVALID: 'CORE_PREDICTOR_STATE_INVALID',
  /** A rate allocation request is malformed (duplicate flow ids, lower bound above mean, ...). */
  ALLOCATION_INVALID: 'CORE_ALLOCATION_INVALID',
  // #10 itp: capacity ledger
  /** A ledger reservation does not fit in the pool it draws on (shared or a site's escrow). */
  LEDGER_INSUFFICIENT: 'CORE_LEDGER_INSUFFICIENT',
  /** A host's generation moved on since the caller read it: another placer got there first. */
  LEDGER_CONFLICT: 'CORE_LEDGER_CONFLICT',
  /** A ledger operation named a host the ledger does not know. */
  LEDGER_UNKNOWN_HOST: 'CORE_LEDGER_UNKNOWN_HOST',
  /** A reservation id is unknown, already committed, rolled back or expired. */
  LEDGER_UNKNOWN_RESERVATION: 'CORE_LEDGER_UNKNOWN_RESERVATION',
  // #11 providers: the VmProvider error taxonomy (see ProviderErrorCode).
  /** A provider has no VM, host or snapshot by the given id. */
  PROVIDER_NOT_FOUND: 'CORE_PROVIDER_NOT_FOUND',
  /** The operation conflicts with the VM's state or a concurrent operation, or an idempotency key was reused for a different request. */
  PROVIDER_CONFLICT: 'CORE_PROVIDER_CONFLICT',
  /** The backend cannot do this operation (refused before anything started). */
  PROVIDER_UNSUPPORTED: 'CORE_PROVIDER_UNSUPPORTED',
  /** A temporary backend failure (process crashed, control socket lost); the same request may be retried. */
  PROVIDER_TRANSIENT: 'CORE_PROVIDER_TRANSIENT',
  /** The host lacks the capacity (or a backend limit is reached) for the request. */
  PROVIDER_QUOTA: 'CORE_PROVIDER_QUOTA',
  /** The request is malformed or names a configuration the backend rejects. */
  PROVIDER_INVALID: 'CORE_PROVIDER_INVALID',
  // #6 acp raft: DurableLog, ConsensusGroup
  /** A durable log's stored records fail their checksum or contradict each other (not a torn tail). */
  LOG_CORRUPT: 'CORE_LOG_CORRUPT',
  /** A consensus operation reached a node that is not the leader; `details.leader` names the one it knows of. */
  NOT_LEADER: 'CORE_NOT_LEADER',
  /** A proposal's outcome is unknown: leadership was lost before it was seen committed; it may still commit. */
  PROPOSAL_UNKNOWN: 'CORE_PROPOSAL_UNKNOWN',
  /** A proposal will never commit (another entry took its place in the log); retrying is safe. */
  PROPOSAL_DROPPED: 'CORE_PROPOSAL_DROPPED',
} as const;

/** Union of every code in {@link CoreErrorCode}. */
export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];
