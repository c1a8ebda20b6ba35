import { API_PERMISSIONS, type ApiPermission } from '../security/roles.js';

/** One API route as the access layer sees it. */
export interface ApiRouteSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path template, `{name}` for a parameter. */
  readonly path: string;
  /** What the caller's role must carry; `open` answers without credentials. */
  readonly permission: ApiPermission | 'open';
  /** Audit action recorded for this call (every mutating route has one). */
  readonly audit?: string;
}

/**
 * Every API route with the permission it requires and the audit action it
 * records: the single source of docs/security.md's route table, the
 * OpenAPI `security`/`x-novacron-permission` fields and the role tests. A
 * route missing here is refused when the server is built (fail closed):
 * add a row with every new route.
 */
export const API_ROUTE_TABLE: readonly ApiRouteSpec[] = [
  { method: 'GET', path: '/healthz', permission: 'open' },
  { method: 'GET', path: '/readyz', permission: 'read' },
  { method: 'GET', path: '/metrics', permission: 'metrics' },
  { method: 'GET', path: '/openapi.json', permission: 'read' },
  { method: 'GET', path: '/v1/cluster', permission: 'read' },
  { method: 'GET', path: '/v1/nodes', permission: 'read' },
  { method: 'GET', path: '/v1/vms', permission: 'read' },
  { method: 'POST', path: '/v1/vms', permission: 'vms.write', audit: 'vm.create' },
  { method: 'GET', path: '/v1/vms/{id}', permission: 'read' },
  { method: 'DELETE', path: '/v1/vms/{id}', permission: 'vms.write', audit: 'vm.delete' },
  { method: 'POST', path: '/v1/vms/{id}/start', permission: 'vms.write', audit: 'vm.start' },
  { method: 'POST', path: '/v1/vms/{id}/stop', permission: 'vms.write', audit: 'vm.stop' },
  { method: 'POST', path: '/v1/placement/preview', permission: 'read' },
  { method: 'GET', path: '/v1/mode', permission: 'read' },
  { method: 'PUT', path: '/v1/mode', permission: 'mode.write', audit: 'mode.override' },
  { method: 'GET', path: '/v1/events', permission: 'read' },
  { method: 'POST', path: '/v1/tokens', permission: 'tokens.manage', audit: 'token.issue' },
  { method: 'GET', path: '/v1/tokens', permission: 'tokens.manage' },
  { method: 'DELETE', path: '/v1/tokens/{id}', permission: 'tokens.manage', audit: 'token.revoke' },
  { method: 'POST', path: '/v1/join-tokens', permission: 'tokens.manage', audit: 'join-token.issue' },
  // Authenticated by the join token in the body (single-use, expiring); failures count towards the rate limit.
  { method: 'POST', path: '/v1/cluster/join', permission: 'open', audit: 'member.join' },
  { method: 'POST', path: '/v1/cluster/members/{id}/retire', permission: 'members.manage', audit: 'member.retire' },
  { method: 'GET', path: '/v1/audit', permission: 'audit.read' },
  // #13 live migration
  { method: 'POST', path: '/v1/vms/{id}/migrate', permission: 'vms.write', audit: 'vm.migrate' },
  { method: 'GET', path: '/v1/migrations', permission: 'read' },
  { method: 'GET', path: '/v1/migrations/{id}', permission: 'read' },
  { method: 'DELETE', path: '/v1/migrations/{id}', permission: 'vms.write', audit: 'migration.cancel' },
  { method: 'GET', path: '/v1/migrations/{id}/events', permission: 'read' },
  { method: 'GET', path: '/v1/provider/vms', permission: 'read' },
];

/** The table row of `METHOD path`, if any. */
export function routeSpec(method: string, path: string): ApiRouteSpec | undefined {
  return API_ROUTE_TABLE.find((r) => r.method === method && r.path === path);
}

/** The least role that may call a route (`none` for open routes). */
export function roleForRoute(spec: ApiRouteSpec): string {
  return spec.permission === 'open' ? 'none' : API_PERMISSIONS[spec.permission];
}
