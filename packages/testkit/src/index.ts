/**
 * `@novacron/testkit`: deterministic simulation, history checking and the
 * compliance suites for NovaCron's pluggable contracts.
 *
 * @packageDocumentation
 */
export * from './sim/faults.js';
export * from './sim/link-config.js';
export * from './sim/nemesis.js';
export * from './sim/network.js';
export * from './sim/partition.js';
export * from './sim/replay.js';
export * from './sim/bottleneck.js';
export * from './sim/cubic.js';
export * from './sim/sim-duplex.js';
export * from './sim/sim-run.js';
export * from './sim/stream-transport.js';
export * from './sim/tcp-config.js';
export * from './sim/tcp-receiver.js';
export * from './sim/tcp-sender.js';
export * from './sim/tcp-wire.js';
export * from './sim/trace.js';
export * from './sim/world.js';
export * from './storage/memory-file-io.js';
export * from './storage/crash-file-io.js';
export * from './check/history.js';
export * from './check/model.js';
export * from './check/linearizability.js';
export * from './check/kv-simulation.js';
export * from './streams/bounded-pipe.js';
export * from './streams/socket-pipe.js';
