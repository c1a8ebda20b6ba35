/**
 * Stable error codes raised by `@novacron/pba`, thrown as core's
 * `NovacronError`. Codes never change meaning once published.
 */
export const PbaErrorCode = {
  /** The model service did not answer within the bridge's timeout. */
  BRIDGE_TIMEOUT: 'PBA_BRIDGE_TIMEOUT',
  /** The model service answered with a non-2xx status or could not be reached. */
  BRIDGE_UNAVAILABLE: 'PBA_BRIDGE_UNAVAILABLE',
  /** The model service answered, but not with a response the protocol allows. */
  BRIDGE_MALFORMED: 'PBA_BRIDGE_MALFORMED',
  /** The circuit breaker is open: the service failed recently and is not being called. */
  BRIDGE_CIRCUIT_OPEN: 'PBA_BRIDGE_CIRCUIT_OPEN',
  /** A trace file could not be read or parsed. */
  TRACE_INVALID: 'PBA_TRACE_INVALID',
} as const;

/** Union of every code in {@link PbaErrorCode}. */
export type PbaErrorCode = (typeof PbaErrorCode)[keyof typeof PbaErrorCode];
