import { checksum32 } from '../checksum.js';
import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import type { FileHandle, FileIO } from '../fs/file-io.js';
import { assertInteger, assertString } from '../validate.js';
import {
  assertHardState,
  type DurableLog,
  type HardState,
  type LogEntry,
  LogMirror,
  logCorrupt,
  type SnapshotMarker,
} from './durable-log.js';

/** Options for {@link FileDurableLog}. */
export interface FileDurableLogOptions {
  /** File system to use (`nodeFileIO()` in production). */
  readonly io: FileIO;
  /** Directory holding the segments; created if missing. */
  readonly dir: string;
  /** A segment is closed and a new one started once it exceeds this size (default 64 MiB). */
  readonly segmentBytes?: number;
  /** Largest record accepted on recovery; a longer length field is treated as damage (default 64 MiB). */
  readonly maxRecordBytes?: number;
}

/** What recovery found, for logs and tests. */
export interface FileDurableLogRecovery {
  /** Segment files replayed. */
  readonly segments: number;
  /** Records replayed. */
  readonly records: number;
  /** Bytes cut from the end of the last segment (a torn tail), 0 when it was clean. */
  readonly tornBytes: number;
}

const HEADER = 8; // u32 body length, u32 crc32(body)
const T_ENTRY = 1;
const T_TRUNCATE = 2;
const T_HARD = 3;
const T_COMPACT = 4;
const SEGMENT_SUFFIX = '.wal';
const SEGMENT_DIGITS = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

interface Pending {
  readonly bytes: Uint8Array;
  readonly maxIndex: number;
  /** Snapshot marker and hard state just before this mutation (for a segment checkpoint written ahead of it). */
  readonly snapshotBefore: SnapshotMarker;
  readonly hardBefore: HardState;
  /** Snapshot index just after it. */
  readonly snapshotAfter: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface Segment {
  readonly seq: number;
  /** Highest entry index written into this segment (0: none). */
  maxIndex: number;
}

/**
 * A {@link DurableLog} on a {@link FileIO}: a segmented write-ahead log.
 * Every change is one record `[u32 length][u32 crc32][type][payload]`
 * appended to the newest segment; mutations issued while an fsync is in
 * flight are written together and covered by the next fsync (group commit),
 * so a burst of appends costs one `datasync`. Each segment starts with a
 * checkpoint (hard state and snapshot marker), so whole segments below a
 * compaction point can be deleted. Recovery replays the segments in order,
 * cuts a torn tail off the last one (a record that fails its checksum with
 * no valid record after it) and refuses, with `CORE_LOG_CORRUPT`, a
 * damaged record followed by valid ones, damage in an earlier segment, or
 * records that contradict each other. The format is in docs/protocol/raft.md.
 *
 * After a failed write or fsync the log refuses further mutations (the
 * state of the page cache is then unknown); reopen it to recover.
 */
export class FileDurableLog implements DurableLog {
  readonly #io: FileIO;
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #maxRecord: number;
  readonly #mirror = new LogMirror();
  #segments: Segment[] = [];
  #handle: FileHandle | undefined;
  #size = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #failed: unknown;
  #state: 'new' | 'open' | 'closed' = 'new';
  /** Snapshot index as of the last batch taken for writing, and as of the last one made durable. */
  #pendingSnapshot = 0;
  #durableSnapshot = 0;
  #recovery: FileDurableLogRecovery = { segments: 0, records: 0, tornBytes: 0 };

