import {
  AmstErrorCode,
  MAX_NAME_BYTES,
  decodeDatagram,
  decodePeerFrame,
  encodeDatagram,
  encodeHello,
  encodeMessage,
  nameBytes,
} from '@novacron/amst';
import { CoreErrorCode, isNovacronError } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const name = fc.string({ maxLength: 60 });
const isTyped = (err: unknown) => isNovacronError(err, AmstErrorCode.FRAME_INVALID);

describe('peer wire', () => {
  it('round-trips hello, message and datagram', () => {
    fc.assert(
      fc.property(name, name, fc.uint8Array({ maxLength: 300 }), (id, channel, data) => {
        expect(decodePeerFrame(encodeHello(nameBytes('id', id)))).toEqual({ kind: 'hello', id });
        const m = decodePeerFrame(encodeMessage(nameBytes('c', channel), data));
        expect(m).toEqual({ kind: 'message', channel, data });
        const d = decodeDatagram(encodeDatagram(nameBytes('id', id), nameBytes('c', channel), data));
        expect(d).toEqual({ from: id, channel, data });
      }),
    );
  });

  it('rejects arbitrary bytes with AMST_FRAME_INVALID or decodes them, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        for (const decode of [decodePeerFrame, decodeDatagram]) {
          try {
            decode(bytes);
          } catch (err) {
            expect(isTyped(err)).toBe(true);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects names over 255 UTF-8 bytes with CORE_INVALID_ARGUMENT', () => {
    expect(() => nameBytes('channel', 'é'.repeat(MAX_NAME_BYTES))).toThrow(
      expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }),
    );
  });
});
