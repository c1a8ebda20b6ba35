import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fromHex,
  isNovacronError,
  type LinkMode,
  type NovacronError,
  nodeFileIO,
  type PlacementRequest,
} from '@novacron/core';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { z } from 'zod';
import type { NodeComponent } from '../components/component.js';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { NovacronNode } from '../node.js';
import type { ApiPrincipal, ApiTokenRecord } from '../security/api-access.js';
import { verifyAuditLog } from '../security/audit-log.js';
import { isApiRole, type ApiPermission } from '../security/roles.js';
import { SECURITY_KEYS } from '../security/security-components.js';
import { SecurityErrorCode } from '../security/security-errors.js';
import { mintToken } from '../security/token-format.js';
import { openApiDocument } from './openapi.js';
import { API_ROUTE_TABLE, type ApiRouteSpec, routeSpec } from './route-permissions.js';
import { migrationRoutes } from './migration-routes.js';
import { modeOverrideSchema, vmCreateSchema } from './vm-request.js';

/**
 * Authenticates a request and authorises it for `permission`, returning
 * who is calling (recorded in the audit log). Throw a typed error to
 * refuse: `NODE_UNAUTHENTICATED` (401), `NODE_FORBIDDEN` (403),
 * `NODE_AUTH_RATE_LIMITED` (429). The default checks bearer tokens against
 * the node's {@link ApiAccess} and the role table (docs/security.md).
 */
export type AuthHook = (
  req: IncomingMessage,
  permission: ApiPermission,
  route: string,
) => ApiPrincipal | Promise<ApiPrincipal>;

/** Options of {@link apiServer}. */
export interface ApiServerOptions {
  /** Authentication and authorisation (default: {@link bearerAuth}). */
  readonly auth?: AuthHook;
}

/** The caller of open routes, and of every route on a node with `security.insecure`. */
const ANONYMOUS: ApiPrincipal = { id: 'anonymous', role: 'admin', name: 'anonymous' };

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: string[];
  /** Who is calling (anonymous on open routes). */
  readonly principal: ApiPrincipal;
  body(): Promise<unknown>;
}
type Handler = (ctx: Ctx) => Promise<{ status: number; body?: unknown } | undefined>;
interface Route {
  readonly method: string;
  readonly path: string;
  readonly re: RegExp;
  readonly handler: Handler;
  /** Changes cluster state: only the leader runs it; followers forward. */
  readonly write?: boolean;
  /** Runs instead when the write cannot reach a leader with a quorum (`NODE_NO_QUORUM`): escrow placement. */
  readonly offline?: Handler;
  /** Its permission and audit action (from {@link API_ROUTE_TABLE}). */
  readonly spec: ApiRouteSpec;
}

const STATUS: Record<string, number> = {
  [NodeErrorCode.API_BAD_REQUEST]: 400,
  [NodeErrorCode.API_NOT_FOUND]: 404,
  [NodeErrorCode.API_METHOD_NOT_ALLOWED]: 405,
  [NodeErrorCode.API_UNAUTHORIZED]: 401,
  [SecurityErrorCode.UNAUTHENTICATED]: 401,
  [SecurityErrorCode.FORBIDDEN]: 403,
  [SecurityErrorCode.AUTH_RATE_LIMITED]: 429,
  [SecurityErrorCode.JOIN_TOKEN_INVALID]: 401,
  [SecurityErrorCode.JOIN_TOKEN_EXPIRED]: 401,
  [SecurityErrorCode.JOIN_TOKEN_USED]: 409,
  [NodeErrorCode.API_PAYLOAD_TOO_LARGE]: 413,
  [NodeErrorCode.VM_NOT_FOUND]: 404,
  [NodeErrorCode.VM_EXISTS]: 409,
  [NodeErrorCode.UNSCHEDULABLE]: 409,
  [NodeErrorCode.NO_QUORUM]: 503,
  [NodeErrorCode.NOT_RUNNING]: 503,
};

/** HTTP status for an error code (itp request errors and argument errors are 400s). */
export function statusOf(code: string): number {
  if (STATUS[code] !== undefined) return STATUS[code]!;
  if (code.startsWith('ITP_') || code === 'CORE_INVALID_ARGUMENT' || code === 'CORE_PROVIDER_INVALID') return 400;
  if (code === 'CORE_PROVIDER_NOT_FOUND') return 404;
  if (code.startsWith('CORE_LEDGER_')) return 409;
  return 500;
}

