import type { LinkEstimate, LinkMode } from '@novacron/core';
import { CODEC_IDS, type CodecId } from '../codecs/block-codec.js';
import { type ChunkFeatures, type FeatureOptions, chunkFeatures } from './features.js';
import type { CodecProfile, EntropyBucket, SelectorModel } from './model.js';
import { SELECTOR_MODEL } from './model-data.js';

/**
 * What a link mode implies when the estimate says nothing better: the
 * bandwidth to assume, and which way to break near-ties. Priors only: a
 * measured bandwidth always wins, and a tie-break never overrides a clear
 * winner (more than `tieBand` apart).
 */
export interface ModePreset {
  /** Bandwidth assumed when the link estimate has none, bits/s. */
  readonly priorBandwidthBps: number;
  /** Among candidates within `tieBand` of the best time: prefer the faster codec or the smaller output. */
  readonly favour: 'speed' | 'size' | 'time';
  /** Relative band counted as a tie; default 0.05. */
  readonly tieBand: number;
}

/** Default presets: datacenter favours speed, internet favours size. */
export const MODE_PRESETS: Readonly<Record<LinkMode, ModePreset>> = {
  datacenter: { priorBandwidthBps: 10e9, favour: 'speed', tieBand: 0.05 },
  hybrid: { priorBandwidthBps: 1e9, favour: 'time', tieBand: 0.05 },
  internet: { priorBandwidthBps: 50e6, favour: 'size', tieBand: 0.05 },
};

/** One candidate's estimate, in the explanation. */
export interface CandidateEstimate {
  /** The codec. */
  readonly codec: CodecId;
  /** Predicted bytes on the wire for the non-zero pages. */
  readonly wireBytes: number;
  /** Predicted encode time, ms (spread over `parallelism` cores). */
  readonly encodeMs: number;
  /** Predicted wire time at the assumed bandwidth, ms. */
  readonly wireMs: number;
  /** Predicted decode time, ms. */
  readonly decodeMs: number;
  /** `max(encodeMs, wireMs) + decodeMs`: what the selector minimises. */
  readonly totalMs: number;
}

/** A choice with its explanation. */
export interface SelectorChoice {
  /** The codec chosen. */
  readonly codec: CodecId;
  /** The chunk's features (placeholders when `featuresSkipped`). */
  readonly features: ChunkFeatures;
  /** True when the link was too fast for any codec and no feature was measured. */
  readonly featuresSkipped?: boolean;
  /** Bandwidth used, bits/s. */
  readonly bandwidthBps: number;
  /** Whether it came from the link estimate or the mode preset. */
  readonly bandwidthFrom: 'link' | 'preset';
  /** The mode whose preset applied. */
  readonly mode: LinkMode;
  /** Every candidate, fastest total first. */
  readonly candidates: readonly CandidateEstimate[];
  /** One line a human can read. */
  readonly reason: string;
}

/** Options of {@link CodecSelector}. */
export interface CodecSelectorOptions {
  /** Decision table; default the shipped {@link SELECTOR_MODEL}. */
  readonly model?: SelectorModel;
  /** Codecs to choose among; default all. */
  readonly candidates?: readonly CodecId[];
  /** Multiplies the model's speeds per codec (from {@link measureCodecSpeeds} on this machine); default 1. */
  readonly speedScale?: Partial<Record<CodecId, number>>;
  /** Cores encoding in parallel (a worker pool); divides encode time. Default 1. */
  readonly parallelism?: number;
  /** Override mode presets. */
  readonly presets?: Partial<Record<LinkMode, ModePreset>>;
  /** Feature extraction options. */
  readonly features?: FeatureOptions;
}

/** What the selector needs to know about the link. */
export interface LinkView {
  /** Link mode (chooses the preset). */
  readonly mode: LinkMode;
  /** The estimate, when one exists. */
  readonly link?: Pick<LinkEstimate, 'bandwidthBps'>;
}

/**
 * Picks, per chunk, the codec that minimises the expected time
 * `max(encode, wire) + decode` from cheap features, the link's bandwidth
 * and the codecs' measured speeds; explains every choice.
 *
 * ```ts
 * const selector = new CodecSelector();
 * const choice = selector.choose(chunk, { mode: 'internet', link: { bandwidthBps: 100e6 } });
 * choice.codec; // 'zstd-3'
 * choice.candidates; // estimated times of every codec
 * ```
 */
export class CodecSelector {
  readonly #model: SelectorModel;
  readonly #candidates: readonly CodecId[];
  readonly #scale: Partial<Record<CodecId, number>>;
  readonly #parallelism: number;
  readonly #presets: Record<LinkMode, ModePreset>;
  readonly #featureOptions: FeatureOptions;

  constructor(options: CodecSelectorOptions = {}) {
    this.#model = options.model ?? SELECTOR_MODEL;
    this.#candidates = options.candidates ?? CODEC_IDS;
    this.#scale = options.speedScale ?? {};
    this.#parallelism = Math.max(1, options.parallelism ?? 1);
    this.#presets = { ...MODE_PRESETS, ...options.presets };
    this.#featureOptions = options.features ?? {};
  }

