import { seededRng } from '@novacron/core';
import { BaselineStore, HdeErrorCode, type HdeEncodeReport, hdeCodec } from '@novacron/hde';
import { chunkCodecCompliance } from '@novacron/testkit/compliance/chunk-codec';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

chunkCodecCompliance('hde (selector)', {
  setup: () => ({ codec: hdeCodec(), detectsCorruption: true, context: { mode: 'internet' } }),
});
chunkCodecCompliance('hde (lz4, datacenter)', {
  setup: () => ({ codec: hdeCodec({ codec: 'lz4' }), detectsCorruption: true }),
});

function memory(pages: number): Uint8Array {
  const rng = seededRng('mem');
  const out = new Uint8Array(pages * 4096);
  const text = new TextEncoder().encode('resident set, page tables, heap arenas\n'.repeat(120));
  for (let p = 0; p < pages; p++) {
    if (p % 5 === 0) continue;
    out.set(p % 7 === 0 ? rng.bytes(4096) : text.subarray(0, 4096), p * 4096);
    out[p * 4096] = p & 0xff;
  }
  return out;
}

describe('hde ChunkCodec with baselines', () => {
  const base = memory(256);
  const next = base.slice();
  for (let p = 3; p < 256; p += 50) next.set(seededRng(`p${p}`).bytes(64), p * 4096 + 100);

  it('sends a round with few dirty pages as a tiny delta and decodes it exactly', async () => {
    const sender = new BaselineStore({ budgetBytes: 8 << 20 });
    const receiver = new BaselineStore({ budgetBytes: 8 << 20 });
    sender.put('vm/mem', 1, base);
    receiver.put('vm/mem', 1, base.slice());
    const reports: HdeEncodeReport[] = [];
    const tx = hdeCodec({ store: sender, onEncode: (r) => reports.push(r) });
    const rx = hdeCodec({ store: receiver });
    const ctx = { mode: 'internet' as const, baselineId: 'vm/mem@1' };
    const enc = await tx.encode(next, ctx);
    expect(enc.data.length).toBeLessThan(1000);
    expect(reports[0]!.result.pages?.xor).toBe(6);
    expect(reports[0]!.choice?.reason).toBeTruthy();
    expect(Buffer.from(await rx.decode(enc, ctx)).equals(Buffer.from(next))).toBe(true);
  });

  it('falls back to a full encode when the sender lacks the baseline', async () => {
    const reports: HdeEncodeReport[] = [];
    const tx = hdeCodec({ store: new BaselineStore({ budgetBytes: 1 << 20 }), onEncode: (r) => reports.push(r) });
    const enc = await tx.encode(next, { mode: 'internet', baselineId: 'vm/mem@1' });
    expect(reports[0]!.baselineFallback).toBe('vm/mem@1');
    const rx = hdeCodec();
    expect(Buffer.from(await rx.decode(enc, { mode: 'internet' })).equals(Buffer.from(next))).toBe(true);
  });

  it('fails with HDE_BASELINE_* when the receiver lacks or differs, and the full re-encode then succeeds', async () => {
    const sender = new BaselineStore({ budgetBytes: 8 << 20 });
    sender.put('vm/mem', 1, base);
    const tx = hdeCodec({ store: sender });
    const delta = await tx.encode(next, { mode: 'internet', baselineId: 'vm/mem@1' });
    const empty = hdeCodec({ store: new BaselineStore({ budgetBytes: 8 << 20 }) });
    await expectNovacronRejection(empty.decode(delta, { mode: 'internet' }), HdeErrorCode.BASELINE_MISSING);
    const otherStore = new BaselineStore({ budgetBytes: 8 << 20 });
    otherStore.put('vm/mem', 1, next);
    const other = hdeCodec({ store: otherStore });
    await expectNovacronRejection(other.decode(delta, { mode: 'internet' }), HdeErrorCode.BASELINE_MISMATCH);
    const full = await tx.encode(next, { mode: 'internet' });
    expect(Buffer.from(await other.decode(full, { mode: 'internet' })).equals(Buffer.from(next))).toBe(true);
  });

  it('gives HDE_BASELINE_MISSING after the receiver evicted the baseline', async () => {
    const sender = new BaselineStore({ budgetBytes: 8 << 20 });
    sender.put('vm/mem', 1, base);
    const receiver = new BaselineStore({ budgetBytes: base.length });
    receiver.put('vm/mem', 1, base);
    receiver.put('vm/other', 1, new Uint8Array(10)); // pushes vm/mem@1 out
    const enc = await hdeCodec({ store: sender }).encode(next, { mode: 'hybrid', baselineId: 'vm/mem@1' });
    await expectNovacronRejection(
      hdeCodec({ store: receiver }).decode(enc, { mode: 'hybrid' }),
      HdeErrorCode.BASELINE_MISSING,
    );
  });
});
