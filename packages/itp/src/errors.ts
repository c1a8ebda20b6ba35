/**
 * Stable error codes raised by `@novacron/itp`, thrown as core's
 * `NovacronError`. Codes never change meaning once published.
 */
export const ItpErrorCode = {
  /** A placement request or host is malformed (negative demand, bad weight, empty selector, ...). */
  INVALID_REQUEST: 'ITP_INVALID_REQUEST',
  /** A term or constraint names a topology scope, region or resource no host in the inventory has. */
  UNKNOWN_TOPOLOGY_KEY: 'ITP_UNKNOWN_TOPOLOGY_KEY',
  /** A request's own rules contradict each other, so no inventory could ever satisfy it. */
  IMPOSSIBLE_CONSTRAINTS: 'ITP_IMPOSSIBLE_CONSTRAINTS',
  /** A VM id is already placed, or a host id appears twice. */
  DUPLICATE_ID: 'ITP_DUPLICATE_ID',
  /** A VM id is not placed. */
  UNKNOWN_VM: 'ITP_UNKNOWN_VM',
  /** A host id is not in the inventory. */
  UNKNOWN_HOST: 'ITP_UNKNOWN_HOST',
  /** A gang could not be placed as a whole; nothing of it was kept. */
  GANG_UNSCHEDULABLE: 'ITP_GANG_UNSCHEDULABLE',
  /** An escrow journal record is not valid JSON of a known kind (a torn tail is truncated instead). */
  ESCROW_JOURNAL_CORRUPT: 'ITP_ESCROW_JOURNAL_CORRUPT',
  /** A policy or pipeline configuration is invalid (unknown profile, no plugins, bad weights). */
  INVALID_CONFIG: 'ITP_INVALID_CONFIG',
} as const;

/** Union of every code in {@link ItpErrorCode}. */
export type ItpErrorCode = (typeof ItpErrorCode)[keyof typeof ItpErrorCode];
