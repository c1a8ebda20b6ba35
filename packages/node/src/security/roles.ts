/** API roles, least to most privileged. */
export const API_ROLES = ['viewer', 'operator', 'admin'] as const;
/** One of {@link API_ROLES}. */
export type ApiRole = (typeof API_ROLES)[number];

/**
 * What an API caller may do. Each HTTP endpoint requires exactly one
 * (the table in docs/security.md, "API roles").
 */
export const API_PERMISSIONS = {
  /** GET cluster, nodes, VMs, placement preview, mode, events. */
  read: 'viewer',
  /** GET /metrics. */
  metrics: 'viewer',
  /** Create, start, stop, delete VMs; migrate. */
  'vms.write': 'operator',
  /** Override the network mode. */
  'mode.write': 'operator',
  /** Issue and revoke API and join tokens. */
  'tokens.manage': 'admin',
  /** Admit, retire and rotate cluster members. */
  'members.manage': 'admin',
  /** Read the audit log and its head. */
  'audit.read': 'admin',
} as const satisfies Record<string, ApiRole>;

/** A permission name from {@link API_PERMISSIONS}. */
export type ApiPermission = keyof typeof API_PERMISSIONS;

/** True when `role` carries `permission` (roles are cumulative). */
export function roleAllows(role: ApiRole, permission: ApiPermission): boolean {
  return API_ROLES.indexOf(role) >= API_ROLES.indexOf(API_PERMISSIONS[permission]);
}

/** True for a known role name. */
export function isApiRole(value: unknown): value is ApiRole {
  return typeof value === 'string' && (API_ROLES as readonly string[]).includes(value);
}
