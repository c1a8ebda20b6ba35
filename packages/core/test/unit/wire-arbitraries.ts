import fc from 'fast-check';

/**
 * fast-check arbitraries for the wire value model (see
 * docs/protocol/messages.md), shared by the msgpack, message and canonical
 * tests. Values are generated in the form the decoder returns them, so a
 * round trip must give back a deep-equal value: no `-0` (decodes as 0), no
 * bigints in the safe-integer range (decode as numbers), no `undefined`, no
 * `__proto__` key, only Object-prototype objects.
 */

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Strings of any Unicode code points (no lone surrogates), often non-ASCII. */
export const wireString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ minLength: 30, maxLength: 300 }),
);

/** Map keys: like strings, minus `__proto__` which decoders refuse. */
export const wireKey = wireString.filter((k) => k !== '__proto__');

const integer = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -32, -33, -128, -129, -32768, -32769),
);

const double = fc.double().map((d) => (Object.is(d, -0) ? 0 : d));

/** Bigints the decoder returns as bigints: within int64/uint64 but outside the safe-integer range. */
const wideBigInt = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).filter((b) => b < SAFE_MIN || b > SAFE_MAX);

/** Scalars of the wire model. */
export const wireScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  integer,
  double,
  wideBigInt,
  wireString,
  fc.uint8Array({ maxLength: 40 }),
);

/** Any value of the wire model, nested a few levels. */
export const wireValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    wireScalar,
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(wireKey, tie('value'), { maxKeys: 6, noNullPrototype: true }),
  ),
})).value;

/** Like {@link wireValue} but without NaN, which has no canonical encoding. */
export const canonicalValue: fc.Arbitrary<unknown> = wireValue.filter((v) => !containsNaN(v));

function containsNaN(value: unknown): boolean {
  if (typeof value === 'number') return Number.isNaN(value);
  if (Array.isArray(value)) return value.some(containsNaN);
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.values(value).some(containsNaN);
  }
  return false;
}
