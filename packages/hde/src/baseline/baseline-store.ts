import {
  type Counter,
  type Gauge,
  type Metrics,
  assertBytes,
  assertInteger,
  assertString,
  strongHash,
} from '@novacron/core';
import { HdeErrorCode, hdeError } from '../errors.js';

/** One version of one object's content that both ends hold. */
export interface Baseline {
  /** `<objectId>@<version>`: what frames name. */
  readonly id: string;
  /** The object this is a version of (`vm-7/mem`, `vm-7/disk0`, ...). */
  readonly objectId: string;
  /** Version number, increasing per object. */
  readonly version: number;
  /** The content. The store owns it: callers must not mutate it. */
  readonly bytes: Uint8Array;
  /** SHA-256 of `bytes` (core's strong hash), what both ends compare. */
  readonly hash: Uint8Array;
}

/** Options of {@link BaselineStore}. */
export interface BaselineStoreOptions {
  /** Memory budget for all baselines' bytes; least recently used ones are evicted past it. */
  readonly budgetBytes: number;
  /** Optional metrics: `novacron_hde_baseline_bytes` gauge, `novacron_hde_baseline_evictions_total` counter. */
  readonly metrics?: Metrics;
}

/** The id a baseline of `objectId` at `version` is known by. */
export const baselineId = (objectId: string, version: number): string => `${objectId}@${version}`;

const eq = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b));

/**
 * Versioned baselines per object under a memory budget, evicting the least
 * recently used. Sender and receiver each keep one; a frame names its
 * baseline by id and content hash, and {@link resolve} refuses anything but
 * the exact same bytes, so a delta is never applied to the wrong base.
 */
export class BaselineStore {
  readonly #budget: number;
  readonly #bytesGauge: Gauge | undefined;
  readonly #evictions: Counter | undefined;
  /** Map iteration order is the LRU order: oldest first. */
  readonly #entries = new Map<string, Baseline>();
  #used = 0;

  constructor(options: BaselineStoreOptions) {
    assertInteger('budgetBytes', options.budgetBytes, { min: 0 });
    this.#budget = options.budgetBytes;
    this.#bytesGauge = options.metrics?.gauge({
      name: 'novacron_hde_baseline_bytes',
      help: 'Bytes of baselines held by the hde baseline store',
    });
    this.#evictions = options.metrics?.counter({
      name: 'novacron_hde_baseline_evictions_total',
      help: 'Baselines evicted from the hde baseline store to keep its memory budget',
    });
  }

  /** Bytes held now. */
  get usedBytes(): number {
    return this.#used;
  }

  /** The memory budget. */
  get budgetBytes(): number {
    return this.#budget;
  }

  /** Number of baselines held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Adds (or replaces) version `version` of `objectId`, hashing it, and
   * evicts least recently used baselines until the budget holds. The store
   * keeps `bytes` without copying.
   * @throws `HDE_BASELINE_TOO_LARGE` when `bytes` alone exceeds the budget.
   */
  put(objectId: string, version: number, bytes: Uint8Array): Baseline {
    assertString('objectId', objectId);
    assertInteger('version', version, { min: 0 });
    assertBytes('bytes', bytes);
    if (bytes.length > this.#budget) {
      throw hdeError(HdeErrorCode.BASELINE_TOO_LARGE, `baseline of ${bytes.length} bytes exceeds the budget`, {
        bytes: bytes.length,
        budget: this.#budget,
      });
    }
    const id = baselineId(objectId, version);
    this.delete(id);
    const b: Baseline = { id, objectId, version, bytes, hash: strongHash(bytes) };
    this.#entries.set(id, b);
    this.#used += bytes.length;
    for (const [oldId, old] of this.#entries) {
      if (this.#used <= this.#budget) break;
      if (oldId === id) continue;
      this.#entries.delete(oldId);
      this.#used -= old.bytes.length;
      this.#evictions?.inc();
    }
    this.#bytesGauge?.set(this.#used);
    return b;
  }

  /** The baseline with this id, marking it most recently used. */
  get(id: string): Baseline | undefined {
    const b = this.#entries.get(id);
    if (b !== undefined) {
      this.#entries.delete(id);
      this.#entries.set(id, b);
    }
    return b;
  }

  /** The highest version held of `objectId`. */
  latest(objectId: string): Baseline | undefined {
    let best: Baseline | undefined;
    for (const b of this.#entries.values()) {
      if (b.objectId === objectId && (best === undefined || b.version > best.version)) best = b;
    }
    return best === undefined ? undefined : this.get(best.id);
  }

  /**
   * The baseline a frame refers to, only if its content hash matches.
   * @throws `HDE_BASELINE_MISSING` when no baseline has this id (never held or evicted),
   *   `HDE_BASELINE_MISMATCH` when the held one has different content.
   */
  resolve(ref: { readonly id: string; readonly hash: Uint8Array }): Baseline {
    const b = this.get(ref.id);
    if (b === undefined) {
      throw hdeError(HdeErrorCode.BASELINE_MISSING, `baseline ${ref.id} is not held here`, { id: ref.id });
    }
    if (!eq(b.hash, ref.hash)) {
      throw hdeError(HdeErrorCode.BASELINE_MISMATCH, `baseline ${ref.id} has different content here`, {
        id: ref.id,
        expected: Buffer.from(ref.hash).toString('hex'),
        held: Buffer.from(b.hash).toString('hex'),
      });
    }
    return b;
  }

  /** Drops a baseline; returns whether it was held. */
  delete(id: string): boolean {
    const b = this.#entries.get(id);
    if (b === undefined) return false;
    this.#entries.delete(id);
    this.#used -= b.bytes.length;
    this.#bytesGauge?.set(this.#used);
    return true;
  }
}
