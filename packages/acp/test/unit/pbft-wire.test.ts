import { CoreErrorCode, encodeMsgpack, isNovacronError, seededRng } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type MacPayload,
  PBFT_MAC_MESSAGE,
  PbftErrorCode,
  PbftKeyring,
  PbftWire,
  type SignedPayload,
} from '../../src/index.js';
import { identities, roster } from './pbft-fixtures.js';

const ids = identities(seededRng('pbft-wire'), 5);
const replicas = roster(ids.slice(0, 4));
const [a, b, c, d] = ids.map((i) => i.nodeId);
const outsider = ids[4]!;
const wireA = new PbftWire(new PbftKeyring(ids[0]!, replicas));
const wireB = new PbftWire(new PbftKeyring(ids[1]!, replicas));
const others = [b!, c!, d!];
const digest = new Uint8Array(32).fill(7);

const macPayloads: MacPayload[] = [
  { k: 'pp', v: 0, n: 1, d: digest, i: a!, b: [] },
  { k: 'p', v: 3, n: 9, d: digest, i: a! },
  { k: 'c', v: 3, n: 9, d: digest, i: a! },
  { k: 'st', v: 1, h: 8, e: 12, c: false, i: a! },
  { k: 'fs', n: 16, i: a! },
  { k: 'ss', n: 16, s: new Uint8Array([1, 2, 3]), i: a! },
];
const signedPayloads: SignedPayload[] = [
  { k: 'ck', n: 16, d: digest, i: a! },
  { k: 'vc', v: 2, h: 0, C: [], P: [[3, digest, 1]], Q: [[3, digest, 1]], B: [], i: a! },
  { k: 'nv', v: 4, V: [], i: a! },
];

/** Asserts that decoding `bytes` either throws a typed error or yields the expected payload. */
function expectTypedOrEqual(wire: PbftWire, bytes: Uint8Array, original?: Uint8Array): void {
  try {
    const env = wire.decode(bytes);
    if (original === undefined) throw new Error('hostile bytes decoded as an authentic message');
    expect(Buffer.from(env.bytes).equals(Buffer.from(original))).toBe(true);
  } catch (err) {
    if (!isNovacronError(err)) throw err;
  }
}

describe('PBFT wire', () => {
  it('round-trips MAC-authenticated and signed messages', () => {
    for (const p of macPayloads) {
      const env = wireB.decode(wireA.encodeMac(p, others));
      expect(env.payload).toEqual(p);
    }
    for (const p of signedPayloads) {
      const { bytes, signed } = wireA.encodeSigned(p);
      const env = wireB.decode(bytes);
      expect(env.payload).toEqual(p);
      expect(env.signed).toEqual(signed);
    }
  });

  it('refuses a bad MAC, a forged sender, a missing entry and a forged signature', () => {
    const good = wireA.encodeMac({ k: 'p', v: 0, n: 1, d: digest, i: a! }, [b!]);
    expect(wireB.decode(good).payload.k).toBe('p');
    const flipped = Uint8Array.from(good);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => wireB.decode(flipped)).toThrow(expect.objectContaining({ code: PbftErrorCode.AUTH_INVALID }));
    const forged = wireA.encodeMac({ k: 'p', v: 0, n: 1, d: digest, i: c! }, others);
    expect(() => wireB.decode(forged)).toThrow(expect.objectContaining({ code: PbftErrorCode.AUTH_INVALID }));
    const notForB = wireA.encodeMac({ k: 'p', v: 0, n: 1, d: digest, i: a! }, [c!, d!]);
    expect(() => wireB.decode(notForB)).toThrow(expect.objectContaining({ code: PbftErrorCode.AUTH_INVALID }));
    const outsiderWire = new PbftWire(new PbftKeyring(outsider, replicas));
    const byOutsider = outsiderWire.encodeSigned({ k: 'ck', n: 8, d: digest, i: outsider.nodeId }).bytes;
    expect(() => wireB.decode(byOutsider)).toThrow(expect.objectContaining({ code: PbftErrorCode.AUTH_INVALID }));
    const impersonating = outsiderWire.encodeSigned({ k: 'ck', n: 8, d: digest, i: a! }).bytes;
    expect(() => wireB.decode(impersonating)).toThrow(expect.objectContaining({ code: PbftErrorCode.AUTH_INVALID }));
    // A signed kind carried with a MAC (or the reverse) is refused whatever its authenticator.
    const macCarried = new PbftWire(new PbftKeyring(ids[0]!, replicas)).encodeMac(
      { k: 'ck', n: 8, d: digest, i: a! } as unknown as MacPayload,
      others,
    );
    expect(() => wireB.decode(macCarried)).toThrow(expect.objectContaining({ code: PbftErrorCode.AUTH_INVALID }));
  });

  it('refuses payload bytes that are not canonical', () => {
    // Keys out of order: same value, other bytes, so a MAC over them must not count.
    const payload = encodeMsgpack({ v: 0, k: 'p', n: 1, d: digest, i: a! });
    const keys = new PbftKeyring(ids[0]!, replicas);
    const codec = wireA as unknown as { encodeMacRaw(p: Uint8Array, auth: [string, Uint8Array][]): Uint8Array };
    const bytes = codec.encodeMacRaw(payload, keys.authenticator(others, payload));
    expect(() => wireB.decode(bytes)).toThrow(expect.objectContaining({ code: CoreErrorCode.CANONICAL_MISMATCH }));
  });

  it('turns hostile bytes into typed errors (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => expectTypedOrEqual(wireB, bytes)),
      { numRuns: 2_000 },
    );
  });

  it('turns hostile envelopes and payloads into typed errors (fuzz)', () => {
    const value = fc.anything({ maxDepth: 4, withTypedArray: true, withMap: false, withSet: false });
    fc.assert(
      fc.property(
        fc.constantFrom('acp.pbft.mac', 'acp.pbft.signed', 'acp.pbft.other'),
        fc.integer({ min: 0, max: 3 }),
        value,
        value,
        (type, version, body, payload) => {
          let payloadBytes: Uint8Array;
          try {
            payloadBytes = encodeMsgpack(payload);
          } catch {
            return;
          }
          for (const candidate of [
            body,
            { p: payloadBytes, a: [[b!, new Uint8Array(16)]] },
            { p: payloadBytes, s: new Uint8Array(64) },
          ]) {
            let bytes: Uint8Array;
            try {
              bytes = encodeMsgpack([type, version, candidate]);
            } catch {
              continue;
            }
            expectTypedOrEqual(wireB, bytes);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('a mutated authentic message decodes to the original payload or fails typed (fuzz)', () => {
    const all = [
      ...macPayloads.map((p) => ({ bytes: wireA.encodeMac(p, others), payload: PbftWire.payloadBytes(p) })),
      ...signedPayloads.map((p) => ({ bytes: wireA.encodeSigned(p).bytes, payload: PbftWire.payloadBytes(p) })),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (m, flips) => {
          const copy = Uint8Array.from(m.bytes);
          for (const [at, x] of flips) copy[at % copy.length]! ^= x;
          expectTypedOrEqual(wireB, copy, m.payload);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('the MAC envelope definition rejects bodies of the wrong shape', () => {
    expect(() => PBFT_MAC_MESSAGE.validate({ p: new Uint8Array(1) }, 1)).toThrow();
    expect(() => PBFT_MAC_MESSAGE.validate({ p: new Uint8Array(1), a: [['x', 1]] }, 1)).toThrow();
  });
});
