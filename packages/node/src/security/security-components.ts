import { type Clock, type Logger, type NodeId, type NodeIdentity, nodeFileIO } from '@novacron/core';
import type { EventHub } from '../cluster/event-hub.js';
import type { NodeComponent } from '../components/component.js';
import type { NodeConfig } from '../config/schema.js';
import type { ApiTokenRecord } from './api-access.js';
import { NodeSecurity } from './node-security.js';

/** Keys of the control log's KV the security layer owns (replicated to every node). */
export const SECURITY_KEYS = {
  /** `security/api-tokens/<id>` → JSON {@link ApiTokenRecord} (hash only): tokens issued through the API. */
  apiTokens: 'security/api-tokens/',
  /** `security/retired/<node id>` → JSON `{ at, by }`: members retired (key rotation, removal); peers refuse them. */
  retired: 'security/retired/',
} as const;

/** What the security components need of the node (a narrow view, so the node module imports this one, not the reverse). */
export interface SecurityHost {
  readonly config: NodeConfig;
  readonly identity: NodeIdentity;
  readonly id: NodeId;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: EventHub;
  readonly security: NodeSecurity;
  readonly peerNetwork: { disconnect(drop: (id: NodeId) => boolean): number };
  setSecurity(security: NodeSecurity): void;
  localState(key: string): Uint8Array | null;
}

const decoder = new TextDecoder();

function readJson<T>(node: SecurityHost, key: string): T | undefined {
  const v = node.localState(key);
  if (v === null) return undefined;
  try {
    return JSON.parse(decoder.decode(v)) as T;
  } catch {
    return undefined;
  }
}

/** True when `nodeId` was retired from the cluster (as this node's replica knows). */
export function isRetired(node: SecurityHost, nodeId: string): boolean {
  return node.localState(`${SECURITY_KEYS.retired}${nodeId}`) !== null;
}

/**
 * The node's security components: `security` (credentials, trust, API
 * access, audit log; before the peer network) and `audit-membership`
 * (every member status change appended to the audit log; open connections
 * of retired members cut).
 */
export function securityComponents(node: SecurityHost): NodeComponent[] {
  let unsubscribe: (() => void) | undefined;
  let sweep: { cancel(): void } | undefined;
  const security: NodeComponent = {
    name: 'security',
    dependsOn: ['identity'],
    start: async () => {
      node.setSecurity(
        await NodeSecurity.open({
          config: node.config,
          identity: node.identity,
          nodeId: node.id,
          io: nodeFileIO(),
          clock: node.clock,
          logger: node.logger.child('security'),
          tokenLookup: (id) => readJson<ApiTokenRecord>(node, `${SECURITY_KEYS.apiTokens}${id}`),
          isRetired: (id) => isRetired(node, id),
        }),
      );
    },
    stop: async () => {
      await node.security.close();
    },
    health: () => ({
      status: 'ok',
      detail: node.security.tls ? `tls ${node.security.tls.mode}` : 'insecure',
    }),
  };
  const auditMembership: NodeComponent = {
    name: 'audit-membership',
    dependsOn: ['security', 'cluster'],
    start: () => {
      // Trust refuses new connections of retired members at once; this cuts the ones already open
      // (within a second of the retirement reaching this node's replica).
      sweep = node.clock.setInterval(() => {
        const cut = node.peerNetwork.disconnect((id) => isRetired(node, id));
        if (cut > 0) node.logger.info('cut connections of retired members', { connections: cut });
      }, 1000);
      unsubscribe = node.events.subscribe((e) => {
        if (e.type !== 'member.changed') return;
        const d = e.data as { id: string; status: string; previous?: string };
        node.security
          .record({
            actor: 'system',
            action: 'member.status',
            target: d.id,
            outcome: 'ok',
            details: { status: d.status, previous: d.previous ?? null },
          })
          .catch((err: unknown) => node.logger.warn('audit append failed', { error: (err as Error).message }));
      });
    },
    stop: () => {
      unsubscribe?.();
      sweep?.cancel();
    },
  };
  return [security, auditMembership];
}
