import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { MigrationProgress } from '../migration/migration-progress.js';
import type { NovacronNode } from '../node.js';

/** Body of `POST /v1/vms/{id}/migrate`. */
export const migrateRequestSchema = z.strictObject({
  to: z.string().min(1).max(128).optional().describe('Destination host id (default: itp picks one).'),
  wait: z.boolean().optional().describe('Answer only once the migration ended (with its final progress).'),
  downtimeBudgetMs: z
    .number()
    .int()
    .positive()
    .max(60_000)
    .optional()
    .describe('Downtime budget of this migration (default: `migration.downtimeBudgetMs`).'),
});

const TERMINAL = new Set(['completed', 'rolled-back', 'cancelled', 'failed']);

/** A request as the API server hands it to a route. */
interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: string[];
  body(): Promise<unknown>;
}
type Handler = (ctx: Ctx) => Promise<{ status: number; body?: unknown } | undefined>;

/** The API server's route helpers (passed in, so this file does not import the server). */
interface Helpers<Route> {
  readonly route: (method: string, path: string, handler: Handler, flags?: { write?: boolean }) => Route;
  readonly parse: <T>(schema: z.ZodType<T>, value: unknown, what: string) => T;
  readonly sse: Set<ServerResponse>;
}

/**
 * Live-migration routes (#13). A migration runs on the VM's owner (the
 * source node): a request reaching another node is proxied to the owner's
 * API (one hop, like leader forwarding), and requests about a running
 * migration to the node running it, so any node answers.
 */
export function migrationRoutes<Route>(node: NovacronNode, h: Helpers<Route>): Route[] {
  const ok = (body: unknown, status = 200) => ({ status, body });
  const apiOfNode = (nodeId: string) => node.membership.members().find((m) => m.id === nodeId)?.meta.api;
  const hostId = node.config.node.hostId ?? node.id;

  const migrate: Handler = async (ctx) => {
    const vmId = ctx.params[0]!;
    const hasBody =
      Number(ctx.req.headers['content-length'] ?? 0) > 0 || ctx.req.headers['transfer-encoding'] !== undefined;
    const body = h.parse(migrateRequestSchema, hasBody ? await ctx.body() : {}, 'migration request');
    const vm = await node.cluster.vm(vmId);
    if (vm.hostId !== hostId) {
      const owner = (await node.cluster.hosts()).find((x) => x.id === vm.hostId);
      if (!owner)
        throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${vmId} has no running owner`, { reason: 'no-owner' });
      return proxy(node, ctx, apiOfNode(owner.nodeId), JSON.stringify(body));
    }
    const first = await node.migrations.migrate(vmId, {
      ...(body.to !== undefined ? { to: body.to } : {}),
      ...(body.downtimeBudgetMs !== undefined ? { downtimeBudgetMs: body.downtimeBudgetMs } : {}),
    });
    if (body.wait) return ok(await node.migrations.wait(first.id));
    return ok(first, 202);
  };

  /** The node running migration `id`, when it is another node and the migration still runs. */
  const runner = async (id: string): Promise<string | undefined> => {
    if (node.migrations.local(id)) return undefined;
    const r = await node.migrations.get(id);
    if ('fromNode' in r && r.fromNode !== node.id && !TERMINAL.has(r.phase)) return apiOfNode(r.fromNode);
    return undefined;
  };

  return [
    h.route('POST', '/v1/vms/{id}/migrate', migrate),
    // What this node's provider actually runs (the inventory check: one running copy per VM).
    h.route('GET', '/v1/provider/vms', async () =>
      ok((await node.provider.listVms()).map((v) => ({ id: v.id, hostId: v.hostId, state: v.state }))),
    ),
    h.route('GET', '/v1/migrations', async () => {
      const records = await node.migrations.list();
      return ok(records.map((r) => node.migrations.local(r.id) ?? r));
    }),
    h.route('GET', '/v1/migrations/{id}', async (ctx) => {
      const id = ctx.params[0]!;
      const at = await runner(id);
      return at ? proxy(node, ctx, at) : ok(await node.migrations.get(id));
    }),
    h.route('DELETE', '/v1/migrations/{id}', async (ctx) => {
      const id = ctx.params[0]!;
      const at = await runner(id);
      return at ? proxy(node, ctx, at) : ok(node.migrations.cancel(id));
    }),
    h.route('GET', '/v1/migrations/{id}/events', async (ctx) => {
      const id = ctx.params[0]!;
      const at = await runner(id);
      if (at) return proxyStream(ctx, at);
      const current = await node.migrations.get(id);
      const { req, res } = ctx;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      let n = 0;
      const send = (data: unknown) =>
        res.write(`id: ${++n}\nevent: migration.progress\ndata: ${JSON.stringify(data)}\n\n`);
      const { steps: _steps, ...snapshot } = current as MigrationProgress;
      send(snapshot);
      if (TERMINAL.has(current.phase)) {
        res.end();
        return undefined;
      }
      const unsubscribe = node.events.subscribe((e) => {
        if (e.type !== 'migration.progress' || (e.data as { id?: string }).id !== id) return;
        send(e.data);
        if (TERMINAL.has((e.data as { phase: string }).phase)) res.end();
      });
      h.sse.add(res);
      const close = () => {
        unsubscribe();
        h.sse.delete(res);
      };
      res.on('close', close);
      req.on('close', close);
      return undefined;
    }),
  ];
}

async function proxy(
  node: NovacronNode,
  ctx: Ctx,
  api: string | undefined,
  body?: string,
): Promise<{ status: number; body?: unknown } | undefined> {
  const { req, res } = ctx;
  if (!api || req.headers['x-novacron-forwarded'] || api === node.apiUrl)
    throw nodeError(NodeErrorCode.NO_QUORUM, 'the node running this VM or migration is not reachable', {});
  let r: Response;
  try {
    r = await fetch(new URL(req.url ?? '/', api), {
      method: req.method ?? 'GET',
      headers: headersFor(node, req),
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(body?.includes('"wait":true') ? 600_000 : 10_000),
    });
  } catch (cause) {
    throw nodeError(NodeErrorCode.NO_QUORUM, `node API ${api} unreachable`, { api }, cause);
  }
  res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
  return undefined;
}

async function proxyStream(ctx: Ctx, api: string): Promise<undefined> {
  const { req, res } = ctx;
  const ac = new AbortController();
  req.on('close', () => ac.abort());
  const r = await fetch(new URL(req.url ?? '/', api), {
    headers: { ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
    signal: ac.signal,
  }).catch((cause: unknown) => {
    throw nodeError(NodeErrorCode.NO_QUORUM, `node API ${api} unreachable`, { api }, cause);
  });
  res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/event-stream' });
  try {
    for await (const chunk of r.body ?? []) res.write(chunk);
  } catch {
    // the client or the other node went away
  }
  res.end();
  return undefined;
}

function headersFor(node: NovacronNode, req: IncomingMessage): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-novacron-forwarded': node.id,
    ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
  };
}
