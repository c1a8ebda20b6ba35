export * from './errors.js';
export * from './transport/address.js';
export * from './transport/tcp-transport.js';
export * from './transport/memory-transport.js';
