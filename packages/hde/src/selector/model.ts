import type { CodecId } from '../codecs/block-codec.js';

/** What one codec does to chunks of one entropy bucket. */
export interface CodecProfile {
  /** Raw bytes / compressed bytes over the bucket's training chunks. */
  readonly ratio: number;
  /** Encode speed, MB/s of raw input, one core. */
  readonly encodeMBps: number;
  /** Decode speed, MB/s of raw output, one core. */
  readonly decodeMBps: number;
}

/** Chunks whose sampled entropy is at most `maxEntropy` (and above the previous bucket's). */
export interface EntropyBucket {
  /** Upper entropy bound of the bucket, bits per byte. */
  readonly maxEntropy: number;
  /** Training chunks that fell in this bucket. */
  readonly samples: number;
  /** Profile per codec. */
  readonly codecs: Readonly<Record<CodecId, CodecProfile>>;
}

/**
 * The selector's model: a decision table from sampled entropy to each
 * codec's ratio and speeds, trained by `bench/src/hde-train.ts` on a corpus
 * generated with a different seed from the benchmark's, and shipped as data.
 */
export interface SelectorModel {
  /** Format version of this structure. */
  readonly version: 1;
  /** How the model was trained (seed, corpus hash, machine), for the record. */
  readonly trainedOn: Readonly<Record<string, string | number>>;
  /** Buckets in increasing `maxEntropy`; the last one has `maxEntropy` 8. */
  readonly buckets: readonly EntropyBucket[];
}
