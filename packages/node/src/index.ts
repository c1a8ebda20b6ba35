/**
 * `@novacron/node`: the runnable NovaCron node. A component graph wires the
 * DWCP packages (acp consensus, amst peer network, itp placement, providers)
 * into a node with a configuration schema, an HTTP API, metrics and a CLI.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './components/component.js';
export * from './components/component-graph.js';
export * from './config/schema.js';
export * from './config/presets.js';
export * from './config/schema-leaves.js';
export * from './config/load-config.js';
export * from './config/config-docs.js';
export * from './cluster/strong-store.js';
export * from './cluster/ledger-state.js';
export * from './cluster/store-capacity-ledger.js';
export * from './membership/membership.js';
export * from './membership/static-membership.js';
export * from './membership/rtt-prober.js';
export * from './membership/swim-membership.js';
export * from './membership/cluster-key.js';
export * from './observability/pino-logger.js';
export * from './observability/prom-metrics.js';
export * from './cluster/records.js';
export * from './cluster/event-hub.js';
export * from './cluster/group-strong-store.js';
export * from './cluster/placement-planner.js';
export * from './cluster/cluster-controller.js';
export * from './consensus-factory.js';
export * from './cluster/leader-forwarding.js';
export * from './cluster/network-faults.js';
export * from './cluster/escrow-placer.js';
export * from './cluster/remote-score-model.js';
export * from './components/transfer-settings.js';
export * from './node.js';
export * from './api/vm-request.js';
export * from './api/openapi.js';
export * from './api/http-server.js';
export * from './api/client.js';
export * from './start-node.js';
export { runCli } from './cli/main.js';
// #13 live migration
export * from './cluster/workload-config.js';
export * from './api/migration-routes.js';
export * from './api/migration-openapi.js';
export * from './migration/convergence.js';
export * from './migration/control-channel.js';
export * from './migration/data-transport.js';
export * from './migration/memory-digest.js';
export * from './migration/migration-component.js';
export * from './migration/migration-destination.js';
export * from './migration/migration-manager.js';
export * from './migration/migration-progress.js';
export * from './migration/migration-rates.js';
export * from './migration/migration-source.js';
export * from './migration/migration-wire.js';
export * from './migration/ownership.js';
export * from './migration/page-batch-codec.js';
// #15 security
export * from './security/index.js';
// #13 live migration, stream style (QEMU): relay over amst + hde, QEMU capability choice
export * from './migration/stream-errors.js';
export * from './migration/stream-header.js';
export * from './migration/stream-pair.js';
export * from './migration/stream-relay.js';
export * from './migration/stream-capabilities.js';
export * from './api/route-permissions.js';
