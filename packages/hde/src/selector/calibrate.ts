import { type Clock, systemClock } from '@novacron/core';
import { type CodecId, CODEC_IDS } from '../codecs/block-codec.js';
import { blockCodec } from '../codecs/registry.js';
import { chunkFeatures } from './features.js';
import type { SelectorModel } from './model.js';
import { SELECTOR_MODEL } from './model-data.js';

/**
 * Measures how fast this machine, now, runs each codec on `sample` (take a
 * chunk of the data about to be sent) against what the model predicts for
 * the sample's entropy, and returns the ratios to pass as the selector's
 * `speedScale`. A loaded or slower machine gets scales below 1, so the
 * selector stops expecting speeds it will not get. It measures real CPU
 * speed, so `options.clock` defaults to the system clock; `loadCodecs()`
 * must have completed.
 */
export function measureCodecSpeeds(
  sample: Uint8Array,
  options: {
    readonly model?: SelectorModel;
    readonly codecs?: readonly CodecId[];
    readonly clock?: Pick<Clock, 'now'>;
  } = {},
): Partial<Record<CodecId, number>> {
  const model = options.model ?? SELECTOR_MODEL;
  const clock = options.clock ?? systemClock();
  const f = chunkFeatures(sample, { probeRange: null });
  const bucket = model.buckets.find((b) => f.entropy <= b.maxEntropy) ?? model.buckets[model.buckets.length - 1]!;
  const out: Partial<Record<CodecId, number>> = {};
  for (const id of options.codecs ?? CODEC_IDS) {
    if (id === 'none') continue;
    const codec = blockCodec(id);
    // zstd-19 runs at a few MB/s: time it on a slice so calibration stays quick.
    const data = id === 'zstd-19' ? sample.subarray(0, Math.min(sample.length, 64 * 1024)) : sample;
    codec.compress(data.subarray(0, Math.min(4096, data.length))); // warm up
    const t0 = clock.now();
    const packed = codec.compress(data);
    const t1 = clock.now();
    codec.decompress(packed, data.length);
    const t2 = clock.now();
    const enc = data.length / 1000 / Math.max(t1 - t0, 0.01);
    const dec = data.length / 1000 / Math.max(t2 - t1, 0.01);
    const p = bucket.codecs[id];
    // One scale per codec: the geometric mean of the encode and decode ratios.
    out[id] = Math.sqrt((enc / p.encodeMBps) * (dec / p.decodeMBps));
  }
  return out;
}