  constructor(options: FileDurableLogOptions) {
    assertString('options.dir', options.dir, { nonEmpty: true });
    this.#io = options.io;
    this.#dir = options.dir.replace(/\/+$/, '') || '/';
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#maxRecord = options.maxRecordBytes ?? 64 * 1024 * 1024;
    assertInteger('options.segmentBytes', this.#segmentBytes, { min: 1 });
    assertInteger('options.maxRecordBytes', this.#maxRecord, { min: 64 });
  }

  /** What the last {@link open} recovered. */
  get recovery(): FileDurableLogRecovery {
    return this.#recovery;
  }

  /** Number of segment files currently in use. */
  get segmentCount(): number {
    return this.#segments.length;
  }

  async open(): Promise<void> {
    if (this.#state !== 'new') {
      throw new NovacronError(CoreErrorCode.INVALID_STATE, 'file durable log: open called twice', { details: {} });
    }
    await this.#makeDir();
    const names = (await this.#io.list(this.#dir)).filter((n) => n.endsWith(SEGMENT_SUFFIX));
    const seqs = names.map((n) => Number.parseInt(n.slice(0, -SEGMENT_SUFFIX.length), 10));
    seqs.sort((a, b) => a - b);
    let records = 0;
    let torn = 0;
    const parsed: { seg: Segment; records: ParsedRecord[] }[] = [];
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      if (!Number.isSafeInteger(seq)) throw logCorrupt(`unexpected segment name in ${this.#dir}`, { seq });
      if (i > 0 && seq !== seqs[i - 1]! + 1) {
        throw logCorrupt(`segment ${seqs[i - 1]! + 1} is missing`, { dir: this.#dir, missing: seqs[i - 1]! + 1 });
      }
      const seg: Segment = { seq, maxIndex: 0 };
      const result = await this.#readSegment(seq, i === seqs.length - 1);
      records += result.records.length;
      if (result.validBytes < result.size) {
        torn = result.size - result.validBytes;
        const h = await this.#io.open(this.#path(seq), 'r+');
        await h.truncate(result.validBytes);
        await h.datasync();
        await h.close();
      }
      parsed.push({ seg, records: result.records });
      this.#segments.push(seg);
    }
    // Segments wholly below a compaction may have been deleted, so replay
    // starts from the newest compaction marker anywhere in the log: records
    // about entries it covers are then moot.
    let base: SnapshotMarker = { index: 0, term: 0 };
    for (const { records: recs } of parsed) {
      for (const r of recs) {
        if (r.body[0] !== T_COMPACT || r.body.length !== 17) continue;
        const view = new DataView(r.body.buffer, r.body.byteOffset, r.body.byteLength);
        const index = readU64(view, 1);
        if (index > base.index) base = { index, term: readU64(view, 9) };
      }
    }
    this.#mirror.compact(base.index, base.term);
    for (const { seg, records: recs } of parsed) for (const r of recs) this.#applyRecord(r, seg);
    this.#recovery = { segments: seqs.length, records, tornBytes: torn };
    this.#durableSnapshot = this.#pendingSnapshot = this.#mirror.snapshot().index;
    // Always continue in a fresh segment that starts with a checkpoint, so
    // every segment this instance writes can stand first after compaction.
    await this.#startSegment((seqs.at(-1) ?? -1) + 1, []);
    this.#state = 'open';
  }

  /** Creates the directory and every missing parent, each name made durable in its parent. */
  async #makeDir(): Promise<void> {
    const missing: string[] = [];
    for (let d = this.#dir; d !== '/' && d !== '.' && d !== ''; d = parentOf(d)) {
      if ((await this.#io.stat(d)) !== undefined) break;
      missing.push(d);
    }
    if (missing.length === 0) return;
    await this.#io.mkdir(this.#dir);
    for (const d of missing.reverse()) await this.#io.syncDir(parentOf(d));
  }

  firstIndex(): number {
    return this.#mirror.firstIndex();
  }
  lastIndex(): number {
    return this.#mirror.lastIndex();
  }
  term(index: number): number | undefined {
    return this.#mirror.term(index);
  }
  entries(from: number, to: number, maxBytes?: number): LogEntry[] {
    return this.#mirror.entries(from, to, maxBytes);
  }
  snapshot(): SnapshotMarker {
    return this.#mirror.snapshot();
  }
  hardState(): HardState {
    return this.#mirror.hardState();
  }

  append(entries: readonly LogEntry[]): Promise<void> {
    return this.#mutate('append', () => {
      this.#mirror.checkAppend(entries);
      this.#mirror.append(entries);
      let size = 0;
      const bodies = entries.map((e) => {
        const body = encodeEntry(e);
        size += HEADER + body.length;
        return body;
      });
      const out = new Uint8Array(size);
      let at = 0;
      for (const body of bodies) at = writeRecord(out, at, body);
      return { bytes: out, maxIndex: entries.at(-1)?.index ?? 0 };
    });
  }

  truncateSuffix(from: number): Promise<void> {
    return this.#mutate('truncateSuffix', () => {
      this.#mirror.checkTruncate(from);
      this.#mirror.truncateSuffix(from);
      return { bytes: record(encodeU64Pair(T_TRUNCATE, from, 0, 9)), maxIndex: 0 };
    });
  }

  compact(index: number, term: number): Promise<void> {
    return this.#mutate('compact', () => {
      this.#mirror.checkCompact(index, term);
      if (index <= this.#mirror.snapshot().index) return { bytes: new Uint8Array(0), maxIndex: 0 };
      this.#mirror.compact(index, term);
      return { bytes: record(encodeU64Pair(T_COMPACT, index, term, 17)), maxIndex: 0 };
    });
  }

