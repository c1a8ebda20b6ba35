import { readFileSync } from 'node:fs';
import { seededRng } from '@novacron/core';
import { CodecSelector, SELECTOR_MODEL, chunkFeatures } from '@novacron/hde';
import { describe, expect, it } from 'vitest';

const text = (() => {
  const words = ['migration', 'page', 'dirty', 'baseline', 'the', 'of', 'kernel', 'buffer', 'and', 'chunk', '\n'];
  const rng = seededRng('words');
  const parts: string[] = [];
  for (let i = 0; i < 60_000; i++) parts.push(words[rng.int(0, words.length - 1)]!);
  return new TextEncoder().encode(parts.join(' ')).subarray(0, 256 * 1024);
})();
const random = seededRng('rand').bytes(256 * 1024);
const zeros = new Uint8Array(256 * 1024);

describe('chunk features', () => {
  it('measure entropy and zero pages', () => {
    expect(chunkFeatures(zeros).zeroShare).toBe(1);
    expect(chunkFeatures(random).entropy).toBeGreaterThan(7.9);
    const t = chunkFeatures(text);
    expect(t.entropy).toBeGreaterThan(2);
    expect(t.entropy).toBeLessThan(5);
    expect(t.zeroShare).toBe(0);
    const half = random.slice();
    half.fill(0, 0, 128 * 1024);
    expect(chunkFeatures(half).zeroShare).toBeCloseTo(0.5, 5);
  });

  it('probe only where the entropy is ambiguous', () => {
    expect(chunkFeatures(random).probeRatio).toBeUndefined();
    expect(chunkFeatures(text).probeRatio).toBeUndefined();
    const bin = readFileSync(process.execPath).subarray(1 << 20, (1 << 20) + 256 * 1024);
    const f = chunkFeatures(bin);
    if (f.entropy >= 5.5 && f.entropy <= 7.6) expect(f.probeRatio).toBeGreaterThan(0.9);
  });
});

describe('codec selector', () => {
  const selector = new CodecSelector();

  it('ships a trained model covering every entropy', () => {
    expect(SELECTOR_MODEL.buckets.length).toBeGreaterThan(4);
    expect(SELECTOR_MODEL.buckets.at(-1)!.maxEntropy).toBe(8);
    expect(SELECTOR_MODEL.trainedOn.seed).not.toBe('hde-bench');
  });

  it('sends random data uncompressed on any link', () => {
    for (const mode of ['datacenter', 'hybrid', 'internet'] as const) {
      for (const bw of [10e6, 100e6, 1e9, 10e9]) {
        expect(selector.choose(random, { mode, link: { bandwidthBps: bw } }).codec).toBe('none');
      }
    }
  });

  it('spends nothing on zero chunks', () => {
    const c = selector.choose(zeros, { mode: 'internet' });
    expect(c.features.zeroShare).toBe(1);
    expect(c.candidates.every((e) => e.totalMs === 0)).toBe(true);
  });

  it('compresses text hard on a slow link and not at all on a fast one', () => {
    const slow = selector.choose(text, { mode: 'internet', link: { bandwidthBps: 20e6 } });
    expect(['zstd-1', 'zstd-3', 'zstd-19', 'deflate']).toContain(slow.codec);
    expect(slow.candidates.find((e) => e.codec === slow.codec)!.wireBytes).toBeLessThan(text.length / 2);
    expect(slow.bandwidthFrom).toBe('link');
    const fast = selector.choose(text, { mode: 'datacenter', link: { bandwidthBps: 40e9 } });
    expect(fast.codec).toBe('none');
    // A faster link never makes the selector choose a stronger (slower) codec.
    const order = ['none', 'lz4', 'zstd-1', 'zstd-3', 'deflate', 'zstd-19'];
    let last = Number.POSITIVE_INFINITY;
    for (const bw of [1e6, 10e6, 100e6, 1e9, 10e9, 100e9]) {
      const c = selector.choose(text, { mode: 'hybrid', link: { bandwidthBps: bw } });
      const encodeMs = c.candidates.find((e) => e.codec === c.codec)!.encodeMs;
      expect(encodeMs).toBeLessThanOrEqual(last);
      last = encodeMs;
      expect(order).toContain(c.codec);
    }
  });

  it('uses the mode preset only when the link has no bandwidth', () => {
    const dc = selector.choose(text, { mode: 'datacenter' });
    const inet = selector.choose(text, { mode: 'internet' });
    expect(dc.bandwidthFrom).toBe('preset');
    expect(dc.bandwidthBps).toBeGreaterThan(inet.bandwidthBps);
    expect(inet.candidates.find((e) => e.codec === inet.codec)!.wireBytes).toBeLessThan(
      dc.candidates.find((e) => e.codec === dc.codec)!.wireBytes,
    );
  });

  it('explains every choice: features, all candidates by time, a reason', () => {
    const c = selector.choose(text, { mode: 'hybrid', link: { bandwidthBps: 1e9 } });
    expect(c.candidates).toHaveLength(6);
    for (let i = 1; i < c.candidates.length; i++) {
      expect(c.candidates[i]!.totalMs).toBeGreaterThanOrEqual(c.candidates[i - 1]!.totalMs);
    }
    for (const e of c.candidates) expect(e.totalMs).toBeCloseTo(Math.max(e.encodeMs, e.wireMs) + e.decodeMs, 9);
    expect(c.reason).toContain(c.codec);
    expect(c.reason).toContain('1000 Mbit/s');
  });

  it('counts parallel encoders and measured speeds', () => {
    const one = new CodecSelector({ candidates: ['zstd-3'] }).choose(text, { mode: 'hybrid' });
    const two = new CodecSelector({ candidates: ['zstd-3'], parallelism: 2, speedScale: { 'zstd-3': 2 } }).choose(
      text,
      {
        mode: 'hybrid',
      },
    );
    expect(two.candidates[0]!.encodeMs).toBeCloseTo(one.candidates[0]!.encodeMs / 4, 6);
  });
});

describe('speed calibration', () => {
  it('gives a positive, finite scale per codec', async () => {
    const { loadCodecs, measureCodecSpeeds } = await import('@novacron/hde');
    await loadCodecs();
    const scale = measureCodecSpeeds(text.subarray(0, 128 * 1024), { codecs: ['lz4', 'zstd-1'] });
    for (const id of ['lz4', 'zstd-1'] as const) {
      expect(Number.isFinite(scale[id])).toBe(true);
      expect(scale[id]).toBeGreaterThan(0);
    }
    expect(scale.none).toBeUndefined();
  });
});
