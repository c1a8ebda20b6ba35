/**
 * `@novacron/ass`: state synchronisation. One `StateSync` contract (core)
 * with three strategies: {@link StrongSync} (linearizable, over any
 * consensus group), {@link CrdtSync} (eventual, Yjs documents synced with
 * y-protocols over any peer network) and {@link HybridSync} (the log first,
 * the CRDT after a deadline). See docs/protocol/ass.md.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './hybrid/hlc.js';
export * from './strong/commands.js';
export * from './strong/sync-state-machine.js';
export * from './strong/strong-sync.js';
export * from './crdt/digest.js';
export * from './crdt/update-chunks.js';
export * from './crdt/update-record.js';
export * from './crdt/crdt-sync.js';
export * from './hybrid/eventual-write.js';
export * from './hybrid/hybrid-sync.js';