  setHardState(state: HardState): Promise<void> {
    return this.#mutate('setHardState', () => {
      assertHardState(state);
      this.#mirror.setHardState(state);
      return { bytes: record(encodeHard(state)), maxIndex: 0 };
    });
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    while (this.#flushing) await this.#flushing.catch(() => undefined);
    await this.#handle?.close();
    this.#handle = undefined;
  }

  #mutate(op: string, build: () => { bytes: Uint8Array; maxIndex: number }): Promise<void> {
    try {
      if (this.#state !== 'open') {
        throw new NovacronError(CoreErrorCode.INVALID_STATE, `file durable log: ${op} on a log that is not open`, {
          details: { op },
        });
      }
      if (this.#failed !== undefined) throw this.#failedError(op);
      const snapshotBefore = this.#mirror.snapshot();
      const hardBefore = this.#mirror.hardState();
      const { bytes, maxIndex } = build();
      const snapshotAfter = this.#mirror.snapshot().index;
      return new Promise<void>((resolve, reject) => {
        this.#queue.push({ bytes, maxIndex, snapshotBefore, hardBefore, snapshotAfter, resolve, reject });
        this.#flushing ??= this.#flushLoop();
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #failedError(op: string): NovacronError {
    return new NovacronError(CoreErrorCode.FILE_IO, `file durable log: ${op} after an earlier write failed`, {
      details: { op },
      cause: this.#failed,
    });
  }

  /** Writes and syncs queued records batch by batch; what queues during an fsync goes into the next batch. */
  async #flushLoop(): Promise<void> {
    try {
      // Start on a microtask: every mutation issued in the same synchronous
      // turn (a Raft Ready's entries and hard state) joins the first batch
      // instead of costing a write and an fsync of its own.
      await Promise.resolve();
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        this.#pendingSnapshot = batch.at(-1)!.snapshotAfter;
        if (this.#failed !== undefined) {
          for (const p of batch) p.reject(this.#failedError('write'));
          continue;
        }
        try {
          await this.#writeBatch(batch);
        } catch (err) {
          this.#failed = err;
          for (const p of batch) p.reject(err);
          continue;
        }
        for (const p of batch) p.resolve();
        if (this.#pendingSnapshot > this.#durableSnapshot) {
          this.#durableSnapshot = this.#pendingSnapshot;
          await this.#dropSegments().catch((err) => {
            this.#failed ??= err;
          });
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #writeBatch(batch: readonly Pending[]): Promise<void> {
    let total = 0;
    let maxIndex = 0;
    for (const p of batch) {
      total += p.bytes.length;
      maxIndex = Math.max(maxIndex, p.maxIndex);
    }
    if (total === 0) return;
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const p of batch) {
      bytes.set(p.bytes, at);
      at += p.bytes.length;
    }
    if (this.#size >= this.#segmentBytes) {
      await this.#startSegment(this.#segments.at(-1)!.seq + 1, [bytes], batch[0]!);
    } else {
      await this.#handle!.write(bytes, this.#size);
      await this.#handle!.datasync();
      this.#size += bytes.length;
    }
    const seg = this.#segments.at(-1)!;
    seg.maxIndex = Math.max(seg.maxIndex, maxIndex);
  }

  /** Creates segment `seq` holding a checkpoint and `payload`, durable (data and name) before it returns. */
  async #startSegment(seq: number, payload: Uint8Array[], before?: Pending): Promise<void> {
    // The checkpoint holds the state just before `payload`: the mirror may
    // already be ahead (mutations queued after this batch), and a marker
    // ahead of the entries written would contradict them after a crash.
    const snap = before ? before.snapshotBefore : this.#mirror.snapshot();
    const hard = before ? before.hardBefore : this.#mirror.hardState();
    const parts = [record(encodeHard(hard)), record(encodeU64Pair(T_COMPACT, snap.index, snap.term, 17)), ...payload];
    const bytes = concat(parts);
    const h = await this.#io.open(this.#path(seq), 'wx', 0o644);
    await h.write(bytes, 0);
    await h.datasync();
    await this.#io.syncDir(this.#dir);
    await this.#handle?.close();
    this.#handle = h;
    this.#size = bytes.length;
    this.#segments.push({ seq, maxIndex: 0 });
    await this.#dropSegments();
  }

  /**
   * Deletes leading segments (never the newest) whose entries are all
   * covered by the durable snapshot marker, oldest first. The newest
   * compaction marker survives them (as a record in a later segment or
   * in the newest segment's checkpoint), and replay starts from it.
   */
  async #dropSegments(): Promise<void> {
    const covered = this.#durableSnapshot;
    while (this.#segments.length > 1 && this.#segments[0]!.maxIndex <= covered) {
      const seg = this.#segments[0]!;
      await this.#io.remove(this.#path(seg.seq));
      // One removal durable at a time keeps the survivors a contiguous run.
      await this.#io.syncDir(this.#dir);
      this.#segments.shift();
    }
  }

