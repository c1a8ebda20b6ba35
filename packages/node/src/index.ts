// #15 security
export * from './security/index.js';
