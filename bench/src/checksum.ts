/**
 * Checksum and hash throughput: the candidates for `@novacron/core`'s fast
 * checksum and strong hash, on one 64 MiB buffer and on the same bytes
 * hashed as independent 16 KiB chunks (the size of a transfer chunk, where
 * per-call overhead shows). Prints a table with ratios against the chosen
 * CRC-32 and SHA-256, and writes results/checksum.json.
 *
 * Run: `npx tsx bench/src/checksum.ts` (about 15-25 s).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { checksum32, strongHash } from '@novacron/core';
import { createBLAKE3, createXXHash64 } from 'hash-wasm';
import xxhash from 'xxhash-wasm';

const WHOLE_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 16 * 1024;
/** Each sample runs at least this long, so timer resolution and GC pauses wash out. */
const MIN_SAMPLE_MS = 250;
const SAMPLES = 3;
/** A slow candidate stops sampling after this long; its median then has fewer samples. */
const MAX_MEASURE_MS = 4000;

type HashFn = (data: Uint8Array) => unknown;

interface Candidate {
  /** Row label. */
  name: string;
  /** Library or module providing it. */
  library: string;
  algorithm: string;
  /** `fast` rows are compared with CRC-32, `strong` rows with SHA-256. */
  kind: 'fast' | 'strong';
  /** Whether the library needs an asynchronous initialisation before its first hash. */
  asyncInit: boolean;
  /** Builds the hash function (doing any async init) once, outside the timing. */
  make: () => Promise<HashFn>;
}

const candidates: Candidate[] = [
  {
    name: 'crc32 (zlib, via core checksum32)',
    library: 'node:zlib',
    algorithm: 'crc32',
    kind: 'fast',
    asyncInit: false,
    make: async () => (d) => checksum32(d),
  },
  {
    name: 'xxh64 (hash-wasm)',
    library: 'hash-wasm',
    algorithm: 'xxh64',
    kind: 'fast',
    asyncInit: true,
    make: async () => {
      const h = await createXXHash64();
      return (d) => h.init().update(d).digest('binary');
    },
  },
  {
    name: 'h64 (xxhash-wasm)',
    library: 'xxhash-wasm',
    algorithm: 'xxh64',
    kind: 'fast',
    asyncInit: true,
    make: async () => {
      const api = await xxhash();
      return (d) => api.h64Raw(d);
    },
  },
  {
    name: 'sha256 (node:crypto, via core strongHash)',
    library: 'node:crypto',
    algorithm: 'sha256',
    kind: 'strong',
    asyncInit: false,
    make: async () => (d) => strongHash(d),
  },
  {
    name: 'blake3 (hash-wasm)',
    library: 'hash-wasm',
    algorithm: 'blake3',
    kind: 'strong',
    asyncInit: true,
    make: async () => {
      const h = await createBLAKE3();
      return (d) => h.init().update(d).digest('binary');
    },
  },
  {
    name: 'blake3 (@noble/hashes, pure JS)',
    library: '@noble/hashes',
    algorithm: 'blake3',
    kind: 'strong',
    asyncInit: false,
    make: async () => (d) => nobleBlake3(d),
  },
];

/** Median of a non-empty list. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** MB/s (10^6 bytes per second) of `step`, which hashes and returns how many bytes it hashed. */
function measure(step: () => number): { mbps: number; samples: number } {
  const rates: number[] = [];
  const started = performance.now();
  while (rates.length < SAMPLES && (rates.length === 0 || performance.now() - started < MAX_MEASURE_MS)) {
    let bytes = 0;
    const t0 = performance.now();
    let elapsed = 0;
    do {
      bytes += step();
      elapsed = performance.now() - t0;
    } while (elapsed < MIN_SAMPLE_MS);
    rates.push(bytes / 1e6 / (elapsed / 1000));
  }
  return { mbps: median(rates), samples: rates.length };
}

function hex(v: unknown): string {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (typeof v === 'bigint') return v.toString(16).padStart(16, '0');
  return (v as number).toString(16).padStart(8, '0');
}

