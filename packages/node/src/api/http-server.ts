import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isNovacronError, type LinkMode, type NovacronError, type PlacementRequest } from '@novacron/core';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { z } from 'zod';
import type { NodeComponent } from '../components/component.js';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { NovacronNode } from '../node.js';
import { openApiDocument } from './openapi.js';
import { MIGRATION_ROUTES, migrationRoutes } from './migration-routes.js';
import { modeOverrideSchema, vmCreateSchema } from './vm-request.js';

/**
 * Decides whether a request may proceed (the security issue replaces the
 * default bearer-token check with mTLS/identity-based auth). Return `true`
 * to allow; `false` or a throw answers 401 `NODE_API_UNAUTHORIZED`.
 */
export type AuthHook = (req: IncomingMessage, route: string) => boolean | Promise<boolean>;

/** Options of {@link apiServer}. */
export interface ApiServerOptions {
  /** Authentication hook (default: bearer token from `api.token`, or open when unset). */
  readonly auth?: AuthHook;
}

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: string[];
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
  /** Open without authentication. */
  readonly open?: boolean;
}

const STATUS: Record<string, number> = {
  [NodeErrorCode.API_BAD_REQUEST]: 400,
  [NodeErrorCode.API_NOT_FOUND]: 404,
  [NodeErrorCode.API_METHOD_NOT_ALLOWED]: 405,
  [NodeErrorCode.API_UNAUTHORIZED]: 401,
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
    name: 'novacron_api_request_duration_ms',
    help: 'HTTP API request latency',
    labelNames: ['route'],
    buckets: [1, 5, 10, 50, 100, 500, 1000, 5000],
  });
  const auth: AuthHook = options.auth ?? tokenAuth(node.config.api.token);
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
        if (!route.open && !(await Promise.resolve(auth(req, name)).catch(() => false)))
          throw nodeError(NodeErrorCode.API_UNAUTHORIZED, 'authentication required', {});
        let cached: Promise<unknown> | undefined;
        const ctx: Ctx = { req, res, params, body: () => (cached ??= readJson(req, node.config.api.maxBodyBytes)) };
        if (route.write && !node.cluster.isLeader()) {
          const forwarded = await forward(node, req, ctx);
          status = forwarded.status;
          res.writeHead(status, { 'content-type': 'application/json' }).end(forwarded.text);
          return;
        }
        const out = await route.handler(ctx);
        if (out === undefined) {
          status = res.statusCode; // streamed (SSE, metrics)
          return;
        }
        status = out.status;
        if (out.body === undefined) res.writeHead(status).end();
        else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out.body));
      } catch (err) {
        const e = isNovacronError(err)
          ? err
          : nodeError(NodeErrorCode.INTERNAL, err instanceof Error ? err.message : String(err), {}, err);
        status = statusOf(e.code);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
        if (status === 500) node.logger.error('api request failed', { route: name, error: e.message });
        if (!res.headersSent)
          res
            .writeHead(status, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: { code: e.code, message: e.message, details: safeDetails(e) } }));
        else res.end();
      } finally {
        span.setAttribute('http.response.status_code', status);
        span.end();
        requests.inc(1, { route: name, status: String(status) });
        latency.observe(performance.now() - t0, { route: name });
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

/** The default auth hook: `Authorization: Bearer <api.token>` when a token is set; open otherwise. */
export function tokenAuth(token: string | undefined): AuthHook {
  if (token === undefined) return () => true;
  const want = Buffer.from(token);
  return (req) => {
    const h = req.headers.authorization ?? '';
    const got = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
    return got.length === want.length && timingSafeEqual(got, want);
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
  if (req.headers['x-novacron-forwarded'] || !leaderUrl || leaderUrl === node.apiUrl)
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
    flags: { write?: boolean; open?: boolean } = {},
  ): Route => ({
    method,
    path,
    re: new RegExp(`^${path.replace(/\{[a-zA-Z]+\}/g, '([^/]+)')}$`),
    handler,
    ...flags,
  });
  const ok = (body: unknown, status = 200) => ({ status, body });
  return [
    r('GET', '/healthz', async () => ok({ status: 'ok' }), { open: true }),
    r(
      'GET',
      '/readyz',
      async () => {
        const components = node.health();
        const ready = node.running && components.every((c) => c.state === 'started') && node.cluster.leader !== null;
        return ok({ ready, leader: node.cluster.leader, components }, ready ? 200 : 503);
      },
      { open: true },
    ),
    r(
      'GET',
      '/metrics',
      async ({ res }) => {
        const text = await node.metrics.text();
        res.writeHead(200, { 'content-type': node.metrics.contentType }).end(text);
        return undefined;
      },
      { open: true },
    ),
    r('GET', '/openapi.json', async () => ok(openApiDocument()), { open: true }),
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
      { write: true },
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
    ...migrationRoutes(node, { route: r, parse, sse }),
  ];
}

/** Every route as `METHOD path` (the OpenAPI test checks each is documented). */
export function apiRoutes(): string[] {
  return [
    'GET /healthz',
    'GET /readyz',
    'GET /metrics',
    'GET /openapi.json',
    'GET /v1/cluster',
    'GET /v1/nodes',
    'GET /v1/vms',
    'POST /v1/vms',
    'GET /v1/vms/{id}',
    'DELETE /v1/vms/{id}',
    'POST /v1/vms/{id}/start',
    'POST /v1/vms/{id}/stop',
    'POST /v1/placement/preview',
    'GET /v1/mode',
    'PUT /v1/mode',
    'GET /v1/events',
    ...MIGRATION_ROUTES,
  ];
}
