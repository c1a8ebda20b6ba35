import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { assertBytes, assertInteger, invalidArgument } from '../validate.js';

/**
 * The persistent log a consensus protocol (Raft, PBFT) or an update log
 * (ass's CRDT log) keeps: numbered entries tagged with a term, a snapshot
 * marker below which entries have been compacted away, and a small hard
 * state. Reads are synchronous (implementations keep the live suffix in
 * memory, as etcd's MemoryStorage does in front of its WAL); every mutation
 * returns a promise that resolves only once the change is durable, so a
 * caller acts on it (votes, acknowledges) only after it survives a crash.
 *
 * Mutations take effect in memory immediately and in call order; a caller
 * may issue several without awaiting and wait for the last one.
 */
export interface DurableLog {
  /**
   * Opens the log, recovering what is on storage. Must be called (and
   * awaited) before anything else.
   *
   * @throws `CORE_LOG_CORRUPT` when stored records fail their checksum or
   *   contradict each other anywhere but in a torn tail.
   */
  open(): Promise<void>;
  /** Index of the first entry held (`snapshot().index + 1`, even when the log is empty). */
  firstIndex(): number;
  /** Index of the last entry, or `snapshot().index` when no entry follows it. */
  lastIndex(): number;
  /**
   * Term of the entry at `index`; for `snapshot().index` the snapshot's
   * term; `undefined` when the index is compacted away or beyond the end.
   */
  term(index: number): number | undefined;
  /**
   * Entries with `from <= index < to`, at most `maxBytes` of data (at least
   * one entry whenever the range is non-empty).
   *
   * @throws `CORE_INVALID_ARGUMENT` when the range is not within
   *   [firstIndex, lastIndex + 1].
   */
  entries(from: number, to: number, maxBytes?: number): LogEntry[];
  /**
   * Appends entries. The first entry's index must be at most
   * `lastIndex() + 1` and at least `firstIndex()`; entries at and after it
   * are replaced (the suffix is truncated first). Indexes must be
   * consecutive and terms non-decreasing.
   */
  append(entries: readonly LogEntry[]): Promise<void>;
  /** Removes every entry with `index >= from` (`from` in [firstIndex, lastIndex + 1]). */
  truncateSuffix(from: number): Promise<void>;
  /**
   * Discards every entry up to and including `index`, recording that a
   * snapshot with `term` covers them. An index beyond the end empties the
   * log (a snapshot installed from a leader); an index not above the
   * current snapshot is ignored.
   */
  compact(index: number, term: number): Promise<void>;
  /** The last snapshot marker (`{ index: 0, term: 0 }` initially). */
  snapshot(): SnapshotMarker;
  /** The hard state as last set. */
  hardState(): HardState;
  /** Replaces the hard state. */
  setHardState(state: HardState): Promise<void>;
  /** Waits for pending writes and releases resources; further mutations fail with `CORE_INVALID_STATE`. */
  close(): Promise<void>;
}

/** One entry of a {@link DurableLog}. */
export interface LogEntry {
  /** Position, starting at 1. */
  readonly index: number;
  /** Term (Raft) or view (PBFT) in which the entry was created. */
  readonly term: number;
  /** Opaque payload. */
  readonly data: Uint8Array;
}

/** The state a consensus node must persist before acting on it. */
export interface HardState {
  /** Current term. */
  readonly term: number;
  /** Node voted for in `term`, or `null`. */
  readonly vote: string | null;
  /** Highest index known committed (an optimisation: recoverable from peers). */
  readonly commit: number;
}

/** Where the compacted prefix of a log ends. */
export interface SnapshotMarker {
  /** Last index covered by the snapshot (0: none). */
  readonly index: number;
  /** Term of that entry. */
  readonly term: number;
}

/** Largest index or term a log accepts (a safe integer that fits two 32-bit words). */
export const MAX_LOG_INDEX = Number.MAX_SAFE_INTEGER;
/** Longest vote (node id) a hard state may carry, in UTF-8 bytes. */
export const MAX_VOTE_BYTES = 1024;

/** The empty hard state a fresh log starts with. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

/** Checks a hard state's shape; throws `CORE_INVALID_ARGUMENT`. */
export function assertHardState(state: HardState): void {
  if (typeof state !== 'object' || state === null) throw invalidArgument('state', 'a hard state', state);
  assertInteger('state.term', state.term, { min: 0, max: MAX_LOG_INDEX });
  assertInteger('state.commit', state.commit, { min: 0, max: MAX_LOG_INDEX });
  if (state.vote !== null && (typeof state.vote !== 'string' || state.vote.length > MAX_VOTE_BYTES)) {
    throw invalidArgument('state.vote', 'null or a node id', state.vote);
  }
}