function zodIssues(err: z.ZodError) {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message, code: i.code }));
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success)
    throw nodeError(
      NodeErrorCode.API_BAD_REQUEST,
      `invalid ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
      {
        issues: zodIssues(r.error),
      },
    );
  return r.data;
}

/**
 * The node's REST/JSON API on `node:http` (documented in docs/api/openapi.json,
 * served at `/openapi.json`). Errors are `{ error: { code, message, details } }`
 * with the status from {@link statusOf}. Writes reaching a follower are
 * forwarded to the leader's API (one hop, marked with
 * `x-novacron-forwarded`); with no reachable leader they answer 503
 * `NODE_NO_QUORUM`. Every request runs in an OpenTelemetry span.
 */
/** A request handler serving the node API, for mounting in an existing HTTP server. */
export interface ApiHandler {
  /** Serves one request (paths as in docs/api/openapi.json; strip any mount prefix first). */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends open event streams (call before closing the server). */
  closeStreams(): void;
}

/**
 * The node API as a plain `(req, res)` handler: embed it in your own
 * `node:http` server (see examples/node-embed-http), or let
 * {@link apiServer} run it on `api.listen`. Errors are
 * `{ error: { code, message, details } }` with the status from
 * {@link statusOf}. Writes reaching a follower are forwarded to the
 * leader's API (one hop, marked with `x-novacron-forwarded`); with no
 * reachable leader they answer 503 `NODE_NO_QUORUM`. Every request runs in
 * an OpenTelemetry span and is counted in `novacron_api_requests_total`.
 */
export function apiHandler(node: NovacronNode, options: ApiServerOptions = {}): ApiHandler {
  const sse = new Set<ServerResponse>();
  const tracer = trace.getTracer('@novacron/node');
  const requests = node.metrics.counter({
    name: 'novacron_api_requests_total',
    help: 'HTTP API requests by route and status',
    labelNames: ['route', 'status'],
  });
  const latency = node.metrics.histogram({
    name: 'novacron_api_request_duration_seconds',
    help: 'HTTP API request latency in seconds',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  });
  const auth: AuthHook = options.auth ?? bearerAuth(node);
  const routes = buildRoutes(node, sse);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'http://local');
    let route: Route | undefined;
    let params: string[] = [];
    let pathMatched = false;
    for (const r of routes) {
      const m = r.re.exec(url.pathname);
      if (!m) continue;
      pathMatched = true;
      if (r.method === req.method) {
        route = r;
        params = m.slice(1).map(decodeURIComponent);
        break;
      }
    }
    const name = route ? `${route.method} ${route.path}` : 'unmatched';
    await tracer.startActiveSpan(name, async (span) => {
      span.setAttribute('http.request.method', req.method ?? '');
      span.setAttribute('url.path', url.pathname);
      let status = 500;
      let principal: ApiPrincipal | undefined;
      let audited: string | undefined;
      let bodyValue: unknown;
      // A mutating call is durable in the audit log before its caller hears the outcome.
      const recordAudit = async (outcome: string) => {
        if (audited === undefined || route === undefined) return;
        const target = params[0] ?? (bodyValue as { id?: unknown } | undefined)?.id;
        await node.security
          .record({
            actor: principal?.id ?? 'unauthenticated',
            action: audited,
            ...(typeof target === 'string' ? { target: target.slice(0, 256) } : {}),
            outcome,
            details: { status, role: principal?.role ?? 'none', source: req.socket.remoteAddress ?? 'unknown' },
          })
          .catch((err: unknown) =>
            node.logger.error('audit append failed', { route: name, error: (err as Error).message }),
          );
      };
      try {
        if (!node.running && route?.path !== '/healthz')
          throw nodeError(NodeErrorCode.NOT_RUNNING, 'the node is not running (starting or stopping)', {});
        if (!route) {
          throw pathMatched
            ? nodeError(NodeErrorCode.API_METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${url.pathname}`, {
                path: url.pathname,
              })
            : nodeError(NodeErrorCode.API_NOT_FOUND, `no route ${url.pathname}`, { path: url.pathname });
        }
        const permission = route.spec.permission;
        principal = permission === 'open' ? ANONYMOUS : await auth(req, permission, name);
        let cached: Promise<unknown> | undefined;
        const ctx: Ctx = {
          req,
          res,
          params,
          principal,
          body: () =>
            (cached ??= readJson(req, node.config.api.maxBodyBytes).then((v) => {
              bodyValue = v;
              return v;
            })),
        };
        let out: Awaited<ReturnType<Handler>>;
        try {
          if (route.write && !node.cluster.isLeader()) {
            const forwarded = await forward(node, req, ctx);
            status = forwarded.status;
            // A leader without a quorum answers 503 too: the offline path applies as well.
            if (!(route.offline && status === 503 && forwarded.text.includes(NodeErrorCode.NO_QUORUM))) {
              res.writeHead(status, { 'content-type': 'application/json' }).end(forwarded.text);
              return;
            }
            throw nodeError(NodeErrorCode.NO_QUORUM, 'the leader has no quorum', {});
          }
          // The node that executes a mutating call records it (a follower that forwards does not).
          audited = route.spec.audit;
          out = await route.handler(ctx);
        } catch (err) {
          if (!route.offline || !isNovacronError(err, NodeErrorCode.NO_QUORUM)) throw err;
          audited = route.spec.audit;
          out = await route.offline(ctx);
        }
        if (out === undefined) {
          status = res.statusCode; // streamed (SSE, metrics)
          return;
        }
        status = out.status;
        await recordAudit('ok');
        if (out.body === undefined) res.writeHead(status).end();
        else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out.body));
      } catch (err) {
        const e = isNovacronError(err)
          ? err
          : nodeError(NodeErrorCode.INTERNAL, err instanceof Error ? err.message : String(err), {}, err);
        status = statusOf(e.code);
        if (e.code === SecurityErrorCode.FORBIDDEN && route?.spec.audit !== undefined) {
          // A refused attempt at a mutating call is recorded too, under the (public) id of the token that tried.
          audited = route.spec.audit;
          const d = e.details as { tokenId?: unknown; role?: unknown };
          if (principal === undefined && typeof d.tokenId === 'string' && typeof d.role === 'string')
            principal = { id: d.tokenId, role: d.role as ApiPrincipal['role'], name: '' };
        }
        if (status === 429 && typeof e.details.retryAfterMs === 'number')
          res.setHeader('retry-after', String(Math.ceil(e.details.retryAfterMs / 1000)));
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
        if (status === 500) node.logger.error('api request failed', { route: name, error: e.message });
        await recordAudit(e.code);
        if (!res.headersSent)
          res
            .writeHead(status, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: { code: e.code, message: e.message, details: safeDetails(e) } }));
        else res.end();
      } finally {
        span.setAttribute('http.response.status_code', status);
        span.end();
        requests.inc(1, { route: name, status: String(status) });
        latency.observe((performance.now() - t0) / 1000, { route: name });
      }
    });
  };
  return {
    handle,
    closeStreams: () => {
      for (const r of sse) r.end();
      sse.clear();
    },
  };
}

