import { checksum32, type LinkMode } from '@novacron/core';
import {
  blockCodec,
  type CodecId,
  CodecSelector,
  decodePages,
  encodePages,
  loadCodecs,
  type PageDeltaStats,
} from '@novacron/hde';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { PagesRecord } from './migration-wire.js';

/** How literal pages are compressed: a fixed hde codec, or `adaptive` (hde's selector, per batch). */
export type MigrationCodecSetting = CodecId | 'adaptive';

/** Maps the mode profiles' `hdeCodec` preset names onto hde codec ids. */
export function codecForPreset(preset: string): MigrationCodecSetting {
  const map: Record<string, MigrationCodecSetting> = {
    none: 'none',
    lz4: 'lz4',
    'zstd-fast': 'zstd-1',
    zstd: 'zstd-3',
    'zstd-max': 'zstd-19',
    adaptive: 'adaptive',
  };
  return map[preset] ?? 'adaptive';
}

/** What one encoded batch cost. */
export interface EncodedBatch {
  readonly record: PagesRecord;
  readonly rawBytes: number;
  readonly codec: CodecId;
  readonly stats: PageDeltaStats;
}

/**
 * The source's half of page-mode delta: remembers what it last sent of
 * every page (which is what the destination holds, since every stream is
 * applied in full or the migration is abandoned) and encodes batches of
 * pages with hde's page-mode delta against it (zero and unchanged pages
 * cost nothing, small changes go as XBZRLE, the rest as literals through
 * the chosen codec). Pages that are all zero are not remembered, so the
 * copy costs memory only for pages the guest has written.
 */
export class PageBatchEncoder {
  readonly #pageSize: number;
  readonly #sent = new Map<number, Uint8Array>();
  readonly #selector = new CodecSelector();
  #setting: MigrationCodecSetting;
  #mode: LinkMode;
  #bandwidthBps: () => number | undefined;

  constructor(init: {
    pageSize: number;
    codec: MigrationCodecSetting;
    mode: LinkMode;
    bandwidthBps?: () => number | undefined;
  }) {
    this.#pageSize = init.pageSize;
    this.#setting = init.codec;
    this.#mode = init.mode;
    this.#bandwidthBps = init.bandwidthBps ?? (() => undefined);
  }

  /** Loads hde's codecs (zstd's WebAssembly); call once before {@link encode}. */
  static ready(): Promise<void> {
    return loadCodecs();
  }

  /**
   * Encodes `raw` (the contents of `pages`, concatenated) and remembers it as
   * what the destination holds; `literal` encodes without delta (against zero).
   */
  encode(pages: Uint32Array, raw: Uint8Array, literal = false): EncodedBatch {
    const size = this.#pageSize;
    const base = new Uint8Array(raw.length);
    if (!literal)
      for (let i = 0; i < pages.length; i++) {
        const prev = this.#sent.get(pages[i]!);
        if (prev) base.set(prev, i * size);
      }
    const codec = this.#choose(raw);
    const { payload, stats } = encodePages(raw, base, { literalCodec: blockCodec(codec), pageSize: size });
    for (let i = 0; i < pages.length; i++) {
      const page = raw.subarray(i * size, (i + 1) * size);
      if (isZero(page)) this.#sent.delete(pages[i]!);
      else this.#sent.set(pages[i]!, page.slice());
    }
    return { record: { pages, checksum: checksum32(raw), payload }, rawBytes: raw.length, codec, stats };
  }

  #choose(raw: Uint8Array): CodecId {
    if (this.#setting !== 'adaptive') return this.#setting;
    const bw = this.#bandwidthBps();
    return this.#selector.choose(raw, {
      mode: this.#mode,
      ...(bw !== undefined && bw > 0 ? { link: { bandwidthBps: bw } } : {}),
    }).codec;
  }
}

/**
 * The destination's half: rebuilds a batch from its payload and the pages
 * the destination holds (`base`), and checks the result against the
 * record's checksum, so a stream that does not match what this side holds
 * is refused rather than written.
 * @throws `NODE_MIGRATION_FRAME_CORRUPT`.
 */
export function decodeBatch(batch: PagesRecord, base: Uint8Array, pageSize: number): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = decodePages(batch.payload, batch.pages.length * pageSize, base);
  } catch (err) {
    throw nodeError(
      NodeErrorCode.MIGRATION_FRAME_CORRUPT,
      `migration stream: page payload does not decode (${(err as Error).message})`,
      { reason: 'payload' },
      err,
    );
  }
  if (checksum32(raw) !== batch.checksum >>> 0)
    throw nodeError(NodeErrorCode.MIGRATION_FRAME_CORRUPT, 'migration stream: batch checksum mismatch', {
      reason: 'checksum',
      pages: batch.pages.length,
    });
  return raw;
}

const ZERO = Buffer.alloc(65_536);

function isZero(page: Uint8Array): boolean {
  return Buffer.from(page.buffer, page.byteOffset, page.length).equals(ZERO.subarray(0, page.length));
}
