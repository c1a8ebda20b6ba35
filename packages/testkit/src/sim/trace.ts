import { createHash, type Hash } from 'node:crypto';

/** One recorded simulation event. */
export interface TraceEvent {
  /** Virtual time in milliseconds. */
  readonly at: number;
  /** Event kind: `send`, `deliver`, `drop`, `timer`, `fault`, `crash`, `restart`, ... */
  readonly kind: string;
  /** Event facts; must be JSON-serialisable with a stable key order. */
  readonly fields: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * The record of a run. Every event is folded into a running SHA-256, so two
 * runs are identical exactly when their hashes are; events themselves are
 * kept only when `keep` is set (long runs would otherwise grow without bound).
 */
export class Trace {
  #hash: Hash = createHash('sha256');
  // Lines not yet fed to the hash: one update per ~4 KiB instead of per
  // event (the digest of a concatenation is the same).
  #pending = '';
  #count = 0;
  readonly #events: TraceEvent[] | undefined;
  readonly #limit: number;

  /** @param options.keep keep up to this many events for inspection (default 0). */
  constructor(options: { keep?: number } = {}) {
    this.#limit = options.keep ?? 0;
    this.#events = this.#limit > 0 ? [] : undefined;
  }

  /** Records an event at virtual time `at`. */
  record(at: number, kind: string, fields: TraceEvent['fields'] = {}): void {
    const keys = Object.keys(fields);
    if (!isSorted(keys)) keys.sort();
    let line = `${at}|${kind}`;
    for (const k of keys) line += `|${k}=${String(fields[k])}`;
    this.#pending += `${line}\n`;
    if (this.#pending.length >= 4096) this.#flush();
    this.#count++;
    if (this.#events && this.#events.length < this.#limit) this.#events.push({ at, kind, fields });
  }

  /** Number of events recorded. */
  get count(): number {
    return this.#count;
  }

  /** Kept events (empty unless constructed with `keep`). */
  get events(): readonly TraceEvent[] {
    return this.#events ?? [];
  }

  /** Hex SHA-256 over every event so far; identifies the run. */
  hash(): string {
    this.#flush();
    return this.#hash.copy().digest('hex');
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    this.#hash.update(this.#pending);
    this.#pending = '';
  }
}

function isSorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}
