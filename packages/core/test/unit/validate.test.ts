import {
  assertBoolean,
  assertBytes,
  assertInteger,
  assertNumber,
  assertObject,
  assertOneOf,
  assertString,
  CoreErrorCode,
  invalidArgument,
  isNovacronError,
} from '@novacron/core';
import { describe, expect, it } from 'vitest';

/** Runs `fn`, asserting it throws CORE_INVALID_ARGUMENT; returns the details. */
function rejects(fn: () => unknown): { argument: string; expected: string; received: string } {
  try {
    fn();
  } catch (err) {
    expect(isNovacronError(err, CoreErrorCode.INVALID_ARGUMENT), String(err)).toBe(true);
    return (err as { details: { argument: string; expected: string; received: string } }).details;
  }
  throw new Error('expected CORE_INVALID_ARGUMENT');
}

describe('invalidArgument', () => {
  it('describes the received value without embedding it', () => {
    const cases: [unknown, string][] = [
      [null, 'null'],
      [[1, 2], 'array'],
      [3.5, 'number 3.5'],
      [Number.NaN, 'number NaN'],
      ['secret-token', 'string'],
      [undefined, 'undefined'],
      [{}, 'object'],
      [10n, 'bigint'],
    ];
    for (const [value, received] of cases) {
      const err = invalidArgument('opts.x', 'a thing', value);
      expect(err.code).toBe('CORE_INVALID_ARGUMENT');
      expect(err.details).toEqual({ argument: 'opts.x', expected: 'a thing', received });
      expect(err.message).toBe(`opts.x: expected a thing, received ${received}`);
    }
    expect(invalidArgument('k', 'x', 'secret-token').message).not.toContain('secret');
  });
});

describe('assertNumber / assertInteger', () => {
  it('accepts finite numbers within inclusive bounds', () => {
    assertNumber('n', 0);
    assertNumber('n', -1.5);
    assertNumber('n', 5, { min: 5, max: 5 });
    assertInteger('i', Number.MAX_SAFE_INTEGER);
    assertInteger('i', -3, { min: -3 });
  });

  it('rejects non-numbers, non-finite values and values out of bounds', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '1', null, undefined, 1n])
      rejects(() => assertNumber('n', v));
    expect(rejects(() => assertNumber('opts.size', 4, { min: 5 }))).toEqual({
      argument: 'opts.size',
      expected: 'a finite number >= 5',
      received: 'number 4',
    });
    expect(rejects(() => assertNumber('n', 6, { min: 1, max: 5 })).expected).toBe('a finite number >= 1 <= 5');
  });

  it('integers must be safe integers', () => {
    expect(rejects(() => assertInteger('i', 1.5)).expected).toBe('an integer');
    rejects(() => assertInteger('i', 2 ** 53));
    rejects(() => assertInteger('i', 0, { min: 1 }));
    rejects(() => assertNumber('i', 0.5, { integer: true }));
  });
});

describe('assertString', () => {
  it('checks type, emptiness and length', () => {
    assertString('s', '');
    assertString('s', 'abc', { nonEmpty: true, maxLength: 3 });
    rejects(() => assertString('s', 5));
    expect(rejects(() => assertString('s', '', { nonEmpty: true })).expected).toBe('a non-empty string');
    expect(rejects(() => assertString('s', 'abcd', { maxLength: 3 })).expected).toBe(
      'a string of at most 3 characters',
    );
  });
});

describe('assertBytes', () => {
  it('accepts Uint8Array and Buffer, optionally of an exact length', () => {
    assertBytes('b', new Uint8Array(3));
    assertBytes('b', Buffer.from('ab'), 2);
    expect(rejects(() => assertBytes('b', new Uint8Array(3), 4)).expected).toBe('a Uint8Array of 4 bytes');
    for (const v of [[1, 2], new Uint16Array(2), 'ab', new ArrayBuffer(2), null]) rejects(() => assertBytes('b', v));
  });
});

describe('assertObject / assertOneOf / assertBoolean', () => {
  it('assertObject accepts plain objects only', () => {
    assertObject('o', {});
    assertObject('o', Object.create(null));
    for (const v of [null, [], 'x', 1, undefined]) rejects(() => assertObject('o', v));
  });

  it('assertOneOf accepts listed values only', () => {
    assertOneOf('mode', 'internet', ['datacenter', 'internet'] as const);
    assertOneOf('n', 2, [1, 2, 3]);
    expect(rejects(() => assertOneOf('mode', 'lan', ['datacenter', 'internet'])).expected).toBe(
      'one of "datacenter", "internet"',
    );
    rejects(() => assertOneOf('n', '2', [1, 2, 3]));
  });

  it('assertBoolean accepts booleans only', () => {
    assertBoolean('b', true);
    assertBoolean('b', false);
    for (const v of [0, 1, 'true', null, undefined]) rejects(() => assertBoolean('b', v));
  });
});
