import { zstd1Codec, zstdReady } from '../codecs/zstd.js';

/** Cheap facts about a chunk that predict how well (and how fast) it compresses. */
export interface ChunkFeatures {
  /** Chunk length in bytes. */
  readonly size: number;
  /** Shannon entropy of a byte sample of the non-zero pages, bits per byte (0..8). */
  readonly entropy: number;
  /** Share of the chunk in all-zero pages (page mode sends them for free). */
  readonly zeroShare: number;
  /** Compression ratio of zstd-1 on a small sample, when a probe was run (ambiguous entropy only). */
  readonly probeRatio?: number;
}

/** Options of {@link chunkFeatures}. */
export interface FeatureOptions {
  /** Page size used for the zero-page share; default 4096. */
  readonly pageSize?: number;
  /** Bytes sampled for the entropy; default 8 KiB (32 windows of 256 bytes). */
  readonly sampleBytes?: number;
  /** Entropy range (bits/byte) where an lz4 probe is run; default [5.5, 7.6]. Pass `null` to never probe. */
  readonly probeRange?: readonly [number, number] | null;
}

const WINDOW = 256;
const PROBE_BYTES = 8 * 1024;
const ZERO = Buffer.alloc(65_536);

/**
 * Measures {@link ChunkFeatures} in time roughly proportional to the number
 * of pages (the zero check is a native compare) plus a fixed sample.
 */
export function chunkFeatures(chunk: Uint8Array, options: FeatureOptions = {}): ChunkFeatures {
  const pageSize = options.pageSize ?? 4096;
  const sampleBytes = options.sampleBytes ?? 8192;
  const size = chunk.length;
  // Zero pages, and the start offsets of non-zero pages to sample from.
  const pages = Math.floor(size / pageSize);
  let zeroPages = 0;
  const zeroPage = ZERO.subarray(0, pageSize);
  const live: number[] = [];
  for (let p = 0; p < pages; p++) {
    const o = p * pageSize;
    if (chunk[o] === 0 && Buffer.from(chunk.buffer, chunk.byteOffset + o, pageSize).equals(zeroPage)) zeroPages++;
    else live.push(o);
  }
  if (pages * pageSize < size) live.push(pages * pageSize);
  const zeroShare = size === 0 ? 0 : (zeroPages * pageSize) / size;
  const hist = new Uint32Array(256);
  let sampled = 0;
  const windows = Math.max(1, Math.floor(sampleBytes / WINDOW));
  if (live.length > 0) {
    for (let w = 0; w < windows; w++) {
      // Spread windows evenly over the live pages, at varying offsets inside the page.
      const pageStart = live[Math.floor((w * live.length) / windows)]!;
      const pageEnd = Math.min(size, pageStart + pageSize);
      const span = pageEnd - pageStart;
      const off = span <= WINDOW ? 0 : ((w * 7919) % (span - WINDOW + 1)) & ~63;
      const end = Math.min(pageEnd, pageStart + off + WINDOW);
      for (let i = pageStart + off; i < end; i++) hist[chunk[i]!]!++;
      sampled += end - (pageStart + off);
    }
  }
  let entropy = 0;
  for (let b = 0; b < 256; b++) {
    const c = hist[b]!;
    if (c > 0) {
      const q = c / sampled;
      entropy -= q * Math.log2(q);
    }
  }
  const features: ChunkFeatures = { size, entropy, zeroShare };
  const range = options.probeRange === undefined ? ([5.5, 7.6] as const) : options.probeRange;
  if (range && entropy >= range[0] && entropy <= range[1] && live.length > 0 && zstdReady()) {
    // Probe on whole live pages from across the chunk: the entropy cannot
    // tell text-like 6-bit data that compresses 3x from packed code that barely does.
    const probe = new Uint8Array(Math.min(PROBE_BYTES, live.length * pageSize));
    const n = Math.ceil(probe.length / pageSize);
    let o = 0;
    for (let k = 0; k < n && o < probe.length; k++) {
      const start = live[Math.floor((k * live.length) / n)]!;
      const part = chunk.subarray(start, Math.min(size, start + pageSize, start + probe.length - o));
      probe.set(part, o);
      o += part.length;
    }
    // zstd-1 through WebAssembly costs ~0.1 ms here; lz4js cost ten times that.
    const compressed = zstd1Codec.compress(probe.subarray(0, o)).length;
    return { ...features, probeRatio: o / Math.max(1, compressed) };
  }
  return features;
}
