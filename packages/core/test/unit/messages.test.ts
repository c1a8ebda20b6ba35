import {
  CoreErrorCode,
  MessageCodec,
  assertObject,
  concatBytes,
  decodeMsgpack,
  defineMessage,
  encodeCanonical,
  encodeMsgpack,
  fromHex,
  isCanonical,
  isNovacronError,
  toHex,
} from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wireValue } from './wire-arbitraries.js';

function thrown(fn: () => unknown): { code: string; details: Record<string, unknown>; cause?: unknown } {
  try {
    fn();
  } catch (err) {
    if (isNovacronError(err)) return err as unknown as { code: string; details: Record<string, unknown> };
    throw err;
  }
  throw new Error('expected a NovacronError, nothing was thrown');
}

/** Random single-byte overwrites, insertions and cuts of valid encodings, to reach deep decoder paths. */
const mutatedEncoding = fc
  .tuple(
    wireValue,
    fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'insert', 'cut')), { maxLength: 3 }),
  )
  .map(([value, edits]) => {
    let bytes = encodeMsgpack(value);
    for (const [at, byte, kind] of edits) {
      const i = bytes.length === 0 ? 0 : at % bytes.length;
      if (kind === 'set') bytes[i] = byte;
      else if (kind === 'insert')
        bytes = concatBytes([bytes.subarray(0, i), new Uint8Array([byte]), bytes.subarray(i)]);
      else bytes = bytes.slice(0, i);
    }
    return bytes;
  });

const hostileBytes = fc.oneof(fc.uint8Array({ maxLength: 48 }), mutatedEncoding);

