import { type ApiServerOptions, apiServer } from './api/http-server.js';
import { loadNodeConfig } from './config/load-config.js';
import type { NodeConfigInput } from './config/schema.js';
import { type CreateNodeOptions, createNode, type NovacronNode } from './node.js';

/**
 * Creates a node with the HTTP API enabled (unless `api.enabled` is false)
 * and starts it. If start fails, everything started is stopped again and
 * the error (typed) is rethrown.
 */
export async function startNode(
  config: NodeConfigInput = {},
  options: CreateNodeOptions & { readonly api?: ApiServerOptions } = {},
): Promise<NovacronNode> {
  const { config: resolved } = loadNodeConfig({ ...(options.sources ?? {}), overrides: config });
  const withApi = resolved.api.enabled
    ? [apiServer(options.api), ...(options.components ?? [])]
    : (options.components ?? []);
  const node = createNode(config, { ...options, components: withApi });
  await node.start();
  return node;
}
