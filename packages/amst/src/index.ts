export * from './errors.js';
export * from './transport/address.js';
export * from './transport/tcp-transport.js';
export * from './transport/memory-transport.js';
export * from './peer/peer-network-stats.js';
export * from './peer/peer-wire.js';
export * from './peer/stream-peer-network.js';
export * from './peer/udp-peer-network.js';
