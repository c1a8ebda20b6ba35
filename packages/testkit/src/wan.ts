/**
 * `@novacron/testkit/wan`: a userspace WAN link emulator (delay, jitter,
 * loss, rate, queue) between two Linux network namespaces joined by TUN
 * devices, for benchmarks and end-to-end tests of real TCP stacks. Needs
 * root, iproute2 and gcc; {@link wanSupport} says whether they are there.
 */
export * from './wan/wan-link.js';
