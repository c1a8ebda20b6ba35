/**
 * Error codes of the node's security layer (admission, API access, audit).
 * Messages and details never carry a secret: a token is named by its public
 * id, never by its secret part.
 */
export const SecurityErrorCode = {
  /** A join token is malformed or unknown to this cluster. */
  JOIN_TOKEN_INVALID: 'NODE_JOIN_TOKEN_INVALID',
  /** A join token was valid once but its lifetime has passed. */
  JOIN_TOKEN_EXPIRED: 'NODE_JOIN_TOKEN_EXPIRED',
  /** A single-use join token was already used. */
  JOIN_TOKEN_USED: 'NODE_JOIN_TOKEN_USED',
  /** An API request carried no credentials, or credentials this node does not accept. */
  UNAUTHENTICATED: 'NODE_UNAUTHENTICATED',
  /** The caller is authenticated but its role may not do this. */
  FORBIDDEN: 'NODE_FORBIDDEN',
  /** Too many failed authentications from this source: wait `retryAfterMs`. */
  AUTH_RATE_LIMITED: 'NODE_AUTH_RATE_LIMITED',
  /** The audit log or its head failed verification. */
  AUDIT_TAMPERED: 'NODE_AUDIT_TAMPERED',
  /** A secret could not be read from its file or environment variable, or was given where secrets are refused. */
  SECRET_UNAVAILABLE: 'NODE_SECRET_UNAVAILABLE',
} as const;

/** Union of every code in {@link SecurityErrorCode}. */
export type SecurityErrorCode = (typeof SecurityErrorCode)[keyof typeof SecurityErrorCode];
