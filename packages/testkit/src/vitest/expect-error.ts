import { type NovacronError, isNovacronError } from '@novacron/core';
import { expect } from 'vitest';

/**
 * Asserts that `fn` throws a `NovacronError` with `code` and returns it, so
 * the test can go on to check `details`. Fails with the actual error (or
 * "nothing thrown") otherwise.
 */
export function expectNovacronError<C extends string>(fn: () => unknown, code: C): NovacronError<C> {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) expect.fail(`expected ${code}, but nothing was thrown`);
  expect(isNovacronError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
  return thrown as NovacronError<C>;
}

/** Async form of {@link expectNovacronError}: awaits `promise` and asserts it rejects with `code`. */
export async function expectNovacronRejection<C extends string>(
  promise: Promise<unknown>,
  code: C,
): Promise<NovacronError<C>> {
  let thrown: unknown;
  try {
    await promise;
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) expect.fail(`expected a rejection with ${code}, but the promise resolved`);
  expect(isNovacronError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
  return thrown as NovacronError<C>;
}
