import { z } from 'zod';
import { NodeErrorCode } from '../errors.js';
import { API_ROUTE_TABLE, roleForRoute } from './route-permissions.js';
import { migrationPaths, migrationSchemas } from './migration-openapi.js';
import { modeOverrideSchema, vmCreateSchema } from './vm-request.js';

const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { $ref: `#/components/responses/Error${c}` }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed input (`NODE_API_BAD_REQUEST`, `ITP_*` request errors)',
  401: 'Missing or invalid credentials (`NODE_UNAUTHENTICATED`; join tokens: `NODE_JOIN_TOKEN_INVALID`, `NODE_JOIN_TOKEN_EXPIRED`)',
  403: "The caller's role lacks the route's permission (`NODE_FORBIDDEN`)",
  429: 'Too many failed authentications from this address (`NODE_AUTH_RATE_LIMITED`, `Retry-After` header)',
  404: 'No such VM or route (`NODE_VM_NOT_FOUND`, `NODE_API_NOT_FOUND`)',
  409: 'Conflicts with the cluster state (`NODE_VM_EXISTS`, `NODE_UNSCHEDULABLE` with an explanation)',
  413: 'Body too large (`NODE_API_PAYLOAD_TOO_LARGE`)',
  503: 'No quorum: the control log cannot commit from here (`NODE_NO_QUORUM`)',
};

/**
 * The API's OpenAPI 3.1 document. The node serves it at `/openapi.json`;
 * docs/api/openapi.json is generated from it and a test keeps them equal.
 */
export function openApiDocument(): Record<string, unknown> {
  const doc = baseDocument();
  // Security per operation from the route table: the one place permissions are declared.
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  for (const spec of API_ROUTE_TABLE) {
    const op = paths[spec.path]?.[spec.method.toLowerCase()];
    if (op === undefined) continue;
    const open = spec.permission === 'open';
    op.security = open ? [] : [{ bearer: [] }];
    op['x-novacron-permission'] = spec.permission;
    op['x-novacron-role'] = roleForRoute(spec);
    if (spec.audit !== undefined) op['x-novacron-audit'] = spec.audit;
    if (!open) op.responses = { ...errors(401, 403, 429), ...(op.responses as Record<string, unknown>) };
  }
  return doc;
}

