/**
 * The node's view of a strongly consistent key-value namespace: every
 * write goes through the cluster's consensus log and every read is
 * linearizable. acp's `ReplicatedKv` satisfies it today; ass's strong
 * `StateSync` namespaces (#8) will plug in behind the same shape. VM
 * ownership and the capacity ledger live only in such a namespace, in every
 * mode (never in an eventual one).
 */
export interface StrongStore {
  /** Linearizable read of `key` (`null` when absent). */
  get(key: string): Promise<Uint8Array | null>;
  /** Sets `key`. */
  put(key: string, value: Uint8Array): Promise<void>;
  /** Deletes `key`; true when it existed. */
  delete(key: string): Promise<boolean>;
  /** Sets `key` to `value` if it holds `expected` (`null`: absent); true when swapped. */
  cas(key: string, expected: Uint8Array | null, value: Uint8Array): Promise<boolean>;
  /** Linearizable range read over [start, end) (`end` '' = to the last key), at most `limit` pairs (0: all). */
  range(start: string, end?: string, limit?: number): Promise<readonly (readonly [string, Uint8Array])[]>;
}

/** A {@link StrongStore} in one process's memory (tests, single-node embedding without a log). */
export class MemoryStrongStore implements StrongStore {
  readonly #data = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | null> {
    return this.#data.get(key) ?? null;
  }
  async put(key: string, value: Uint8Array): Promise<void> {
    this.#data.set(key, value);
  }
  async delete(key: string): Promise<boolean> {
    return this.#data.delete(key);
  }
  async cas(key: string, expected: Uint8Array | null, value: Uint8Array): Promise<boolean> {
    const cur = this.#data.get(key);
    const ok = expected === null ? cur === undefined : cur !== undefined && equalBytes(cur, expected);
    if (ok) this.#data.set(key, value);
    return ok;
  }
  async range(start: string, end = '', limit = 0): Promise<readonly (readonly [string, Uint8Array])[]> {
    const keys = [...this.#data.keys()].filter((k) => k >= start && (end === '' || k < end)).sort();
    return keys.slice(0, limit === 0 ? undefined : limit).map((k) => [k, this.#data.get(k)!] as const);
  }
}

/** Byte equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