describe('encodeMsgpack / decodeMsgpack', () => {
  it('round-trips every value of the wire model', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        expect(decodeMsgpack(encodeMsgpack(value))).toEqual(value);
      }),
      { numRuns: 1000 },
    );
  });

  it('encodes integers in their smallest form and other numbers as float64', () => {
    expect(toHex(encodeMsgpack(5))).toBe('05');
    expect(toHex(encodeMsgpack(-0))).toBe('00');
    expect(toHex(encodeMsgpack(300))).toBe('cd012c');
    expect(toHex(encodeMsgpack(-200))).toBe('d1ff38');
    expect(toHex(encodeMsgpack(2 ** 40))).toBe('cf0000010000000000');
    expect(toHex(encodeMsgpack(0.5))).toBe('cb3fe0000000000000');
    expect(toHex(encodeMsgpack(5n))).toBe('05');
    expect(decodeMsgpack(encodeMsgpack(2 ** 53))).toBe(2 ** 53);
  });

  it('keeps key insertion order, omits undefined properties, encodes Map as a map', () => {
    expect(toHex(encodeMsgpack({ b: 1, a: 2, c: undefined }))).toBe('82a16201a16102');
    expect(
      encodeMsgpack(
        new Map<string, unknown>([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toEqual(fromHex('82a16201a16102'));
    expect(decodeMsgpack(encodeMsgpack(new Map([['k', [1, 2]]])))).toEqual({ k: [1, 2] });
  });

  it('decodes 64-bit integers as numbers when safe, as bigints otherwise', () => {
    expect(decodeMsgpack(fromHex('cf0000000000000005'))).toBe(5);
    expect(decodeMsgpack(fromHex('d3fffffffffffffffb'))).toBe(-5);
    expect(decodeMsgpack(fromHex('cfffffffffffffffff'))).toBe(2n ** 64n - 1n);
    expect(decodeMsgpack(fromHex('91d38000000000000000'))).toEqual([-(2n ** 63n)]);
    expect(decodeMsgpack(fromHex('ca3fc00000'))).toBe(1.5); // float32 is accepted on input
  });

  it('rejects values outside the model with CORE_INVALID_ARGUMENT naming the path', () => {
    const cases: [unknown, string][] = [
      [undefined, 'value'],
      [{ a: [1, undefined] }, 'value at $.a[1]'],
      [{ f: () => 1 }, 'value at $.f'],
      [[Symbol('s')], 'value at $[0]'],
      [new Date(0), 'value'],
      [new Int16Array(2), 'value'],
      [2n ** 64n, 'value'],
      [-(2n ** 63n) - 1n, 'value'],
      [{ 'odd key': '\ud800' }, 'value at $["odd key"]'],
      [new Map([[1, 'x']]), 'value'],
      [JSON.parse('{"__proto__": 1}'), 'value'],
    ];
    for (const [value, argument] of cases) {
      const err = thrown(() => encodeMsgpack(value));
      expect(err.code).toBe(CoreErrorCode.INVALID_ARGUMENT);
      expect(err.details.argument).toBe(argument);
    }
  });

  it('limits nesting on encode (cycles fail fast) and decode alike', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 64; i++) deep = [deep];
    expect(decodeMsgpack(encodeMsgpack(deep))).toEqual(deep);
    expect(thrown(() => encodeMsgpack([deep])).code).toBe(CoreErrorCode.INVALID_ARGUMENT);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(thrown(() => encodeMsgpack(cyclic)).code).toBe(CoreErrorCode.INVALID_ARGUMENT);
    expect(decodeMsgpack(encodeMsgpack([deep], { maxDepth: 65 }), { maxDepth: 65 })).toEqual([deep]);
  });

  it('on arbitrary bytes returns a value of the model or throws CORE_MESSAGE_MALFORMED', () => {
    fc.assert(
      fc.property(hostileBytes, (bytes) => {
        let value: unknown;
        try {
          value = decodeMsgpack(bytes);
        } catch (err) {
          if (!isNovacronError(err)) throw err;
          expect(err.code).toBe(CoreErrorCode.MESSAGE_MALFORMED);
          return;
        }
        // Whatever decodes is inside the model: it re-encodes and decodes back to itself.
        expect(decodeMsgpack(encodeMsgpack(value))).toEqual(value);
      }),
      { numRuns: 4000 },
    );
  });

  it('rejects a nesting bomb after reading only the first levels', () => {
    for (const head of [0x91, 0x81]) {
      const bomb = new Uint8Array(999_999).fill(head);
      if (head === 0x81) for (let i = 0; i < bomb.length; i += 3) bomb.set([0x81, 0xa1, 0x6b], i);
      const err = thrown(() => decodeMsgpack(bomb));
      expect(err.code).toBe(CoreErrorCode.MESSAGE_MALFORMED);
      expect(err.details.reason).toBe('too-deep');
      expect(err.details.offset).toBeLessThan(64 * 3 + 3);
    }
  });

  it('rejects huge declared lengths before allocating', () => {
    for (const hex of ['ddffffffff', 'dfffffffff', 'dbffffffff', 'c6ffffffff', 'dcffff', 'deffff', 'da0100']) {
      const err = thrown(() => decodeMsgpack(fromHex(hex)));
      expect(err.code).toBe(CoreErrorCode.MESSAGE_MALFORMED);
      // The declared length cannot fit in what remains of the input.
      expect(err.details).toMatchObject({ reason: 'truncated', offset: hex.length / 2 });
    }
    expect(thrown(() => decodeMsgpack(fromHex('ddffffffff'), { maxArrayLength: 1000 })).details).toMatchObject({
      reason: 'too-long',
      limit: 1000,
    });
    // Within the input but over a caller's limit.
    const err = thrown(() => decodeMsgpack(encodeMsgpack('x'.repeat(100)), { maxStrLength: 99 }));
    expect(err.details).toMatchObject({ reason: 'too-long', limit: 99 });
    expect(thrown(() => decodeMsgpack(encodeMsgpack([1, 2, 3]), { maxArrayLength: 2 })).details.reason).toBe(
      'too-long',
    );
  });

  it('names the reason for each kind of malformed input', () => {
    const cases: [string, string][] = [
      ['', 'empty'],
      ['92', 'truncated'],
      ['a3616263ff', 'trailing-bytes'],
      ['c1', 'reserved-byte'],
      ['d40100', 'extension-type'],
      ['d6ff00000000', 'extension-type'],
      ['a2c328', 'invalid-utf8'],
      ['a3eda080', 'invalid-utf8'], // an encoded surrogate is not UTF-8
      ['810102', 'map-key-not-string'],
      ['82a16101a16102', 'duplicate-map-key'],
      ['81a95f5f70726f746f5f5f01', 'forbidden-map-key'],
    ];
    for (const [hex, reason] of cases) {
      const err = thrown(() => decodeMsgpack(fromHex(hex)));
      expect(err.code, hex).toBe(CoreErrorCode.MESSAGE_MALFORMED);
      expect(err.details.reason, hex).toBe(reason);
    }
    expect(thrown(() => decodeMsgpack(new Uint8Array(1), { maxDepth: -1 })).code).toBe(CoreErrorCode.INVALID_ARGUMENT);
  });
});

