import { type LinkMode, NovacronError } from '@novacron/core';
import type { ItpPlacementDecision } from '@novacron/itp';
import type { VmView } from '../cluster/cluster-controller.js';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { MigrationRecord } from '../migration/migration-manager.js';
import type { MigrationProgress } from '../migration/migration-progress.js';
import type { ModeStatus } from '../node.js';
import type { ApiTokenRecord } from '../security/api-access.js';
import type { AuditHead } from '../security/audit-log.js';
import { readSecret, Secret } from '../security/secret.js';
import type { VmCreateBody } from './vm-request.js';

/**
 * The API token for a client, from `file` (e.g. `<dataDir>/admin.token`
 * written by the node), else `$NOVACRON_API_TOKEN_FILE`, else
 * `$NOVACRON_API_TOKEN`; `undefined` when none is set. Never from argv.
 */
export function readApiToken(file?: string, env: NodeJS.ProcessEnv = process.env): Secret | undefined {
  const f = file ?? env.NOVACRON_API_TOKEN_FILE;
  if (f === undefined && !env.NOVACRON_API_TOKEN) return undefined;
  return readSecret({ name: 'API token', ...(f ? { file: f } : {}), env: 'NOVACRON_API_TOKEN' }, env);
}

/** `GET /v1/cluster`. */
export interface ClusterSummary {
  readonly name: string;
  readonly node: string;
  readonly leader: string | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly voters: readonly string[];
  readonly mode: LinkMode;
  readonly vms: number;
  readonly hosts: readonly {
    readonly id: string;
    readonly nodeId: string;
    readonly schedulable: boolean;
    readonly capacity: { readonly cpuMillis: number; readonly memoryBytes: number };
    readonly committed?: { readonly cpuMillis: number; readonly memoryBytes: number };
    readonly vms: number;
  }[];
}

/** `GET /v1/nodes` rows. */
export interface NodeSummary {
  readonly id: string;
  readonly address: string;
  readonly status: 'alive' | 'suspect' | 'down';
  readonly rttMs?: number;
  readonly api?: string;
  readonly host: unknown;
}

/** Options of {@link NovacronClient}. */
export interface NovacronClientOptions {
  /** Base URL of any node's API, e.g. `http://127.0.0.1:7480`. */
  readonly baseUrl: string;
  /**
   * API token (`ncat_…`) sent as `Authorization: Bearer`; every route but
   * `/healthz` needs one unless the node runs with `security.insecure`.
   * Read it from a file or the environment ({@link readApiToken}), never
   * from the command line.
   */
  readonly token?: string | Secret;
  /** Per-request timeout in ms (default 15 000). */
  readonly timeoutMs?: number;
}

/** One server-sent event from {@link NovacronClient.events}. */
export interface StreamedEvent {
  readonly id: number;
  readonly type: string;
  readonly data: unknown;
}

/**
 * Typed client of the node API (docs/api/openapi.json). Error responses
 * become `NovacronError`s with the server's `code` and `details`, plus
 * `details.status`; an unreachable node is `NODE_CLIENT_UNREACHABLE`.
 */
export class NovacronClient {
  readonly #base: string;
  readonly #token: Secret | undefined;
  readonly #timeoutMs: number;

