import { NovacronError } from '@novacron/core';

/**
 * Stable error codes raised by `@novacron/node`. Switch on `code`, never on
 * the message. The HTTP API returns them as `{ error: { code, message, details } }`.
 */
export const NodeErrorCode = {
  /** A component names a dependency no component provides; `details.component`, `details.missing`. */
  COMPONENT_MISSING_DEPENDENCY: 'NODE_COMPONENT_MISSING_DEPENDENCY',
  /** Components depend on each other in a cycle; `details.cycle` lists it. */
  COMPONENT_CYCLE: 'NODE_COMPONENT_CYCLE',
  /** Two components share a name; `details.component`. */
  COMPONENT_DUPLICATE: 'NODE_COMPONENT_DUPLICATE',
  /** A component failed to start; `details.component`, `cause` holds its error. Started ones were stopped. */
  COMPONENT_START_FAILED: 'NODE_COMPONENT_START_FAILED',
  /** The configuration is invalid; `details.issues` lists each path, value and expectation. */
  CONFIG_INVALID: 'NODE_CONFIG_INVALID',
  /** A configuration file could not be read or parsed; `details.file`. */
  CONFIG_FILE_UNREADABLE: 'NODE_CONFIG_FILE_UNREADABLE',
  /** An API request body, parameter or query is malformed; `details.issues`. */
  API_BAD_REQUEST: 'NODE_API_BAD_REQUEST',
  /** No such route or resource; `details.path` or `details.vmId`. */
  API_NOT_FOUND: 'NODE_API_NOT_FOUND',
  /** The request is not allowed by the method table (e.g. POST on a read-only route). */
  API_METHOD_NOT_ALLOWED: 'NODE_API_METHOD_NOT_ALLOWED',
  /** The authentication hook refused the request. */
  API_UNAUTHORIZED: 'NODE_API_UNAUTHORIZED',
  /** The request body exceeds the configured limit. */
  API_PAYLOAD_TOO_LARGE: 'NODE_API_PAYLOAD_TOO_LARGE',
  /** A VM with this id already exists. */
  VM_EXISTS: 'NODE_VM_EXISTS',
  /** No VM with this id. */
  VM_NOT_FOUND: 'NODE_VM_NOT_FOUND',
  /** No host can take the VM; `details.explanation` says why each host was filtered out. */
  UNSCHEDULABLE: 'NODE_UNSCHEDULABLE',
  /** The control log has no reachable leader (this node is in a minority or the cluster is electing). */
  NO_QUORUM: 'NODE_NO_QUORUM',
  /** The node is not started (or is stopping). */
  NOT_RUNNING: 'NODE_NOT_RUNNING',
  /** An unexpected failure inside the node (a bug or an untyped platform error); `cause` holds it. */
  INTERNAL: 'NODE_INTERNAL',
  /** #13: no migration with this id; `details.migrationId`. */
  MIGRATION_NOT_FOUND: 'NODE_MIGRATION_NOT_FOUND',
  /** #13: the VM cannot migrate now (not owned here, not running, already migrating, same host); `details.reason`. */
  MIGRATION_CONFLICT: 'NODE_MIGRATION_CONFLICT',
  /** #13: a migration stream record is malformed, too large, out of order or does not match its checksum; `details.reason`. */
  MIGRATION_FRAME_CORRUPT: 'NODE_MIGRATION_FRAME_CORRUPT',
  /** #13: the migration was cancelled; the VM keeps running at the source. */
  MIGRATION_CANCELLED: 'NODE_MIGRATION_CANCELLED',
  /** #13: the migration failed and was rolled back (the VM runs at the source); `cause` holds why. */
  MIGRATION_FAILED: 'NODE_MIGRATION_FAILED',
  /** #13: the destination refused a stream the control log does not back (no such migration to this host). */
  MIGRATION_FENCED: 'NODE_MIGRATION_FENCED',
  /** The HTTP client got a response it cannot interpret (not JSON, wrong shape). */
  CLIENT_BAD_RESPONSE: 'NODE_CLIENT_BAD_RESPONSE',
  /** The HTTP client could not reach the node. */
  CLIENT_UNREACHABLE: 'NODE_CLIENT_UNREACHABLE',
  /** The cluster key is not 32 bytes as 64 hex digits (or base64); `details.source` names where it came from, never the value. */
  CLUSTER_KEY_INVALID: 'NODE_CLUSTER_KEY_INVALID',
  /** The control log's trust settings cannot be met (an untrusted group without pinned replica keys, a node name that is not the identity's id); `details.group`. */
  TRUST_CONFIG_INVALID: 'NODE_TRUST_CONFIG_INVALID',
} as const;

/** Union of every code in {@link NodeErrorCode}. */
export type NodeErrorCode = (typeof NodeErrorCode)[keyof typeof NodeErrorCode];

/** Builds a node error. */
export function nodeError(
  code: NodeErrorCode,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
  cause?: unknown,
): NovacronError<NodeErrorCode> {
  return new NovacronError(code, message, { details, ...(cause === undefined ? {} : { cause }) });
}
