import {
  AMST_VERSION,
  AmstErrorCode,
  LaneDecoder,
  MSG_ACK,
  MSG_DATA,
  MSG_FIN,
  MSG_HELLO,
  MSG_HELLO_ACK,
  MSG_NACK,
  decodeLaneMessage,
  encodeDataHeader,
  encodeLaneMessage,
} from '@novacron/amst';
import { concatBytes, isNovacronError } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });

/** Sorted, disjoint ranges past `from`, derived from the drawn numbers. */
function held(from: number, seed: number): { offset: number; length: number }[] {
  const out: { offset: number; length: number }[] = [];
  let at = from;
  for (let i = 0; i < seed % 5 && at < 2 ** 52; i++) {
    at += 1 + ((seed >>> (i * 3)) % 1000);
    const length = 1 + ((seed >>> i) % 70000);
    out.push({ offset: at, length });
    at += length;
  }
  return out;
}

describe('lane wire', () => {
  it('round-trips control messages and DATA through a decoder fed in random splits', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        u64,
        u32,
        u32,
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (id, big, seq, crc, payload, cuts) => {
          const msgs = [
            encodeLaneMessage({
              type: MSG_HELLO,
              version: AMST_VERSION,
              transferId: id,
              resume: true,
              totalSize: big,
              chunkSize: 65536,
              lane: 3,
            }),
            encodeLaneMessage({
              type: MSG_HELLO_ACK,
              transferId: id,
              deliveredOffset: big,
              windowBytes: seq,
              held: held(big, seq),
            }),
            encodeLaneMessage({ type: MSG_ACK, seq, deliveredOffset: big }),
            encodeLaneMessage({ type: MSG_NACK, seq, reason: 1 }),
            encodeLaneMessage({ type: MSG_FIN, totalSize: big }),
            concatBytes([
              encodeDataHeader(seq, big, payload.length, new TextEncoder().encode('zstd-3'), crc, payload.length),
              payload,
            ]),
          ];
          const stream = concatBytes(msgs);
          const decoder = new LaneDecoder(1 << 20);
          const bodies: Uint8Array[] = [];
          let off = 0;
          for (let i = 0; off < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            bodies.push(...decoder.push(stream.subarray(off, off + n)));
            off += n;
          }
          expect(decoder.clean).toBe(true);
          const decoded = bodies.map(decodeLaneMessage);
          expect(decoded.map((m) => m.type)).toEqual([1, 2, 4, 5, 6, 3]);
          expect(decoded[1]).toMatchObject({ deliveredOffset: big, windowBytes: seq, held: held(big, seq) });
          const data = decoded[5]!;
          if (data.type !== MSG_DATA) throw new Error('not data');
          expect(data).toMatchObject({ seq, offset: big, rawLength: payload.length, codec: 'zstd-3', checksum: crc });
          expect(data.data).toEqual(payload);
        },
      ),
    );
  });

  it('decodes arbitrary bodies into a message or AMST_FRAME_INVALID, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 12 }), (bytes, type) => {
        const body = bytes.length > 0 ? Uint8Array.of(type, ...bytes.subarray(1)) : bytes;
        try {
          decodeLaneMessage(body);
        } catch (err) {
          expect(isNovacronError(err, AmstErrorCode.FRAME_INVALID)).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses HELLO_ACK held ranges that overlap, go backwards or are empty', () => {
    const id = new Uint8Array(16);
    const bad = [
      [
        { offset: 100, length: 10 },
        { offset: 105, length: 10 },
      ],
      [{ offset: 5, length: 10 }], // before the delivered offset (10)
      [{ offset: 20, length: 0 }],
    ];
    for (const ranges of bad) {
      const bytes = encodeLaneMessage({
        type: MSG_HELLO_ACK,
        transferId: id,
        deliveredOffset: 10,
        windowBytes: 1,
        held: ranges,
      });
      expect(() => decodeLaneMessage(bytes.subarray(4))).toThrow(
        expect.objectContaining({ code: 'AMST_FRAME_INVALID' }),
      );
    }
  });

  it('rejects a length prefix over the limit before buffering the body', () => {
    const d = new LaneDecoder(1000);
    expect(() => d.push(Uint8Array.of(0, 0, 0x10, 0))).toThrow(expect.objectContaining({ code: 'AMST_FRAME_INVALID' }));
  });
});
