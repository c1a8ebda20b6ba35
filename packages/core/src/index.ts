/**
 * `@novacron/core`: the contracts every NovaCron package shares and their
 * obvious implementations. See docs/architecture.md for how the packages
 * meet through these contracts.
 *
 * @packageDocumentation
 */
export * from './errors/codes.js';
export * from './errors/novacron-error.js';
export * from './validate.js';
export * from './bytes.js';
export * from './wire/framing.js';
export * from './wire/msgpack-limits.js';
export * from './wire/msgpack.js';
export * from './wire/canonical.js';
export * from './wire/messages.js';
export * from './time/clock.js';
export * from './time/sleep.js';
export * from './time/system-clock.js';
export * from './time/manual-clock.js';
export * from './random/rng.js';
export * from './lifecycle.js';
export * from './observability/logger.js';
export * from './observability/metrics.js';
export * from './identity/node-id.js';
export * from './identity/node-identity.js';
export * from './identity/identity-file.js';
export * from './transport/stream-transport.js';
export * from './transport/peer-network.js';
export * from './link/link.js';
export * from './link/mode-detector.js';
export * from './codec.js';
export * from './resources.js';
export * from './fs/file-io.js';
export * from './fs/node-file-io.js';
export * from './fs/atomic-write.js';
export * from './checksum.js';
export * from './math/normal-quantile.js';

// Contracts added by later issues. Each issue adds its export lines under its
// own heading, so parallel work merges without conflicts.

// #4 hde (codec contracts beyond ChunkCodec, if any)

// #5 amst

// #6 acp raft: DurableLog, ConsensusGroup
export * from './consensus/durable-log.js';
export * from './consensus/memory-durable-log.js';
export * from './consensus/file-durable-log.js';
export * from './consensus/consensus-group.js';

// #8 ass: StateSync
export * from './sync/state-sync.js';

// #9 pba: Predictor, rate allocation
export * from './predict/predictor.js';
export * from './predict/rate-allocator.js';

// #10 itp: placement plugins, capacity ledger
export * from './placement/placement-model.js';
export * from './placement/placement-plugins.js';
export * from './placement/capacity-ledger.js';

// #11 providers: VmProvider
export * from './providers/vm-provider.js';