function baseDocument(): Record<string, unknown> {
  const vmId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'NovaCron node API',
      version: '1',
      description:
        'REST/JSON API of a NovaCron node. Any node answers reads; writes reaching a follower are forwarded to the Raft leader. Errors are `{ "error": { "code", "message", "details" } }` with a stable `code`.',
    },
    servers: [{ url: 'http://127.0.0.1:7480' }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An API token `ncat_<id>.<secret>` with a role (viewer, operator, admin). Every route but /healthz and /v1/cluster/join requires one; `x-novacron-permission` and `x-novacron-role` on each operation say what it needs (docs/security.md).',
        },
      },
      schemas: {
        VmCreate: z.toJSONSchema(vmCreateSchema, { io: 'input' }),
        ModeOverride: z.toJSONSchema(modeOverrideSchema, { io: 'input' }),
        ...migrationSchemas(),
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', description: 'Stable error code', examples: Object.values(NodeErrorCode) },
                message: { type: 'string' },
                details: { type: 'object' },
              },
            },
          },
        },
        Vm: {
          type: 'object',
          required: ['request', 'hostId', 'epoch', 'desired', 'history'],
          properties: {
            request: ref('VmCreate'),
            hostId: { type: ['string', 'null'], description: 'Owning host; null while no host fits' },
            epoch: { type: 'integer', description: 'Ownership epoch, +1 per move' },
            desired: { type: 'string', enum: ['running', 'stopped'] },
            observed: { type: 'string', description: "Provider state (only on the owner's node)" },
            history: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  hostId: { type: ['string', 'null'] },
                  epoch: { type: 'integer' },
                  reason: { type: 'string', enum: ['created', 'failover', 'retry', 'migrated'] },
                },
              },
            },
          },
        },
        PlacementDecision: {
          type: 'object',
          required: ['vmId', 'feasible', 'explanation'],
          properties: {
            vmId: { type: 'string' },
            hostId: { type: 'string', description: 'Chosen host; absent when none is feasible' },
            feasible: { type: 'integer' },
            explanation: {
              type: 'object',
              description: 'Profile, hosts considered, why each filtered host was rejected, and every score by plugin',
              properties: {
                profile: { type: 'string' },
                considered: { type: 'integer' },
                filteredSummary: { type: 'object', additionalProperties: { type: 'integer' } },
                filtered: { type: 'array', items: { type: 'object' } },
                scores: { type: 'array', items: { type: 'object' } },
              },
            },
          },
        },
        ModeStatus: {
          type: 'object',
          required: ['mode', 'settings'],
          properties: {
            mode: { type: 'string', enum: ['datacenter', 'internet', 'hybrid'] },
            measured: { type: 'string', enum: ['datacenter', 'internet', 'hybrid'] },
            override: { type: 'string', enum: ['datacenter', 'internet', 'hybrid'] },
            rttMs: { type: 'number' },
            settings: { type: 'object' },
            lastReconfigureMs: { type: 'number' },
          },
        },
      },
      responses: Object.fromEntries(Object.entries(ERROR_TEXT).map(([c, d]) => [`Error${c}`, json(ref('Error'), d)])),
    },
    security: [{ bearer: [] }],
    paths: {
      '/healthz': {
        get: { summary: 'Liveness', security: [], responses: { 200: json({ type: 'object' }, 'The process serves') } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: every component started and a leader known',
          security: [],
          responses: {
            200: json({ type: 'object' }, 'Ready'),
            503: json({ type: 'object' }, 'Not ready, with component health'),
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (text exposition format)',
          security: [],
          responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } },
      },
      '/v1/cluster': {
        get: {
          summary: 'Cluster summary: leader, term, mode, per-host use',
          responses: { 200: json({ type: 'object' }, 'Summary'), ...errors(401, 503) },
        },
      },
      '/v1/nodes': {
        get: {
          summary: 'Members with liveness, RTT and host',
          responses: { 200: json({ type: 'array' }, 'Members'), ...errors(401, 503) },
        },
      },
      '/v1/vms': {
        get: {
          summary: 'List VMs',
          responses: { 200: json({ type: 'array', items: ref('Vm') }, 'VMs'), ...errors(401, 503) },
        },
        post: {
          summary: 'Create a VM: place it (itp), claim its capacity (ledger) and record it',
          requestBody: { required: true, content: { 'application/json': { schema: ref('VmCreate') } } },
          responses: {
            201: json(
              {
                type: 'object',
                properties: {
                  vm: ref('Vm'),
                  decision: ref('PlacementDecision'),
                  escrow: {
                    type: 'boolean',
                    description:
                      'True when the control log was unreachable and the node placed the VM on its own escrow (no decision).',
                  },
                },
              },
              'Placed',
            ),
            ...errors(400, 401, 409, 413, 503),
          },
        },
      },
      '/v1/vms/{id}': {
        get: {
          summary: 'Get a VM',
          parameters: [vmId],
          responses: { 200: json(ref('Vm'), 'The VM'), ...errors(401, 404, 503) },
        },
        delete: {
          summary: 'Delete a VM and release its capacity',
          parameters: [vmId],
          responses: { 204: { description: 'Deleted' }, ...errors(401, 404, 503) },
        },
      },
      '/v1/vms/{id}/start': {
        post: {
          summary: 'Set the desired state to running',
          parameters: [vmId],
          responses: { 200: json(ref('Vm'), 'Updated'), ...errors(401, 404, 503) },
        },
      },
      '/v1/vms/{id}/stop': {
        post: {
          summary: 'Set the desired state to stopped',
          parameters: [vmId],
          responses: { 200: json(ref('Vm'), 'Updated'), ...errors(401, 404, 503) },
        },
      },
      '/v1/placement/preview': {
        post: {
          summary: 'Where would this VM go now, and why (changes nothing)',
          requestBody: { required: true, content: { 'application/json': { schema: ref('VmCreate') } } },
          responses: {
            200: json(ref('PlacementDecision'), 'Decision with explanation'),
            ...errors(400, 401, 413, 503),
          },
        },
      },
      '/v1/mode': {
        get: {
          summary: 'Effective link mode, measurement and settings in force',
          responses: { 200: json(ref('ModeStatus'), 'Mode'), ...errors(401) },
        },
        put: {
          summary: 'Set or clear (null) the manual mode override on this node',
          requestBody: { required: true, content: { 'application/json': { schema: ref('ModeOverride') } } },
          responses: { 200: json(ref('ModeStatus'), 'Mode after the change'), ...errors(400, 401, 413) },
        },
      },
      '/v1/events': {
        get: {
          summary:
            'Cluster events as server-sent events (vm.updated, vm.deleted, host.updated, member.changed, mode.changed, leader.changed, migration.progress)',
          parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'integer' } }],
          responses: {
            200: { description: 'Event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            ...errors(401),
          },
        },
      },
      '/v1/tokens': {
        get: {
          summary: 'API tokens: ids, roles, names, expiry, revocation (never secrets or hashes)',
          responses: { 200: json({ type: 'array' }, 'Tokens') },
        },
        post: {
          summary: 'Issue a cluster-wide API token; the response holds the only copy of its secret',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['role', 'name'],
                  properties: {
                    role: { type: 'string', enum: ['viewer', 'operator', 'admin'] },
                    name: { type: 'string' },
                    ttlMs: { type: 'integer', minimum: 60000 },
                  },
                },
              },
            },
          },
          responses: { 201: json({ type: 'object' }, '`{ token, record }`'), ...errors(400, 503) },
        },
      },
      '/v1/tokens/{id}': {
        delete: {
          summary: 'Revoke a cluster-wide API token',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 204: { description: 'Revoked' }, ...errors(404, 503) },
        },
      },
      '/v1/join-tokens': {
        post: {
          summary: 'Issue a single-use, expiring join token (on a node holding the cluster CA key)',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'object', properties: { ttlMs: { type: 'integer', minimum: 60000 } } },
              },
            },
          },
          responses: { 201: json({ type: 'object' }, '`{ token, id, expiresAt }`'), ...errors(400) },
        },
      },
      '/v1/cluster/join': {
        post: {
          summary: 'Exchange a join token for a certificate issued by the cluster CA (kubeadm-style admission)',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['token', 'publicKey'],
                  properties: {
                    token: { type: 'string', description: 'ncjt_<id>.<secret>' },
                    publicKey: { type: 'string', description: 'Ed25519 public key, 64 hex digits' },
                    name: { type: 'string', description: 'Node name (default: the id derived from the key)' },
                  },
                },
              },
            },
          },
          responses: {
            201: json({ type: 'object' }, '`{ certPem, caCertPem, nodeId }`'),
            ...errors(400, 401, 409, 429),
          },
        },
      },
      '/v1/cluster/members/{id}/retire': {
        post: {
          summary: 'Retire a member (key rotation, removal): peers refuse its certificate from then on',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { 200: json({ type: 'object' }, '`{ retired }`'), ...errors(400, 503) },
        },
      },
      '/v1/audit': {
        get: {
          summary: "This node's audit log: signed head and verification result",
          responses: { 200: json({ type: 'object' }, '`{ head, ok, records, problem? }`') },
        },
      },
      ...migrationPaths(),
    },
  };
}
