/**
 * `@novacron/providers`: adapters implementing core's `VmProvider` contract:
 * a deterministic in-memory provider (pages-style migration) and a QEMU
 * provider driven over QMP (stream-style migration).
 *
 * @packageDocumentation
 */
export * from './operation-runner.js';
export * from './event-hub.js';
export * from './memory/page-image.js';
export * from './memory/dirty-model.js';
export * from './memory/memory-provider.js';
export * from './errors.js';
export * from './qemu/qmp-messages.js';
export * from './qemu/qmp-client.js';
export * from './qemu/qemu-process.js';
export * from './qemu/stream-pump.js';
export * from './qemu/qemu-provider.js';
export * from './qemu/heartbeat-monitor.js';