  /**
   * Measures the chunk's features and chooses; see {@link chooseFor}. When
   * the link outruns every codec even at an infinite ratio (no codec can
   * encode and decode the chunk in the time the wire takes to carry it
   * raw), it answers `none` without measuring anything, since at 10 Gbit/s
   * even the feature scan would slow the transfer.
   */
  choose(chunk: Uint8Array, link: LinkView): SelectorChoice {
    const bandwidthBps = this.#bandwidth(link);
    const rawMs = chunk.length / (bandwidthBps / 8 / 1000);
    const fastest = this.#candidates
      .filter((c) => c !== 'none')
      .map((c) => {
        let enc = 0;
        let dec = 0;
        for (const b of this.#model.buckets) {
          enc = Math.max(enc, b.codecs[c].encodeMBps * (this.#scale[c] ?? 1));
          dec = Math.max(dec, b.codecs[c].decodeMBps * (this.#scale[c] ?? 1));
        }
        return chunk.length / (enc * 1000) / this.#parallelism + chunk.length / (dec * 1000) / this.#parallelism;
      });
    if (this.#candidates.includes('none') && fastest.every((ms) => ms >= rawMs)) {
      const size = chunk.length;
      return {
        codec: 'none',
        features: { size, entropy: 8, zeroShare: 0 },
        featuresSkipped: true,
        bandwidthBps,
        bandwidthFrom: link.link?.bandwidthBps ? 'link' : 'preset',
        mode: link.mode,
        candidates: [{ codec: 'none', wireBytes: size, encodeMs: 0, wireMs: rawMs, decodeMs: 0, totalMs: rawMs }],
        reason: `none: at ${(bandwidthBps / 1e6).toFixed(0)} Mbit/s no codec encodes and decodes faster than the wire carries raw bytes; features not measured`,
      };
    }
    return this.chooseFor(chunkFeatures(chunk, this.#featureOptions), link);
  }

  #bandwidth(link: LinkView): number {
    const measured = link.link?.bandwidthBps;
    return measured !== undefined && measured > 0 ? measured : this.#presets[link.mode].priorBandwidthBps;
  }

  /** Chooses from already measured features. */
  chooseFor(features: ChunkFeatures, link: LinkView): SelectorChoice {
    const preset = this.#presets[link.mode];
    const measured = link.link?.bandwidthBps;
    const bandwidthBps = measured !== undefined && measured > 0 ? measured : preset.priorBandwidthBps;
    const bytesPerMs = bandwidthBps / 8 / 1000;
    const bucket = this.#bucket(features.entropy);
    const live = features.size * (1 - features.zeroShare);
    // A probe corrects the bucket's ratios by how this chunk did against the bucket's lz4.
    const probed = bucket.codecs['zstd-1'];
    const correction =
      features.probeRatio === undefined ? 1 : Math.min(3, Math.max(1 / 3, features.probeRatio / probed.ratio));
    const estimates: CandidateEstimate[] = this.#candidates.map((codec) => {
      const p: CodecProfile = bucket.codecs[codec];
      const scale = this.#scale[codec] ?? 1;
      const ratio = codec === 'none' ? 1 : Math.max(1, 1 + (p.ratio - 1) * correction);
      const wireBytes = live / ratio;
      const encodeMs = live / (p.encodeMBps * scale * 1000) / this.#parallelism;
      const decodeMs = live / (p.decodeMBps * scale * 1000) / this.#parallelism;
      const wireMs = wireBytes / bytesPerMs;
      return { codec, wireBytes, encodeMs, wireMs, decodeMs, totalMs: Math.max(encodeMs, wireMs) + decodeMs };
    });
    estimates.sort((a, b) => a.totalMs - b.totalMs);
    const best = estimates[0]!;
    const tied = estimates.filter((e) => e.totalMs <= best.totalMs * (1 + preset.tieBand));
    let chosen = best;
    if (preset.favour === 'speed')
      chosen = tied.reduce((a, b) => (b.encodeMs + b.decodeMs < a.encodeMs + a.decodeMs ? b : a));
    else if (preset.favour === 'size') chosen = tied.reduce((a, b) => (b.wireBytes < a.wireBytes ? b : a));
    const bound = chosen.encodeMs >= chosen.wireMs ? 'CPU-bound' : 'wire-bound';
    const reason =
      `${chosen.codec}: ${chosen.totalMs.toFixed(2)} ms expected (${bound}) at ${(bandwidthBps / 1e6).toFixed(0)} Mbit/s ` +
      `${measured !== undefined && measured > 0 ? 'measured' : `${link.mode} prior`}; entropy ${features.entropy.toFixed(2)} bits/byte, ` +
      `${(features.zeroShare * 100).toFixed(0)}% zero pages` +
      (chosen === best
        ? ''
        : `; ${link.mode} favours ${preset.favour} among ${tied.length} within ${preset.tieBand * 100}%`);
    return {
      codec: chosen.codec,
      features,
      bandwidthBps,
      bandwidthFrom: measured !== undefined && measured > 0 ? 'link' : 'preset',
      mode: link.mode,
      candidates: estimates,
      reason,
    };
  }

  #bucket(entropy: number): EntropyBucket {
    const buckets = this.#model.buckets;
    for (const b of buckets) if (entropy <= b.maxEntropy) return b;
    return buckets[buckets.length - 1]!;
  }
}