  async #readSegment(
    seq: number,
    last: boolean,
  ): Promise<{ records: ParsedRecord[]; validBytes: number; size: number }> {
    const data = await this.#io.readFile(this.#path(seq));
    let at = 0;
    const records: ParsedRecord[] = [];
    while (at < data.length) {
      const parsed = parseRecord(data, at, this.#maxRecord);
      if (parsed === undefined) {
        if (last && !this.#validRecordAfter(data, at)) return { records, validBytes: at, size: data.length };
        throw logCorrupt(`damaged record in segment ${seq} at byte ${at}`, {
          dir: this.#dir,
          segment: seq,
          offset: at,
        });
      }
      records.push(parsed);
      at = parsed.end;
    }
    return { records, validBytes: at, size: data.length };
  }

  /** True when a record with a valid checksum starts anywhere after `from`: damage, not a torn tail. */
  #validRecordAfter(data: Uint8Array, from: number): boolean {
    for (let at = from + 1; at + HEADER < data.length; at++) {
      if (parseRecord(data, at, this.#maxRecord) !== undefined) return true;
    }
    return false;
  }

  #applyRecord(rec: ParsedRecord, seg: Segment): void {
    const offset = rec.end - rec.body.length - HEADER;
    const m = this.#mirror;
    const bad = (why: string) =>
      logCorrupt(`segment ${seg.seq} byte ${offset}: ${why}`, { dir: this.#dir, segment: seg.seq, offset });
    const body = rec.body;
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    switch (body[0]) {
      case T_ENTRY: {
        if (body.length < 17) throw bad('short entry record');
        const index = readU64(view, 1);
        const term = readU64(view, 9);
        const entry: LogEntry = { index, term, data: body.slice(17) };
        seg.maxIndex = Math.max(seg.maxIndex, index);
        if (index <= m.snapshot().index) {
          // Writing entry `index` cut the log after it, which removes
          // everything replayed so far beyond the marker.
          m.truncateSuffix(m.snapshot().index + 1);
          return;
        }
        if (index > m.lastIndex() + 1) throw bad(`entry ${index} leaves a gap after ${m.lastIndex()}`);
        // The marker replay starts from may postdate this entry (a later
        // rewrite of the prefix), so terms are compared between entries only.
        const prev = index - 1 > m.snapshot().index ? m.term(index - 1) : undefined;
        if (prev !== undefined && term < prev) throw bad(`entry ${index} has a lower term than its predecessor`);
        m.append([entry]);
        return;
      }
      case T_TRUNCATE: {
        if (body.length !== 17) throw bad('bad truncate record');
        const from = readU64(view, 1);
        if (from > m.lastIndex() + 1) throw bad(`truncation at ${from} beyond the end`);
        // A truncation at or below the marker replay starts from (a
        // snapshot installed over a conflicting suffix: truncate, then
        // compact) still removes every entry replayed so far beyond it.
        m.truncateSuffix(Math.max(from, m.snapshot().index + 1));
        return;
      }
      case T_COMPACT: {
        if (body.length !== 17) throw bad('bad compaction record');
        const index = readU64(view, 1);
        const term = readU64(view, 9);
        const snap = m.snapshot();
        if (index <= snap.index) return;
        m.compact(index, term);
        return;
      }
      case T_HARD: {
        if (body.length < 19) throw bad('short hard-state record');
        const term = readU64(view, 1);
        const commit = readU64(view, 9);
        const voteLen = view.getUint16(17);
        let vote: string | null = null;
        if (voteLen !== 0xffff) {
          if (body.length !== 19 + voteLen) throw bad('bad vote length');
          try {
            vote = fromUtf8.decode(body.subarray(19));
          } catch {
            throw bad('vote is not UTF-8');
          }
        } else if (body.length !== 19) throw bad('bad hard-state record');
        m.setHardState({ term, vote, commit });
        return;
      }
      default:
        throw bad(`unknown record type ${body[0]}`);
    }
  }

  #path(seq: number): string {
    return `${this.#dir}/${String(seq).padStart(SEGMENT_DIGITS, '0')}${SEGMENT_SUFFIX}`;
  }
}

function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  if (at < 0) return '.';
  return at === 0 ? '/' : path.slice(0, at);
}

interface ParsedRecord {
  readonly body: Uint8Array;
  readonly end: number;
}

function parseRecord(data: Uint8Array, at: number, maxRecord: number): ParsedRecord | undefined {
  if (at + HEADER > data.length) return undefined;
  const view = new DataView(data.buffer, data.byteOffset + at, HEADER);
  const len = view.getUint32(0);
  const crc = view.getUint32(4);
  if (len === 0 || len > maxRecord || at + HEADER + len > data.length) return undefined;
  const body = data.subarray(at + HEADER, at + HEADER + len);
  if (body[0]! < T_ENTRY || body[0]! > T_COMPACT) return undefined;
  if (checksum32(body) !== crc) return undefined;
  return { body, end: at + HEADER + len };
}

function writeRecord(out: Uint8Array, at: number, body: Uint8Array): number {
  const view = new DataView(out.buffer, out.byteOffset + at, HEADER);
  view.setUint32(0, body.length);
  view.setUint32(4, checksum32(body));
  out.set(body, at + HEADER);
  return at + HEADER + body.length;
}

function record(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + body.length);
  writeRecord(out, 0, body);
  return out;
}