/** Checks that `entries` are well-formed, consecutive and of non-decreasing term; throws `CORE_INVALID_ARGUMENT`. */
export function assertEntries(entries: readonly LogEntry[]): void {
  if (!Array.isArray(entries)) throw invalidArgument('entries', 'an array of log entries', entries);
  let prev: LogEntry | undefined;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (typeof e !== 'object' || e === null) throw invalidArgument(`entries[${i}]`, 'a log entry', e);
    assertInteger(`entries[${i}].index`, e.index, { min: 1, max: MAX_LOG_INDEX });
    assertInteger(`entries[${i}].term`, e.term, { min: 0, max: MAX_LOG_INDEX });
    assertBytes(`entries[${i}].data`, e.data);
    if (prev !== undefined) {
      if (e.index !== prev.index + 1) throw invalidArgument(`entries[${i}].index`, `${prev.index + 1}`, e.index);
      if (e.term < prev.term) throw invalidArgument(`entries[${i}].term`, `>= ${prev.term}`, e.term);
    }
    prev = e;
  }
}

/** Builds the `CORE_LOG_CORRUPT` error. */
export function logCorrupt(message: string, details: Record<string, unknown>): NovacronError {
  return new NovacronError(CoreErrorCode.LOG_CORRUPT, message, { details });
}

/**
 * The in-memory half every {@link DurableLog} shares: the live suffix of
 * entries after the snapshot marker, with the argument checks of the
 * contract. Stores persist the same changes and replay them into one of
 * these on recovery.
 */
export class LogMirror {
  #entries: LogEntry[] = [];
  #snapshot: SnapshotMarker = { index: 0, term: 0 };
  #hard: HardState = EMPTY_HARD_STATE;

  /** See {@link DurableLog.firstIndex}. */
  firstIndex(): number {
    return this.#snapshot.index + 1;
  }

  /** See {@link DurableLog.lastIndex}. */
  lastIndex(): number {
    return this.#snapshot.index + this.#entries.length;
  }

  /** See {@link DurableLog.term}. */
  term(index: number): number | undefined {
    if (index === this.#snapshot.index) return this.#snapshot.term;
    if (index < this.#snapshot.index || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#snapshot.index - 1]!.term;
  }

  /** See {@link DurableLog.entries}. */
  entries(from: number, to: number, maxBytes = Number.POSITIVE_INFINITY): LogEntry[] {
    assertInteger('from', from, { min: this.firstIndex(), max: this.lastIndex() + 1 });
    assertInteger('to', to, { min: from, max: this.lastIndex() + 1 });
    if (!(maxBytes > 0)) throw invalidArgument('maxBytes', 'a positive number', maxBytes);
    const base = this.#snapshot.index + 1;
    const out: LogEntry[] = [];
    let bytes = 0;
    for (let i = from; i < to; i++) {
      const e = this.#entries[i - base]!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** See {@link DurableLog.snapshot}. */
  snapshot(): SnapshotMarker {
    return this.#snapshot;
  }

  /** See {@link DurableLog.hardState}. */
  hardState(): HardState {
    return this.#hard;
  }

  /** Validates an append against the current state (no change). */
  checkAppend(entries: readonly LogEntry[]): void {
    assertEntries(entries);
    if (entries.length === 0) return;
    const first = entries[0]!;
    if (first.index < this.firstIndex() || first.index > this.lastIndex() + 1) {
      throw invalidArgument('entries[0].index', `in [${this.firstIndex()}, ${this.lastIndex() + 1}]`, first.index);
    }
    const prevTerm = this.term(first.index - 1);
    if (prevTerm !== undefined && first.term < prevTerm) {
      throw invalidArgument('entries[0].term', `>= ${prevTerm} (term of the preceding entry)`, first.term);
    }
  }

  /** Applies an append (checked with `checkAppend`). */
  append(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    this.truncateSuffix(entries[0]!.index);
    for (const e of entries) this.#entries.push({ index: e.index, term: e.term, data: e.data });
  }

  /** Validates a suffix truncation (no change). */
  checkTruncate(from: number): void {
    assertInteger('from', from, { min: this.firstIndex(), max: this.lastIndex() + 1 });
  }

  /** Removes entries from `from` on (unchecked). */
  truncateSuffix(from: number): void {
    this.#entries.length = Math.max(0, from - this.#snapshot.index - 1);
  }

  /** Validates a compaction (no change). */
  checkCompact(index: number, term: number): void {
    assertInteger('index', index, { min: 0, max: MAX_LOG_INDEX });
    assertInteger('term', term, { min: 0, max: MAX_LOG_INDEX });
    const known = this.term(index);
    if (known !== undefined && index > this.#snapshot.index && known !== term) {
      throw invalidArgument('term', `${known} (the term of entry ${index})`, term);
    }
  }

  /** Applies a compaction (unchecked). */
  compact(index: number, term: number): void {
    if (index <= this.#snapshot.index) return;
    if (index >= this.lastIndex()) this.#entries = [];
    else this.#entries = this.#entries.slice(index - this.#snapshot.index);
    this.#snapshot = { index, term };
  }

  /** Replaces the hard state (unchecked). */
  setHardState(state: HardState): void {
    this.#hard = { term: state.term, vote: state.vote, commit: state.commit };
  }
}
