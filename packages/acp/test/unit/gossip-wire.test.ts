import { CoreErrorCode, encodeMsgpack, isNovacronError } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SwimWireCodec, gossipItemSize, gossipItemToWire } from '../../src/index.js';
import { item, message } from './gossip-arbitraries.js';

const codec = new SwimWireCodec();
function expectTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!isNovacronError(err) || !String(err.code).startsWith('CORE_MESSAGE_')) throw err;
  }
}

describe('SWIM wire codec', () => {
  it('round-trips every message kind', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(codec.decode(codec.encode(m))).toEqual(m);
      }),
    );
  });

  it('sizes gossip items exactly as they are packed', () => {
    fc.assert(
      fc.property(item, (g) => {
        expect(gossipItemSize(g)).toBe(encodeMsgpack(gossipItemToWire(g)).length);
      }),
    );
  });

  it('turns arbitrary bytes into a typed CORE_MESSAGE_* error, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expectTyped(() => codec.decode(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('survives mutations of valid datagrams', () => {
    fc.assert(
      fc.property(
        message,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (m, flips, cut) => {
          const bytes = codec.encode(m).slice();
          for (const [at, v] of flips) bytes[at % bytes.length] = v;
          expectTyped(() => codec.decode(bytes));
          expectTyped(() => codec.decode(bytes.subarray(0, cut % (bytes.length + 1))));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('rejects well-formed envelopes with hostile bodies as CORE_MESSAGE_INVALID', () => {
    const hostile = fc.oneof(
      fc.anything(),
      fc.record({
        s: fc.anything(),
        t: fc.anything(),
        n: fc.anything(),
        g: fc.array(fc.array(fc.anything(), { maxLength: 6 }), { maxLength: 4 }),
      }),
      fc.record({
        j: fc.anything(),
        r: fc.anything(),
        m: fc.array(fc.array(fc.anything(), { maxLength: 6 })),
        e: fc.anything(),
        l: fc.anything(),
        g: fc.constant([]),
      }),
    );
    const types = ['ping', 'ping-req', 'ack', 'nack', 'gossip', 'push-pull'].map((k) => `acp.swim.${k}`);
    fc.assert(
      fc.property(fc.constantFrom(...types), hostile, (type, body) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeMsgpack([type, 1, body]);
        } catch {
          return; // not encodable (undefined inside arrays, ...): nothing to send
        }
        expectTyped(() => codec.decode(bytes));
      }),
      { numRuns: 2000 },
    );
    const cases: unknown[] = [
      ['acp.swim.ping', 1, { s: -1, t: 'a', g: [] }],
      ['acp.swim.ping', 1, { s: 1, t: '', g: [] }],
      ['acp.swim.ping', 1, { s: 1, t: 'x'.repeat(257), g: [] }],
      ['acp.swim.ack', 1, { s: 1, g: [[9, 'a', 1, 'b']] }],
      ['acp.swim.ack', 1, { s: 1, g: [[0, 'a', 1, 'addr', new Uint8Array(513)]] }],
      ['acp.swim.push-pull', 1, { j: true, r: false, m: [['a', '', 1, 7, new Uint8Array(0)]], e: [], l: 0, g: [] }],
      ['acp.swim.gossip', 1, { g: [[1, 'a', 2 ** 53, 'b']] }],
    ];
    for (const c of cases) {
      try {
        codec.decode(encodeMsgpack(c));
        expect.unreachable('decoded a hostile body');
      } catch (err) {
        expect(isNovacronError(err, CoreErrorCode.MESSAGE_INVALID)).toBe(true);
      }
    }
    try {
      codec.decode(encodeMsgpack(['acp.swim.ping', 2, { s: 1, t: 'a', g: [] }]));
      expect.unreachable();
    } catch (err) {
      expect(isNovacronError(err, CoreErrorCode.MESSAGE_UNSUPPORTED_VERSION)).toBe(true);
    }
  });

  it('copies byte fields out of the datagram', () => {
    const bytes = codec.encode({
      kind: 'gossip',
      gossip: [{ kind: 'alive', id: 'a', incarnation: 1, address: '', meta: new Uint8Array([7]) }],
    });
    const m = codec.decode(bytes);
    bytes.fill(0);
    expect((m.gossip[0] as { meta: Uint8Array }).meta).toEqual(new Uint8Array([7]));
  });
});