interface Ping {
  seq: number;
}
interface Put {
  key: string;
  value: Uint8Array;
}

const PingV2 = defineMessage({
  type: 'test.ping',
  version: 2,
  minVersion: 1,
  validate: (body, version): Ping => {
    // v1 carried the sequence number bare; v2 wraps it in an object.
    if (version === 1) {
      if (typeof body !== 'number') throw new TypeError('v1 ping body must be a number');
      return { seq: body };
    }
    assertObject('body', body);
    if (typeof body.seq !== 'number') throw new TypeError('seq must be a number');
    return { seq: body.seq };
  },
});

const Put = defineMessage({
  type: 'test.put',
  version: 1,
  validate: (body): Put => {
    assertObject('body', body);
    if (typeof body.key !== 'string' || !(body.value instanceof Uint8Array)) throw 'bad put'; // a non-Error throw
    return { key: body.key, value: body.value };
  },
});

const Anything = defineMessage({ type: 'test.any', version: 1, validate: (body) => body });

describe('MessageCodec', () => {
  const codec = new MessageCodec([PingV2, Put, Anything]);

  it('round-trips messages and narrows the body by type', () => {
    const decoded = codec.decode(codec.encode(Put, { key: 'k', value: new Uint8Array([1, 2]) }));
    expect(decoded).toEqual({ type: 'test.put', version: 1, body: { key: 'k', value: new Uint8Array([1, 2]) } });
    if (decoded.type === 'test.put') {
      const key: string = decoded.body.key; // compile-time check of the discriminated union
      expect(key).toBe('k');
    }
    expect(toHex(codec.encode(PingV2, { seq: 7 }))).toBe('93a9746573742e70696e670281a373657107');
    expect(codec.types).toEqual(['test.ping', 'test.put', 'test.any']);
  });

  it('round-trips any body of the wire model', () => {
    fc.assert(
      fc.property(wireValue, (body) => {
        expect(codec.decode(codec.encode(Anything, body))).toEqual({ type: 'test.any', version: 1, body });
      }),
      { numRuns: 500 },
    );
  });

  it('encodes an older version on request and upgrades it on decode', () => {
    const bytes = codec.encode(PingV2, 5 as unknown as Ping, { version: 1 });
    expect(codec.decode(bytes)).toEqual({ type: 'test.ping', version: 1, body: { seq: 5 } });
    expect(thrown(() => codec.encode(PingV2, { seq: 1 }, { version: 3 })).code).toBe(CoreErrorCode.INVALID_ARGUMENT);
  });

  it('encodes canonically on request', () => {
    const bytes = codec.encode(Anything, { z: 1, a: [true] }, { canonical: true });
    expect(bytes).toEqual(encodeCanonical(['test.any', 1, { a: [true], z: 1 }]));
    expect(isCanonical(bytes)).toBe(true);
  });

  it('rejects an unknown type', () => {
    const err = thrown(() => codec.decode(encodeMsgpack(['test.nope', 1, null])));
    expect(err.code).toBe(CoreErrorCode.MESSAGE_UNKNOWN_TYPE);
    expect(err.details).toEqual({ type: 'test.nope', version: 1 });
    const long = thrown(() => codec.decode(encodeMsgpack(['x'.repeat(10_000), 1, null])));
    expect((long.details.type as string).length).toBe(128);
  });

  it('rejects versions outside [minVersion, version]', () => {
    for (const version of [0, 3, 1000]) {
      const err = thrown(() => codec.decode(encodeMsgpack(['test.ping', version, { seq: 1 }])));
      expect(err.code).toBe(CoreErrorCode.MESSAGE_UNSUPPORTED_VERSION);
      expect(err.details).toEqual({ type: 'test.ping', version, minVersion: 1, maxVersion: 2 });
    }
  });

  it('wraps any validator failure as CORE_MESSAGE_INVALID with the cause', () => {
    const err = thrown(() => codec.decode(encodeMsgpack(['test.ping', 2, { seq: 'one' }])));
    expect(err.code).toBe(CoreErrorCode.MESSAGE_INVALID);
    expect(err.cause).toBeInstanceOf(TypeError);
    expect(err.details).toEqual({ type: 'test.ping', version: 2, reason: 'seq must be a number' });
    const nonError = thrown(() => codec.decode(encodeMsgpack(['test.put', 1, {}])));
    expect(nonError.code).toBe(CoreErrorCode.MESSAGE_INVALID);
    expect(nonError.cause).toBe('bad put');
  });

  it('rejects envelopes of the wrong shape as CORE_MESSAGE_MALFORMED', () => {
    for (const envelope of [
      { type: 'test.any' },
      ['test.any', 1],
      ['test.any', 1, null, null],
      [1, 1, null],
      ['', 1, null],
      ['test.any', 1.5, null],
      ['test.any', -1, null],
      ['test.any', '1', null],
    ]) {
      const err = thrown(() => codec.decode(encodeMsgpack(envelope)));
      expect(err.code).toBe(CoreErrorCode.MESSAGE_MALFORMED);
      expect(err.details.reason).toBe('envelope');
    }
  });

  it('on arbitrary bytes returns a message or throws a CORE_MESSAGE_* error', () => {
    const messageCodes: string[] = [
      CoreErrorCode.MESSAGE_MALFORMED,
      CoreErrorCode.MESSAGE_UNKNOWN_TYPE,
      CoreErrorCode.MESSAGE_UNSUPPORTED_VERSION,
      CoreErrorCode.MESSAGE_INVALID,
    ];
    const envelopeLike = fc
      .tuple(fc.constantFrom('test.ping', 'test.put', 'test.any', 'other'), fc.integer({ min: -1, max: 4 }), wireValue)
      .map((e) => encodeMsgpack(e));
    fc.assert(
      fc.property(fc.oneof(hostileBytes, envelopeLike), (bytes) => {
        try {
          const message = codec.decode(bytes);
          expect(['test.ping', 'test.put', 'test.any']).toContain(message.type);
        } catch (err) {
          if (!isNovacronError(err)) throw err;
          expect(messageCodes).toContain(err.code);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('validates definitions, registrations and options', () => {
    const noop = (b: unknown) => b;
    expect(thrown(() => defineMessage({ type: '', version: 1, validate: noop })).code).toBe(
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expect(thrown(() => defineMessage({ type: 'a', version: 0, validate: noop })).code).toBe(
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expect(thrown(() => defineMessage({ type: 'a', version: 2, minVersion: 3, validate: noop })).code).toBe(
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expect(defineMessage({ type: 'a', version: 3, validate: noop }).minVersion).toBe(3);
    expect(thrown(() => new MessageCodec([Put, Put])).code).toBe(CoreErrorCode.INVALID_ARGUMENT);
    const other = defineMessage({ type: 'test.put', version: 1, validate: noop });
    expect(thrown(() => codec.encode(other as typeof Put, { key: 'k', value: new Uint8Array() })).code).toBe(
      CoreErrorCode.INVALID_ARGUMENT,
    );
    expect(thrown(() => new MessageCodec([Put], { limits: { maxDepth: -2 } })).code).toBe(
      CoreErrorCode.INVALID_ARGUMENT,
    );
  });

  it('validates bodies before encoding when asked to', () => {
    const strict = new MessageCodec([Put], { validateOnEncode: true });
    expect(thrown(() => strict.encode(Put, { key: 1 } as unknown as Put)).code).toBe(CoreErrorCode.MESSAGE_INVALID);
    expect(codec.encode(Put, { key: 1 } as unknown as Put)).toBeInstanceOf(Uint8Array);
  });

  it('applies its decode limits', () => {
    const tight = new MessageCodec([Anything], { limits: { maxBinLength: 4 } });
    const bytes = tight.encode(Anything, new Uint8Array(5));
    expect(thrown(() => tight.decode(bytes)).details).toMatchObject({ reason: 'too-long', limit: 4 });
  });
});
