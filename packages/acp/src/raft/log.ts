import { type LogEntry, NovacronError, type SnapshotMarker } from '@novacron/core';
import { AcpErrorCode } from '../errors.js';

/**
 * The Raft log as the state machine sees it: every entry after the
 * snapshot marker, in memory, plus which suffix has not been handed to
 * storage yet (`unstableFrom`) and the commit and apply positions. The
 * runtime persists what {@link RaftLog.unstable} returns to a
 * `DurableLog` and then calls {@link RaftLog.stableTo}.
 */
export class RaftLog {
  #snapshot: SnapshotMarker;
  #entries: LogEntry[];
  /** Lowest index changed since the last hand-off to storage. */
  #unstableFrom: number;
  /** Lowest index rewritten (by a conflict) since the last {@link unstable} call. */
  #rewrittenSince = Number.POSITIVE_INFINITY;
  /** Highest index known committed. */
  committed: number;
  /** Highest index handed out for applying. */
  applied: number;

  constructor(snapshot: SnapshotMarker, entries: readonly LogEntry[], committed: number) {
    this.#snapshot = snapshot;
    this.#entries = entries.slice();
    this.#unstableFrom = this.lastIndex() + 1;
    this.committed = Math.max(snapshot.index, Math.min(committed, this.lastIndex()));
    this.applied = snapshot.index;
  }

  /** Index of the first entry held. */
  firstIndex(): number {
    return this.#snapshot.index + 1;
  }

  /** Index of the last entry (the snapshot's when empty). */
  lastIndex(): number {
    return this.#snapshot.index + this.#entries.length;
  }

  /** Term of the last entry. */
  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** The snapshot marker below the first entry. */
  snapshot(): SnapshotMarker {
    return this.#snapshot;
  }

  /** Term at `index`, or `undefined` when compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.#snapshot.index) return this.#snapshot.term;
    if (index < this.#snapshot.index || index > this.lastIndex()) return undefined;
    return this.#entries[index - this.#snapshot.index - 1]!.term;
  }

  /** True when the entry at `index` has `term`. */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Entries in [from, to), at most `maxBytes` of data but at least one. */
  slice(
    from: number,
    to: number,
    maxBytes = Number.POSITIVE_INFINITY,
    maxCount = Number.POSITIVE_INFINITY,
  ): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    const base = this.#snapshot.index + 1;
    for (let i = Math.max(from, base); i < to && i <= this.lastIndex(); i++) {
      const e = this.#entries[i - base]!;
      bytes += e.data.length;
      if (out.length > 0 && (bytes > maxBytes || out.length >= maxCount)) break;
      out.push(e);
    }
    return out;
  }

  /** Appends after the last entry (leader side). */
  append(entries: readonly LogEntry[]): void {
    for (const e of entries) this.#entries.push(e);
  }

  /**
   * Follower side of AppendEntries: given entries that follow a matching
   * `prevIndex`, skips those already present with equal terms, truncates at
   * the first conflict and appends the rest. Returns the index of the last
   * new entry.
   */
  merge(prevIndex: number, entries: readonly LogEntry[]): number {
    let i = 0;
    while (i < entries.length) {
      const e = entries[i]!;
      if (e.index <= this.#snapshot.index || this.term(e.index) === e.term) {
        i++;
        continue;
      }
      break;
    }
    if (i < entries.length) {
      const first = entries[i]!.index;
      if (first <= this.committed) {
        throw new NovacronError(
          AcpErrorCode.RAFT_PROTOCOL_VIOLATION,
          `raft: append conflicts with committed entry ${first}`,
          {
            details: { index: first, committed: this.committed },
          },
        );
      }
      this.#entries.length = first - this.#snapshot.index - 1;
      this.#unstableFrom = Math.min(this.#unstableFrom, first);
      this.#rewrittenSince = Math.min(this.#rewrittenSince, first);
      for (let k = i; k < entries.length; k++) this.#entries.push(entries[k]!);
    }
    return prevIndex + entries.length;
  }

  /**
   * The largest index `<= index` whose term is `<= term` (the first index of
   * a possible match when backing up after a rejected append).
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.#snapshot.index; i--) {
      if (this.term(i)! <= term) break;
    }
    return i;
  }

  /** True when a log ending at (`index`, `term`) is at least as up to date as this one (Raft §5.4.1). */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex());
  }

  /** Raises the commit index (never lowers it). */
  commitTo(index: number): boolean {
    const to = Math.min(index, this.lastIndex());
    if (to <= this.committed) return false;
    this.committed = to;
    return true;
  }

  /** True when some entries have not been handed to storage. */
  hasUnstable(): boolean {
    return Math.max(this.#unstableFrom, this.firstIndex()) <= this.lastIndex();
  }

  /**
   * Entries not yet handed to storage (the whole changed suffix). Pass the
   * last index returned to {@link stableTo} once they are durable.
   */
  unstable(): LogEntry[] {
    this.#rewrittenSince = Number.POSITIVE_INFINITY;
    if (this.#unstableFrom > this.lastIndex()) return [];
    return this.slice(this.#unstableFrom, this.lastIndex() + 1);
  }

  /** Index of the last entry handed to storage. */
  stableIndex(): number {
    return Math.min(this.#unstableFrom - 1, this.lastIndex());
  }

  /**
   * Marks entries up to `index` durable, unless a conflict rewrote part of
   * them after they were handed out (then they go out again).
   */
  stableTo(index: number): void {
    // Never below the first held entry: a rewrite that a snapshot has since
    // compacted away needs no storing.
    this.#unstableFrom = Math.max(this.firstIndex(), Math.min(index + 1, this.#rewrittenSince, this.lastIndex() + 1));
  }

  /** Committed entries not yet handed out for applying, up to `maxIndex` (the stable end). */
  nextToApply(maxIndex: number): LogEntry[] {
    const to = Math.min(this.committed, maxIndex);
    if (to <= this.applied) return [];
    return this.slice(this.applied + 1, to + 1);
  }

  /**
   * Installs a snapshot received from a leader: keeps the entries after it
   * when the log holds the snapshot's last entry with the same term (Raft
   * §7), otherwise discards the whole log.
   */
  restoreSnapshot(index: number, term: number): void {
    if (this.term(index) !== term) {
      this.#entries = [];
      this.#snapshot = { index, term };
      this.#unstableFrom = index + 1;
      this.#rewrittenSince = Math.min(this.#rewrittenSince, index + 1);
    } else {
      this.compact(index, term);
    }
    this.committed = Math.max(this.committed, index);
    this.applied = Math.max(this.applied, index);
  }

  /** Drops entries up to `index` (covered by a snapshot with `term`). */
  compact(index: number, term: number): void {
    if (index <= this.#snapshot.index) return;
    if (index >= this.lastIndex()) this.#entries = [];
    else this.#entries = this.#entries.slice(index - this.#snapshot.index);
    this.#snapshot = { index, term };
    this.#unstableFrom = Math.max(this.#unstableFrom, index + 1);
    this.#rewrittenSince = Math.max(this.#rewrittenSince, index + 1);
    this.committed = Math.max(this.committed, index);
    this.applied = Math.max(this.applied, index);
  }
}
