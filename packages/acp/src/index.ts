/**
 * `@novacron/acp`: consensus. Raft (a deterministic core plus a runtime
 * implementing core's `ConsensusGroup`) and a replicated key-value store
 * over any `ConsensusGroup`.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './raft/messages.js';
export * from './raft/quorum.js';
export * from './raft/log.js';
export * from './raft/progress.js';
export * from './raft/membership.js';
export * from './raft/core.js';
export * from './raft/wire.js';
export * from './raft/sessions.js';
export * from './raft/snapshot-store.js';
export * from './raft/raft-group.js';
export * from './kv/kv-state-machine.js';
export * from './kv/replicated-kv.js';

// #7 pbft
export * from './pbft/keyring.js';
export * from './pbft/messages.js';
export * from './pbft/wire.js';
export * from './pbft/new-view.js';
export * from './pbft/records.js';
export * from './pbft/core.js';
export * from './pbft/pbft-group.js';
export * from './pbft/pbft-client.js';
export * from './selector/select-protocol.js';
export * from './selector/switching-group.js';
// #7 gossip
export * from './gossip/config.js';
export * from './gossip/awareness.js';
export * from './gossip/suspicion.js';
export * from './gossip/messages.js';
export * from './gossip/wire.js';
export * from './gossip/broadcast-queue.js';
export * from './gossip/swim-core.js';
export * from './gossip/gossip-membership.js';