/** Candidates computing the same algorithm must agree, or the comparison is meaningless. */
function crossCheck(fns: Map<Candidate, HashFn>): void {
  const sample = randomBytes(100_003);
  const byAlgorithm = new Map<string, string>();
  for (const [c, fn] of fns) {
    const digest = hex(fn(sample));
    const seen = byAlgorithm.get(c.algorithm);
    if (seen !== undefined && seen !== digest) throw new Error(`${c.name} disagrees with another ${c.algorithm}`);
    byAlgorithm.set(c.algorithm, digest);
  }
}

async function main(): Promise<void> {
  const data = randomBytes(WHOLE_BYTES);
  const fns = new Map<Candidate, HashFn>();
  for (const c of candidates) fns.set(c, await c.make());
  crossCheck(fns);

  const chunkCount = WHOLE_BYTES / CHUNK_BYTES;
  const rows: {
    candidate: Candidate;
    whole: ReturnType<typeof measure>;
    chunks: ReturnType<typeof measure>;
  }[] = [];
  for (const c of candidates) {
    const fn = fns.get(c)!;
    fn(data.subarray(0, 1 << 20)); // warm up the JIT / wasm tiers outside the timing
    const whole = measure(() => {
      fn(data);
      return WHOLE_BYTES;
    });
    let next = 0;
    const chunks = measure(() => {
      // 256 chunks (4 MiB) per step keeps the timer calls out of the per-chunk cost.
      for (let i = 0; i < 256; i++) {
        const at = (next++ % chunkCount) * CHUNK_BYTES;
        fn(data.subarray(at, at + CHUNK_BYTES));
      }
      return 256 * CHUNK_BYTES;
    });
    rows.push({ candidate: c, whole, chunks });
    process.stderr.write(`  measured ${c.name}\n`);
  }

  const ref = (kind: Candidate['kind']) => rows.find((r) => r.candidate.kind === kind)!;
  const table = rows.map((r) => {
    const base = ref(r.candidate.kind);
    return {
      candidate: r.candidate.name,
      'MB/s 64MiB': Math.round(r.whole.mbps),
      'MB/s 16KiB': Math.round(r.chunks.mbps),
      'x ref 64MiB': Number((r.whole.mbps / base.whole.mbps).toFixed(2)),
      'x ref 16KiB': Number((r.chunks.mbps / base.chunks.mbps).toFixed(2)),
      ref: r.candidate.kind === 'fast' ? 'crc32' : 'sha256',
      init: r.candidate.asyncInit ? 'async' : 'sync',
    };
  });
  console.log(
    `\nchecksum throughput, MB/s = 10^6 bytes/s, median of up to ${SAMPLES} samples of >= ${MIN_SAMPLE_MS} ms`,
  );
  console.table(table);

  const out = {
    bench: 'checksum',
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpuCount: cpus().length,
    unit: 'MB/s (10^6 bytes per second)',
    wholeBytes: WHOLE_BYTES,
    chunkBytes: CHUNK_BYTES,
    results: rows.map((r) => ({
      name: r.candidate.name,
      library: r.candidate.library,
      algorithm: r.candidate.algorithm,
      kind: r.candidate.kind,
      asyncInit: r.candidate.asyncInit,
      wholeMBps: Number(r.whole.mbps.toFixed(1)),
      wholeSamples: r.whole.samples,
      chunkMBps: Number(r.chunks.mbps.toFixed(1)),
      chunkSamples: r.chunks.samples,
      ratioVsRefWhole: Number((r.whole.mbps / ref(r.candidate.kind).whole.mbps).toFixed(3)),
      ratioVsRefChunk: Number((r.chunks.mbps / ref(r.candidate.kind).chunks.mbps).toFixed(3)),
    })),
    decision: { fast: 'crc32 via node:zlib crc32', strong: 'sha256 via node:crypto' },
  };
  const dir = new URL('../results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL('checksum.json', dir);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${file.pathname}`);
}

await main();
