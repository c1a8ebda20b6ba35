import { CoreErrorCode, encodeMsgpack, isNovacronError } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { message, type RaftMessageKind, RaftWireCodec } from '../../src/index.js';

const kinds: RaftMessageKind[] = [
  'prevote',
  'prevote-resp',
  'vote',
  'vote-resp',
  'append',
  'append-resp',
  'heartbeat',
  'heartbeat-resp',
  'timeout-now',
  'read-index',
  'read-index-resp',
];
const codec = new RaftWireCodec();
const index = fc.integer({ min: 0, max: 2 ** 40 });

describe('Raft wire codec', () => {
  it('round-trips every message kind', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...kinds),
        index,
        index,
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
        fc.boolean(),
        (kind, term, prev, datas, flag) => {
          const m = message({
            kind,
            from: 'a',
            to: 'b',
            term,
            index: prev,
            logTerm: term,
            entries: datas.map((data, i) => ({ index: prev + 1 + i, term, data })),
            commit: prev,
            reject: flag,
            hint: prev,
            ctx: 7,
            transfer: !flag,
          });
          const back = codec.decode(codec.encode(m), 'a', 'b');
          expect(back).toEqual(m);
        },
      ),
    );
  });

  it('turns arbitrary bytes into a typed error, never a crash', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          codec.decode(bytes, 'x', 'y');
        } catch (err) {
          expect(isNovacronError(err)).toBe(true);
        }
      }),
    );
  });

  it('rejects well-formed envelopes with bad bodies as CORE_MESSAGE_INVALID', () => {
    const bad = [
      { t: -1, i: 0, l: 0, e: [], c: 0, r: false, h: 0, x: 0, v: false },
      {
        t: 1,
        i: 0,
        l: 0,
        e: [
          [2, 1, new Uint8Array(1)],
          [4, 1, new Uint8Array(1)],
        ],
        c: 0,
        r: false,
        h: 0,
        x: 0,
        v: false,
      },
      { t: 1, i: 0, l: 0, e: [[1, 1, 'text']], c: 0, r: false, h: 0, x: 0, v: false },
      { t: 1, i: 0, l: 0, e: {}, c: 0, r: false, h: 0, x: 0, v: false },
      { t: 1.5, i: 0, l: 0, e: [], c: 0, r: false, h: 0, x: 0, v: false },
    ];
    for (const body of bad) {
      const bytes = encodeMsgpack(['acp.raft.append', 1, body]);
      expect(() => codec.decode(bytes, 'x', 'y')).toThrow(
        expect.objectContaining({ code: CoreErrorCode.MESSAGE_INVALID }),
      );
    }
    expect(() => codec.decode(encodeMsgpack(['acp.raft.append', 2, {}]), 'x', 'y')).toThrow(
      expect.objectContaining({ code: CoreErrorCode.MESSAGE_UNSUPPORTED_VERSION }),
    );
  });
});
