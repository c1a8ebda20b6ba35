import { isNovacronError } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NodeErrorCode } from '../../src/errors.js';
import {
  encodeEnd,
  encodeHeader,
  encodeMissing,
  encodePagesRecord,
  MIGRATION_WIRE_VERSION,
  MigrationStreamDecoder,
  type StreamHeader,
} from '../../src/migration/migration-wire.js';
import { decodeBatch, PageBatchEncoder } from '../../src/migration/page-batch-codec.js';

const header = (o: Partial<StreamHeader> = {}): StreamHeader => ({
  v: MIGRATION_WIRE_VERSION,
  migrationId: 'm1',
  vmId: 'vm1',
  kind: 'precopy',
  round: 1,
  source: 'a',
  spec: { id: 'vm1', resources: { cpuMillis: 1000, memoryBytes: 64 * 4096 } },
  pageSize: 4096,
  pageCount: 64,
  ...o,
});

const corrupt = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return isNovacronError(err, NodeErrorCode.MIGRATION_FRAME_CORRUPT);
  }
  return false;
};

describe('migration stream records', () => {
  it('round-trips a stream fed in arbitrary slices, with hde delta against the destination copy', async () => {
    await PageBatchEncoder.ready();
    const enc = new PageBatchEncoder({ pageSize: 4096, codec: 'zstd-1', mode: 'hybrid' });
    const pages = Uint32Array.from([1, 5, 9]);
    const v1 = new Uint8Array(3 * 4096).map((_, i) => (i * 7) & 0xff);
    const first = enc.encode(pages, v1);
    const v2 = v1.slice();
    v2[10] = 1; // a small change: XBZRLE against the baseline
    const second = enc.encode(pages, v2);
    expect(second.stats.xor + second.stats.same).toBe(3);
    expect(second.record.payload.length).toBeLessThan(first.record.payload.length);
    const bytes = Buffer.concat([
      encodeHeader(header({ kind: 'postcopy-switch' })),
      encodeMissing(Uint32Array.from([3, 4])),
      encodePagesRecord(second.record),
      encodeEnd({ pages: 3, rawBytes: v2.length }),
    ]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: bytes.length }), { maxLength: 8 }), async (cuts) => {
        const d = new MigrationStreamDecoder();
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const recs = [];
        let at = 0;
        for (const p of [...points, bytes.length]) {
          recs.push(...d.push(bytes.subarray(at, p)));
          at = p;
        }
        d.finish();
        expect(recs.map((r) => r.type)).toEqual([1, 3, 2, 4]);
        const batch = recs[2]!.type === 2 ? recs[2]!.batch : undefined;
        expect(Buffer.from(decodeBatch(batch!, v1, 4096)).equals(Buffer.from(v2))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a batch that does not match what the destination holds (checksum), typed', async () => {
    await PageBatchEncoder.ready();
    const enc = new PageBatchEncoder({ pageSize: 4096, codec: 'none', mode: 'datacenter' });
    const pages = Uint32Array.from([0]);
    enc.encode(pages, new Uint8Array(4096).fill(3));
    const next = new Uint8Array(4096).fill(3);
    next[0] = 4;
    const rec = enc.encode(pages, next).record;
    // The destination holds something else than the source believes.
    expect(corrupt(() => decodeBatch(rec, new Uint8Array(4096).fill(9), 4096))).toBe(true);
  });

  it('refuses out-of-order, oversized, out-of-range and malformed records with NODE_MIGRATION_FRAME_CORRUPT', () => {
    const h = encodeHeader(header());
    expect(corrupt(() => new MigrationStreamDecoder().push(encodeEnd({ pages: 0, rawBytes: 0 })))).toBe(true);
    expect(corrupt(() => new MigrationStreamDecoder().push(Buffer.concat([h, h])))).toBe(true);
    expect(corrupt(() => new MigrationStreamDecoder().push(Uint8Array.from([2, 0xff, 0xff, 0xff, 0xff])))).toBe(true);
    expect(corrupt(() => new MigrationStreamDecoder().push(Uint8Array.from([9, 0, 0, 0, 0])))).toBe(true);
    const far = encodePagesRecord({ pages: Uint32Array.from([64]), checksum: 0, payload: new Uint8Array(0) });
    expect(corrupt(() => new MigrationStreamDecoder().push(Buffer.concat([h, far])))).toBe(true);
    expect(
      corrupt(() => new MigrationStreamDecoder().push(Buffer.concat([h, encodeMissing(Uint32Array.from([1]))]))),
    ).toBe(true);
    expect(corrupt(() => new MigrationStreamDecoder().push(encodeHeader(header({ pageCount: 65 }))))).toBe(true);
    const d = new MigrationStreamDecoder();
    d.push(h);
    expect(corrupt(() => d.finish())).toBe(true);
    const e = new MigrationStreamDecoder();
    expect(corrupt(() => e.push(Buffer.concat([h, encodeEnd({ pages: 0, rawBytes: 0 }), Uint8Array.from([1])])))).toBe(
      true,
    );
  });

  it('fuzz: arbitrary bytes after a valid header either decode or fail typed, never crash or over-allocate', () => {
    const h = encodeHeader(header());
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (junk) => {
        const d = new MigrationStreamDecoder();
        try {
          d.push(h);
          d.push(junk);
          d.finish();
        } catch (err) {
          expect(isNovacronError(err, NodeErrorCode.MIGRATION_FRAME_CORRUPT)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (junk) => {
        try {
          new MigrationStreamDecoder().push(junk);
        } catch (err) {
          expect(isNovacronError(err, NodeErrorCode.MIGRATION_FRAME_CORRUPT)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
