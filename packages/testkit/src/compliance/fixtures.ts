/**
 * What every compliance suite takes: how to build a fresh instance of the
 * implementation under test before each test, and how to dispose of it.
 * A third party proves its implementation with a short spec file:
 *
 * ```ts
 * import { streamTransportCompliance } from '@novacron/testkit/compliance/stream-transport';
 * streamTransportCompliance('my transport', { setup: () => makeFixture(), teardown: (f) => f.close() });
 * ```
 */
export interface ComplianceFixtures<T> {
  /** Builds a fresh fixture for one test. */
  setup(): T | Promise<T>;
  /** Disposes of a fixture built by `setup` (called even when the test failed). */
  teardown?(fixture: T): void | Promise<void>;
}