  constructor(options: NovacronClientOptions) {
    this.#base = options.baseUrl.replace(/\/$/, '');
    this.#token = typeof options.token === 'string' ? new Secret(options.token) : options.token;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  async #call<T>(
    method: string,
    path: string,
    body?: unknown,
    okStatuses: number[] = [],
    timeoutMs = this.#timeoutMs,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...this.#auth(),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw nodeError(
        NodeErrorCode.CLIENT_UNREACHABLE,
        `cannot reach ${this.#base}: ${(cause as Error).message}`,
        { url: this.#base },
        cause,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw nodeError(
          NodeErrorCode.CLIENT_BAD_RESPONSE,
          `${method} ${path}: response is not JSON (status ${res.status})`,
          {
            status: res.status,
          },
        );
      }
    }
    if (res.ok || okStatuses.includes(res.status)) return parsed as T;
    const e = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    if (!e || typeof e.code !== 'string')
      throw nodeError(
        NodeErrorCode.CLIENT_BAD_RESPONSE,
        `${method} ${path}: status ${res.status} without an error body`,
        { status: res.status },
      );
    throw new NovacronError(e.code, String(e.message ?? e.code), {
      details: { ...(typeof e.details === 'object' && e.details !== null ? e.details : {}), status: res.status },
    });
  }

  /** Liveness. */
  healthz(): Promise<{ status: string }> {
    return this.#call('GET', '/healthz');
  }
  /** Readiness (resolves with the body for 200 and 503 alike). */
  readyz(): Promise<{ ready: boolean; leader: string | null; components: unknown[] }> {
    return this.#call('GET', '/readyz', undefined, [503]);
  }
  /** Cluster summary. */
  cluster(): Promise<ClusterSummary> {
    return this.#call('GET', '/v1/cluster');
  }
  /** Members. */
  nodes(): Promise<NodeSummary[]> {
    return this.#call('GET', '/v1/nodes');
  }
  /** Every VM. */
  listVms(): Promise<VmView[]> {
    return this.#call('GET', '/v1/vms');
  }
  /** One VM. */
  getVm(id: string): Promise<VmView> {
    return this.#call('GET', `/v1/vms/${encodeURIComponent(id)}`);
  }
  /**
   * Places and creates a VM. With the control log unreachable, a node with
   * escrow places it on its own host's escrow: `escrow: true` and no `decision`.
   */
  createVm(request: VmCreateBody): Promise<{ vm: VmView; decision?: ItpPlacementDecision; escrow?: boolean }> {
    return this.#call('POST', '/v1/vms', request);
  }
  /** Sets the VM's desired state to running. */
  startVm(id: string): Promise<VmView> {
    return this.#call('POST', `/v1/vms/${encodeURIComponent(id)}/start`);
  }
  /** Sets the VM's desired state to stopped. */
  stopVm(id: string): Promise<VmView> {
    return this.#call('POST', `/v1/vms/${encodeURIComponent(id)}/stop`);
  }
  /** Deletes a VM. */
  async deleteVm(id: string): Promise<void> {
    await this.#call('DELETE', `/v1/vms/${encodeURIComponent(id)}`);
  }
  /** Placement preview with explanation. */
  preview(request: VmCreateBody): Promise<ItpPlacementDecision> {
    return this.#call('POST', '/v1/placement/preview', request);
  }
  /** Mode status. */
  mode(): Promise<ModeStatus> {
    return this.#call('GET', '/v1/mode');
  }
  /** Sets (or with `null` clears) the mode override. */
  setModeOverride(override: LinkMode | null): Promise<ModeStatus> {
    return this.#call('PUT', '/v1/mode', { override });
  }
  /** Prometheus text. */
  async metrics(): Promise<string> {
    const res = await fetch(`${this.#base}/metrics`, {
      headers: this.#auth(),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    if (!res.ok) await this.#call('GET', '/metrics'); // turns the error body into a typed error
    return res.text();
  }

  #auth(): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token.reveal()}` } : {};
  }

  /** Issues a cluster-wide API token (admin); the response holds the only copy of its secret. */
  issueToken(request: {
    role: 'viewer' | 'operator' | 'admin';
    name: string;
    ttlMs?: number;
  }): Promise<{ token: string; record: Omit<ApiTokenRecord, 'hash'> }> {
    return this.#call('POST', '/v1/tokens', request);
  }
  /** API tokens (admin; never their secrets or hashes). */
  listTokens(): Promise<Omit<ApiTokenRecord, 'hash'>[]> {
    return this.#call('GET', '/v1/tokens');
  }
  /** Revokes a cluster-wide API token (admin). */
  async revokeToken(id: string): Promise<void> {
    await this.#call('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  }
  /** Issues a single-use join token on a node holding the CA key (admin). */
  issueJoinToken(ttlMs?: number): Promise<{ token: string; id: string; expiresAt: number }> {
    return this.#call('POST', '/v1/join-tokens', ttlMs === undefined ? {} : { ttlMs });
  }
  /** Retires a member (admin): peers refuse its certificate from then on. */
  retireMember(id: string): Promise<{ retired: string }> {
    return this.#call('POST', `/v1/cluster/members/${encodeURIComponent(id)}/retire`);
  }
  /** The node's audit log head and verification (admin). */
  audit(): Promise<{ head: AuditHead; ok: boolean; records: number; problem?: unknown }> {
    return this.#call('GET', '/v1/audit');
  }

  /** Live-migrates a VM (#13); with `wait`, resolves once it ended (its final progress, failed or not). */
  migrateVm(
    id: string,
    options: { to?: string; wait?: boolean; downtimeBudgetMs?: number; timeoutMs?: number } = {},
  ): Promise<MigrationProgress> {
    const { timeoutMs, ...body } = options;
    return this.#call('POST', `/v1/vms/${encodeURIComponent(id)}/migrate`, body, [], timeoutMs ?? this.#timeoutMs);
  }
  /** One migration: live progress from the node running it, or the log's record once it ended elsewhere. */
  migration(id: string): Promise<MigrationProgress | MigrationRecord> {
    return this.#call('GET', `/v1/migrations/${encodeURIComponent(id)}`);
  }
  /** VMs this node's provider holds, with their provider state. */
  providerVms(): Promise<{ id: string; hostId: string; state: string }[]> {
    return this.#call('GET', '/v1/provider/vms');
  }
  /** Every migration in the control log, newest first. */
  migrations(): Promise<(MigrationProgress | MigrationRecord)[]> {
    return this.#call('GET', '/v1/migrations');
  }
  /** Cancels a running migration (the VM keeps running at the source). */
  cancelMigration(id: string): Promise<MigrationProgress> {
    return this.#call('DELETE', `/v1/migrations/${encodeURIComponent(id)}`);
  }
  /** Streams a migration's progress until it ends (or `signal` aborts). */
  migrationEvents(id: string, onProgress: (p: MigrationProgress) => void, signal: AbortSignal): Promise<void> {
    return this.#stream(
      `/v1/migrations/${encodeURIComponent(id)}/events`,
      (e) => onProgress(e.data as MigrationProgress),
      signal,
    );
  }

  /** Streams events until `signal` aborts; calls `onEvent` for each. */
  events(onEvent: (e: StreamedEvent) => void, signal: AbortSignal): Promise<void> {
    return this.#stream('/v1/events', onEvent, signal);
  }

  async #stream(path: string, onEvent: (e: StreamedEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await fetch(`${this.#base}${path}`, {
      headers: this.#auth(),
      signal,
    }).catch((cause: unknown) => {
      if (signal.aborted) return undefined;
      throw nodeError(NodeErrorCode.CLIENT_UNREACHABLE, `cannot reach ${this.#base}`, { url: this.#base }, cause);
    });
    if (!res?.body) return;
    if (!res.ok) {
      const e = ((await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } })?.error;
      throw new NovacronError(e?.code ?? NodeErrorCode.CLIENT_BAD_RESPONSE, e?.message ?? `status ${res.status}`, {
        details: { status: res.status },
      });
    }
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end = buf.indexOf('\n\n');
        while (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((l) => !l.startsWith(':') && l.includes(': '))
              .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
          );
          if (fields.event && fields.data !== undefined)
            onEvent({ id: Number(fields.id), type: fields.event, data: JSON.parse(fields.data) as unknown });
          end = buf.indexOf('\n\n');
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  }
}