function writeU64(view: DataView, at: number, n: number): void {
  view.setUint32(at, Math.floor(n / 0x1_0000_0000));
  view.setUint32(at + 4, n >>> 0);
}

function readU64(view: DataView, at: number): number {
  return view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
}

function encodeEntry(e: LogEntry): Uint8Array {
  const body = new Uint8Array(17 + e.data.length);
  const view = new DataView(body.buffer);
  body[0] = T_ENTRY;
  writeU64(view, 1, e.index);
  writeU64(view, 9, e.term);
  body.set(e.data, 17);
  return body;
}

function encodeU64Pair(type: number, a: number, b: number, length: 9 | 17): Uint8Array {
  const body = new Uint8Array(17);
  const view = new DataView(body.buffer);
  body[0] = type;
  writeU64(view, 1, a);
  writeU64(view, 9, length === 17 ? b : 0);
  return body;
}

function encodeHard(state: HardState): Uint8Array {
  const vote = state.vote === null ? undefined : utf8.encode(state.vote);
  const body = new Uint8Array(19 + (vote?.length ?? 0));
  const view = new DataView(body.buffer);
  body[0] = T_HARD;
  writeU64(view, 1, state.term);
  writeU64(view, 9, state.commit);
  view.setUint16(17, vote === undefined ? 0xffff : vote.length);
  if (vote) body.set(vote, 19);
  return body;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