/**
 * The API as a node component: an `node:http` server on `api.listen`
 * running {@link apiHandler}. `startNode` adds it unless `api.enabled` is false.
 */
export function apiServer(options: ApiServerOptions = {}): (node: NovacronNode) => NodeComponent {
  return (node) => {
    let server: Server | undefined;
    let api: ApiHandler | undefined;
    return {
      name: 'api',
      dependsOn: ['cluster'],
      start: async () => {
        api = apiHandler(node, options);
        const h = api;
        server = createServer((req, res) => {
          h.handle(req, res).catch(() => res.destroy());
        });
        server.headersTimeout = 10_000;
        server.requestTimeout = 30_000;
        const [host, port] = splitHostPort(node.config.api.listen);
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen(port, host, () => resolve());
        });
        const a = server.address() as AddressInfo;
        node.setApiUrl(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      },
      stop: async () => {
        api?.closeStreams();
        if (!server) return;
        const s = server;
        server = undefined;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        });
      },
      health: () => ({ status: 'ok', detail: node.apiUrl ?? '' }),
    };
  };
}

function safeDetails(e: NovacronError): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(e.details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i).replace(/^\[|\]$/g, ''), Number(s.slice(i + 1))];
}

/**
 * The default auth hook: `Authorization: Bearer ncat_…` checked against the
 * node's token table (and tokens issued through the cluster), then the role
 * table; failures are counted per client address and lock it out. With
 * `security.insecure` every caller is an anonymous admin.
 */
