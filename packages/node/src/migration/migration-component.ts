import type { TlsCredentials, TlsTrust } from '@novacron/amst';
import { randomBytes } from 'node:crypto';
import type { StreamPeerNetwork } from '@novacron/amst';
import type { Clock, LinkMode, Logger, VmProvider } from '@novacron/core';
import type { ClusterController } from '../cluster/cluster-controller.js';
import type { EventHub } from '../cluster/event-hub.js';
import type { PlacementPlanner } from '../cluster/placement-planner.js';
import type { NodeConfig } from '../config/schema.js';
import type { Membership } from '../membership/membership.js';
import type { GroupStrongStore } from '../cluster/group-strong-store.js';
import { StoreCapacityLedger } from '../cluster/store-capacity-ledger.js';
import type { NodeComponent } from '../components/component.js';
import { MigrationManager } from './migration-manager.js';

/** What the migration component uses of the node (a `NovacronNode` after its other components started). */
export interface MigrationNodeView {
  readonly id: string;
  readonly config: NodeConfig;
  readonly provider: VmProvider;
  readonly membership: Membership;
  readonly cluster: ClusterController;
  readonly planner: PlacementPlanner;
  readonly events: EventHub;
  readonly clock: Clock;
  readonly logger: Logger;
  modeSettings(): { readonly placementPolicy: string; readonly hdeCodec: string };
  modeStatus(): { readonly mode: LinkMode };
  /** TLS settings of the node's links (`undefined` with `security.insecure`). */
  tlsSettings(): { readonly credentials: TlsCredentials; readonly trust: TlsTrust } | undefined;
}

/** The node internals the migration component is built from (after they started). */
export interface MigrationComponentDeps {
  readonly node: MigrationNodeView;
  readonly store: GroupStrongStore;
  readonly network: StreamPeerNetwork;
}

/**
 * The `migration` node component: a {@link MigrationManager} over the
 * node's control-log store, whose proposals any member may make (a
 * follower's go to the leader, `LeaderForwarding`), so the source node can
 * commit ownership changes and claim capacity whether or not it leads.
 */
export function migrationComponent(
  deps: () => MigrationComponentDeps,
  ready: (m: MigrationManager | undefined) => void,
): NodeComponent {
  let manager: MigrationManager | undefined;
  return {
    name: 'migration',
    dependsOn: ['cluster'],
    start: async () => {
      const { node, store, network } = deps();
      const settings = () => node.modeSettings();
      manager = new MigrationManager({
        nodeId: node.id,
        hostId: node.config.node.hostId ?? node.id,
        config: node.config,
        provider: node.provider,
        store,
        ledger: new StoreCapacityLedger({
          store,
          idPrefix: `${node.id}-mig-${randomBytes(3).toString('hex')}`,
        }),
        network,
        membership: node.membership,
        cluster: node.cluster,
        planner: node.planner,
        policy: () => settings().placementPolicy,
        mode: () => ({ mode: node.modeStatus().mode, hdeCodec: settings().hdeCodec }),
        tls: () => node.tlsSettings(),
        events: node.events,
        clock: node.clock,
        logger: node.logger.child('migration'),
      });
      await manager.start();
      ready(manager);
    },
    stop: async () => {
      ready(undefined);
      node().cluster.setMigrationGuard(undefined);
      await manager?.stop();
    },
    health: () => ({ status: 'ok', detail: manager?.dataAddress ?? '' }),
  };
  function node() {
    return deps().node;
  }
}
