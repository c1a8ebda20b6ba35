import { CoreErrorCode } from './errors/codes.js';
import { NovacronError } from './errors/novacron-error.js';

/**
 * Small validators for public entry points. Each throws
 * `CORE_INVALID_ARGUMENT` with `details.argument` naming the offending
 * argument, so an embedding application can report exactly what was wrong.
 */

/** Details carried by a `CORE_INVALID_ARGUMENT` error. */
export interface InvalidArgumentDetails {
  readonly [key: string]: unknown;
  /** Name of the argument or field, e.g. `"options.maxFrameSize"`. */
  readonly argument: string;
  /** What was expected, in words. */
  readonly expected: string;
  /** `typeof` the received value (the value itself may be large or secret). */
  readonly received: string;
}

/**
 * Describes a received value for an error message without echoing it
 * (values may be large or secret): its type, or the number itself.
 */
export function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'number' ? `number ${value}` : typeof value;
}

/** Builds the `CORE_INVALID_ARGUMENT` error used by every validator. */
export function invalidArgument(
  argument: string,
  expected: string,
  value: unknown,
): NovacronError<typeof CoreErrorCode.INVALID_ARGUMENT, InvalidArgumentDetails> {
  const received = describeReceived(value);
  return new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `${argument}: expected ${expected}, received ${received}`, {
    details: { argument, expected, received },
  });
}

/** Bounds accepted by {@link assertNumber}. */
export interface NumberBounds {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Require an integer (safe integer range). */
  integer?: boolean;
}

/** Asserts `value` is a finite number within `bounds`. */
export function assertNumber(argument: string, value: unknown, bounds: NumberBounds = {}): asserts value is number {
  const { min, max, integer } = bounds;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!integer || Number.isSafeInteger(value)) &&
    (min === undefined || value >= min) &&
    (max === undefined || value <= max);
  if (!ok) {
    const parts = [integer ? 'an integer' : 'a finite number'];
    if (min !== undefined) parts.push(`>= ${min}`);
    if (max !== undefined) parts.push(`<= ${max}`);
    throw invalidArgument(argument, parts.join(' '), value);
  }
}

/** Asserts `value` is an integer within `bounds`. */
export function assertInteger(
  argument: string,
  value: unknown,
  bounds: Omit<NumberBounds, 'integer'> = {},
): asserts value is number {
  assertNumber(argument, value, { ...bounds, integer: true });
}

/** Asserts `value` is a string, optionally non-empty and at most `maxLength` long. */
export function assertString(
  argument: string,
  value: unknown,
  opts: { nonEmpty?: boolean; maxLength?: number } = {},
): asserts value is string {
  if (
    typeof value !== 'string' ||
    (opts.nonEmpty && value.length === 0) ||
    (opts.maxLength !== undefined && value.length > opts.maxLength)
  ) {
    const expected = `a${opts.nonEmpty ? ' non-empty' : ''} string${opts.maxLength !== undefined ? ` of at most ${opts.maxLength} characters` : ''}`;
    throw invalidArgument(argument, expected, value);
  }
}

/** Asserts `value` is a `Uint8Array` (a Node `Buffer` qualifies), optionally of an exact length. */
export function assertBytes(argument: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || (length !== undefined && value.length !== length)) {
    throw invalidArgument(argument, length === undefined ? 'a Uint8Array' : `a Uint8Array of ${length} bytes`, value);
  }
}

/** Asserts `value` is a non-null, non-array object. */
export function assertObject(argument: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidArgument(argument, 'an object', value);
}

/** Asserts `value` is one of `choices`. */
export function assertOneOf<T extends string | number>(
  argument: string,
  value: unknown,
  choices: readonly T[],
): asserts value is T {
  if (!choices.includes(value as T))
    throw invalidArgument(argument, `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, value);
}

/** Asserts `value` is a boolean. */
export function assertBoolean(argument: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') throw invalidArgument(argument, 'a boolean', value);
}