export function bearerAuth(node: NovacronNode): AuthHook {
  return (req, permission) => {
    const access = node.security.access;
    if (access === undefined) return ANONYMOUS;
    const principal = access.authenticate(req.headers.authorization, req.socket.remoteAddress ?? 'unknown');
    access.authorize(principal, permission);
    return principal;
  };
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    throw nodeError(NodeErrorCode.API_PAYLOAD_TOO_LARGE, `body of ${declared} bytes exceeds ${limit}`, { limit });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.destroy();
      throw nodeError(NodeErrorCode.API_PAYLOAD_TOO_LARGE, `body exceeds ${limit} bytes`, { limit });
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw nodeError(NodeErrorCode.API_BAD_REQUEST, 'a JSON body is required', { issues: [] });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw nodeError(NodeErrorCode.API_BAD_REQUEST, `body is not JSON: ${(err as Error).message}`, { issues: [] });
  }
}

async function forward(node: NovacronNode, req: IncomingMessage, ctx: Ctx): Promise<{ status: number; text: string }> {
  const leaderUrl = node.cluster.leaderApiUrl();
  const leader = node.cluster.leader;
  // Injected faults cut the node off from the leader on every path, the API hop included.
  if (
    req.headers['x-novacron-forwarded'] ||
    !leaderUrl ||
    leaderUrl === node.apiUrl ||
    (leader !== null && node.faults?.blocks(leader))
  )
    throw nodeError(NodeErrorCode.NO_QUORUM, 'no reachable leader for this write', { leader: node.cluster.leader });
  const hasBody =
    (req.method === 'POST' || req.method === 'PUT') &&
    (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined);
  const body = hasBody ? JSON.stringify(await ctx.body()) : undefined;
  try {
    const r = await fetch(new URL(req.url ?? '/', leaderUrl), {
      method: req.method ?? 'GET',
      headers: {
        'content-type': 'application/json',
        'x-novacron-forwarded': node.id,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      },
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: r.status, text: await r.text() };
  } catch (cause) {
    throw nodeError(
      NodeErrorCode.NO_QUORUM,
      `leader ${node.cluster.leader} unreachable at ${leaderUrl}`,
      { leader: node.cluster.leader },
      cause,
    );
  }
}

function buildRoutes(node: NovacronNode, sse: Set<ServerResponse>): Route[] {
  const r = (
    method: string,
    path: string,
    handler: Handler,
    flags: { write?: boolean; offline?: Handler } = {},
  ): Route => {
    const spec = routeSpec(method, path);
    // Fail closed: a route nobody gave a permission to is a bug, not an open door.
    if (spec === undefined) throw new Error(`route ${method} ${path} has no row in API_ROUTE_TABLE`);
    return {
      method,
      path,
      re: new RegExp(`^${path.replace(/\{[a-zA-Z]+\}/g, '([^/]+)')}$`),
      handler,
      spec,
      ...flags,
    };
  };
  const ok = (body: unknown, status = 200) => ({ status, body });
  return [
    r('GET', '/healthz', async () => ok({ status: 'ok' })),
    r('GET', '/readyz', async () => {
      const components = node.health();
      const ready = node.running && components.every((c) => c.state === 'started') && node.cluster.leader !== null;
      return ok({ ready, leader: node.cluster.leader, components }, ready ? 200 : 503);
    }),
    r('GET', '/metrics', async ({ res }) => {
      const text = await node.metrics.text();
      res.writeHead(200, { 'content-type': node.metrics.contentType }).end(text);
      return undefined;
    }),
    r('GET', '/openapi.json', async () => ok(openApiDocument())),
    r('GET', '/v1/cluster', async () => {
      const s = node.controlLog.status();
      const [hosts, ledger, vms] = await Promise.all([
        node.cluster.hosts(),
        node.cluster.ledgerSnapshot(),
        node.cluster.vms(),
      ]);
      return ok({
        name: node.config.cluster.name,
        node: node.id,
        leader: s.leader,
        term: s.term,
        commitIndex: s.commitIndex,
        voters: s.voters,
        mode: node.modeStatus().mode,
        vms: vms.length,
        hosts: hosts.map((h) => {
          const row = ledger.hosts.find((x) => x.hostId === h.id);
          return {
            id: h.id,
            nodeId: h.nodeId,
            schedulable: h.schedulable,
            capacity: h.capacity,
            committed: row?.committed,
            vms: vms.filter((v) => v.hostId === h.id).length,
          };
        }),
      });
    }),
    r('GET', '/v1/nodes', async () => {
      const hosts = await node.cluster.hosts();
      return ok(
        node.membership.members().map((m) => ({
          id: m.id,
          address: m.address,
          status: m.status,
          rttMs: m.rttMs,
          api: m.meta.api,
          host: hosts.find((h) => h.nodeId === m.id) ?? null,
        })),
      );
    }),
    r('GET', '/v1/vms', async () => ok(await node.cluster.vms())),
    r(
      'POST',
      '/v1/vms',
      async (ctx) => {
        const req = parse(vmCreateSchema, await ctx.body(), 'VM request') as PlacementRequest;
        return ok(await node.cluster.createVm(req), 201);
      },
      {
        write: true,
        // Cut off from the log: only this node's escrow, on its own host (503 when it does not fit or is off).
        offline: async (ctx) => {
          const req = parse(vmCreateSchema, await ctx.body(), 'VM request') as PlacementRequest;
          const escrow = node.escrow;
          if (!escrow) throw nodeError(NodeErrorCode.NO_QUORUM, 'no reachable leader for this write', {});
          return ok({ vm: await escrow.place(req), escrow: true }, 201);
        },
      },
    ),
    r('GET', '/v1/vms/{id}', async ({ params }) => ok(await node.cluster.vm(params[0]!))),
    r(
      'DELETE',
      '/v1/vms/{id}',
      async ({ params }) => {
        await node.cluster.deleteVm(params[0]!);
        return { status: 204 };
      },
      { write: true },
    ),
    r('POST', '/v1/vms/{id}/start', async ({ params }) => ok(await node.cluster.setDesired(params[0]!, 'running')), {
      write: true,
    }),
    r('POST', '/v1/vms/{id}/stop', async ({ params }) => ok(await node.cluster.setDesired(params[0]!, 'stopped')), {
      write: true,
    }),
    r('POST', '/v1/placement/preview', async (ctx) => {
      const req = parse(vmCreateSchema, await ctx.body(), 'VM request') as PlacementRequest;
      return ok(await node.cluster.preview(req));
    }),
    r('GET', '/v1/mode', async () => ok(node.modeStatus())),
    r('PUT', '/v1/mode', async (ctx) => {
      const { override } = parse(modeOverrideSchema, await ctx.body(), 'mode override');
      node.setModeOverride((override ?? undefined) as LinkMode | undefined);
      await node.reconfigured();
      return ok(node.modeStatus());
    }),
    r('GET', '/v1/events', async ({ req, res }) => {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      res.write(': novacron events\n\n');
      const send = (e: { id: number; type: string; data: unknown }) =>
        res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
      const last = Number(req.headers['last-event-id'] ?? Number.NaN);
      if (Number.isSafeInteger(last)) for (const e of node.events.since(last)) send(e);
      const unsubscribe = node.events.subscribe(send);
      const keepAlive = node.clock.setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      sse.add(res);
      res.on('close', () => {
        unsubscribe();
        keepAlive.cancel();
        sse.delete(res);
      });
      return undefined;
    }),
    ...securityRoutes(node, r, ok),
    ...migrationRoutes(node, { route: r, parse, sse }),
  ];
}

type RouteMaker = (method: string, path: string, handler: Handler, flags?: { write?: boolean }) => Route;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Token issue/revoke, admission, retirement and the audit log (docs/security.md). */
function securityRoutes(
  node: NovacronNode,
  r: RouteMaker,
  ok: (body: unknown, status?: number) => { status: number; body: unknown },
): Route[] {
  const object = (v: unknown): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw nodeError(NodeErrorCode.API_BAD_REQUEST, 'a JSON object is required', { issues: [] });
    return v as Record<string, unknown>;
  };
  const bad = (path: string, message: string) =>
    nodeError(NodeErrorCode.API_BAD_REQUEST, `invalid ${path}: ${message}`, {
      issues: [{ path, message, code: 'custom' }],
    });
  const ttl = (v: unknown, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw bad('ttlMs', `an integer from ${min} to ${max}`);
    return v;
  };
  const publicRecord = ({ hash: _hash, ...rest }: ApiTokenRecord) => rest;
  return [
    r(
      'POST',
      '/v1/tokens',
      async (ctx) => {
        const b = object(await ctx.body());
        if (!isApiRole(b.role)) throw bad('role', 'viewer, operator or admin');
        if (typeof b.name !== 'string' || !/^[\w.@-]{1,64}$/.test(b.name))
          throw bad('name', '1-64 characters [\\w.@-]');
        const ttlMs = ttl(b.ttlMs, 60_000, 366 * 86_400_000);
        const minted = mintToken('ncat');
        const now = Date.now();
        const record: ApiTokenRecord = {
          id: minted.id,
          hash: minted.hash,
          role: b.role,
          name: b.name,
          createdAt: now,
          ...(ttlMs === undefined ? {} : { expiresAt: now + ttlMs }),
        };
        await node.strongStore.put(`${SECURITY_KEYS.apiTokens}${record.id}`, encoder.encode(JSON.stringify(record)));
        // The token string exists only in this response.
        return ok({ token: minted.token, record: publicRecord(record) }, 201);
      },
      { write: true },
    ),
    r('GET', '/v1/tokens', async () => {
      const rows = await node.strongStore.range(SECURITY_KEYS.apiTokens, `${SECURITY_KEYS.apiTokens}\uffff`);
      const cluster = rows.map(([, v]) => JSON.parse(decoder.decode(v)) as ApiTokenRecord);
      const local = node.security.access?.list() ?? [];
      return ok([...local, ...cluster].map(publicRecord));
    }),
    r(
      'DELETE',
      '/v1/tokens/{id}',
      async ({ params }) => {
        const key = `${SECURITY_KEYS.apiTokens}${params[0]!}`;
        const v = await node.strongStore.get(key);
        if (v === null)
          throw nodeError(NodeErrorCode.API_NOT_FOUND, `no token ${params[0]} issued through the cluster`, {
            path: key,
          });
        const record = JSON.parse(decoder.decode(v)) as ApiTokenRecord;
        if (record.revokedAt === undefined)
          await node.strongStore.put(key, encoder.encode(JSON.stringify({ ...record, revokedAt: Date.now() })));
        return { status: 204 };
      },
      { write: true },
    ),
    r('POST', '/v1/join-tokens', async (ctx) => {
      const b = object(await ctx.body());
      const store = node.security.joinTokens;
      if (store === undefined)
        throw nodeError(
          NodeErrorCode.API_BAD_REQUEST,
          'this node does not hold the cluster CA key; ask one that does',
          {
            issues: [],
          },
        );
      const ttlMs = ttl(b.ttlMs, 60_000, 7 * 86_400_000);
      const { token, record } = await store.issue({ issuedBy: ctx.principal.id, ...(ttlMs ? { ttlMs } : {}) });
      return ok({ token, id: record.id, expiresAt: record.expiresAt }, 201);
    }),
    r('POST', '/v1/cluster/join', async (ctx) => {
      const source = ctx.req.socket.remoteAddress ?? 'unknown';
      const b = object(await ctx.body());
      if (typeof b.token !== 'string') throw bad('token', 'a join token');
      if (typeof b.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(b.publicKey))
        throw bad('publicKey', 'the 32-byte Ed25519 public key, hex');
      if (b.name !== undefined && (typeof b.name !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(b.name)))
        throw bad('name', '1-128 characters [A-Za-z0-9._-]');
      const out = await node.security.admit({
        token: b.token,
        publicKey: fromHex(b.publicKey),
        ...(typeof b.name === 'string' ? { name: b.name } : {}),
        actor: `join:${source}`,
        source,
      });
      return ok(out, 201);
    }),
    r(
      'POST',
      '/v1/cluster/members/{id}/retire',
      async ({ params, principal }) => {
        const id = params[0]!;
        if (id === node.id) throw bad('id', 'another node (a node cannot retire itself)');
        await node.strongStore.put(
          `${SECURITY_KEYS.retired}${id}`,
          encoder.encode(JSON.stringify({ at: Date.now(), by: principal.id })),
        );
        return ok({ retired: id });
      },
      { write: true },
    ),
    r('GET', '/v1/audit', async () => {
      const dir = node.config.security.auditDir ?? `${node.config.node.dataDir}/audit`;
      const report = await verifyAuditLog(nodeFileIO(), dir, {
        expectedSigner: Buffer.from(node.identity.publicKey).toString('hex'),
      });
      return ok({
        head: node.security.audit.head(),
        ok: report.ok,
        records: report.records,
        ...(report.problem ? { problem: report.problem } : {}),
      });
    }),
  ];
}

/** Every route as `METHOD path` (the OpenAPI test checks each is documented); rows of {@link API_ROUTE_TABLE}. */
export function apiRoutes(): string[] {
  return API_ROUTE_TABLE.map((r) => `${r.method} ${r.path}`);
}
