/**
 * `@novacron/testkit/vitest`: helpers that call vitest's `it`. Kept off the
 * main entry so importing `@novacron/testkit` never loads vitest.
 *
 * @packageDocumentation
 */
export * from './vitest/sim-test.js';
export * from './vitest/expect-error.js';
