import {
  assertInteger,
  assertNamespace,
  assertStateKey,
  assertStateValue,
  type Clock,
  CoreErrorCode,
  type DurableLog,
  isNovacronError,
  type Logger,
  NovacronError,
  noopLogger,
  type ReadOptions,
  type StateChange,
  type StateEntry,
  type StateSync,
  type StateSyncStatus,
  type WriteOptions,
  type WriteResult,
} from '@novacron/core';
import type { CrdtSync } from '../crdt/crdt-sync.js';
import { CRDT_MAP_NAME } from '../crdt/crdt-sync.js';
import { AssErrorCode } from '../errors.js';
import { decodeOutcomes, encodeSyncCommand, MAX_REPLAY_BATCH, type WriteOutcome } from '../strong/commands.js';
import type { StrongSync } from '../strong/strong-sync.js';
import { decodeEventualWrite, type EventualWrite, encodeEventualWrite } from './eventual-write.js';
import { HybridLogicalClock, type Stamp } from './hlc.js';

/** Default deadline for a hybrid write to commit in the log before it falls back (ms). */
export const DEFAULT_HYBRID_DEADLINE_MS = 100;
/** Write sequence numbers of one start ("epoch") of a node: `epoch * SEQ_EPOCH + counter`. */
export const SEQ_EPOCH = 1_000_000_000;

/** Options of {@link HybridSync}. */
export interface HybridSyncInit {
  /** The log side: a {@link StrongSync} over the cluster's consensus group. */
  readonly strong: StrongSync;
  /** The CRDT side carrying eventual writes to the peers (its namespaces mirror ours). */
  readonly crdt: CrdtSync;
  /** Durable journal of this node's eventual writes until the log decides them (a `FileDurableLog`). */
  readonly journal: DurableLog;
  /** Time source for deadlines and retries. */
  readonly clock: Clock;
  /** This node's id (the origin of its writes); default the CRDT network's local id. */
  readonly id?: string;
  /**
   * How long a write waits for the log before it is accepted as eventual
   * (default {@link DEFAULT_HYBRID_DEADLINE_MS}). Meant for hybrid-mode round
   * trips of 10–50 ms; raise it on slower links.
   */
  readonly deadlineMs?: number;
  /**
   * How long before the deadline a write still waiting for the log starts
   * its journal append (default a quarter of the deadline), so that a write
   * that falls back is already durable when the deadline passes and is
   * acknowledged `eventual` right then, not a disk flush later. A write the
   * log commits in that window leaves a journal record that is later
   * dropped (replayed after a crash, it is a `duplicate`).
   */
  readonly fallbackLeadMs?: number;
  /** Namespaces whose writes fail with `ASS_STRONG_UNAVAILABLE` instead of falling back (the placement ledger is one). */
  readonly strongOnly?: readonly string[];
  /** Pause between replay attempts while the log stays unreachable (default 50 ms). */
  readonly replayRetryMs?: number;
  /** How long one replay attempt may take (default 2000 ms). */
  readonly replayTimeoutMs?: number;
  /** Physical time for stamps (default the clock's ms; pass `() => Date.now()` across processes). */
  readonly physicalTime?: () => number;
  /** Optional logger. */
  readonly logger?: Logger;
}

/** What a hybrid write returns: its level and, for writes that may fall back, its identity in the log. */
export interface HybridWriteResult extends WriteResult {
  /** The writing node (absent for strong-only namespaces). */
  readonly origin?: string;
  /** The origin's write sequence number. */
  readonly seq?: number;
  /** The key's log version the writer had seen. */
  readonly base?: number;
  /** Hybrid logical clock stamp of the write. */
  readonly stamp?: Stamp;
}

interface Pending {
  readonly write: EventualWrite;
  /** Journal index holding it. */
  readonly index: number;
}

/** A journal record being written: its index and when it is durable. */
interface Journaled {
  readonly index: number;
  readonly durable: Promise<void>;
}

/**
 * {@link StateSync} for hybrid links: a write goes to the consensus log
 * with a deadline; if the log cannot commit it in time (leader unreachable,
 * minority partition) it is fsync'd to the local journal, handed to the
 * CRDT layer (peers see it at once) and acknowledged as `eventual`. While
 * eventual writes are pending, later writes queue behind them, and a
 * replayer carries them into the log in the node's order as soon as it is
 * reachable, where the state machine decides each under the conflict rules
 * of docs/protocol/ass.md (a strong write the writer had not seen wins;
 * concurrent eventual writes resolve by hybrid logical clock). Every
 * value shows whether it is `strong` or still `eventual`. Namespaces
 * listed in `strongOnly` never fall back.
 */
export class HybridSync implements StateSync {
  readonly #init: HybridSyncInit;
  readonly #logger: Logger;
  readonly #deadline: number;
  readonly #lead: number;
  readonly #strongOnly: ReadonlySet<string>;
  readonly #retryMs: number;
  readonly #replayTimeoutMs: number;
  readonly #id: string;
  readonly #hlc: HybridLogicalClock;
  readonly #overlay = new Map<string, Map<string, EventualWrite>>();
  readonly #emitted = new Map<string, Map<string, StateEntry>>();
  readonly #seqs = new Map<string, number>();
  readonly #watchers = new Map<string, Set<(c: StateChange) => void>>();
  readonly #waiters = new Map<number, (o: WriteOutcome) => void>();
  #pending: Pending[] = [];
  #epoch = 0;
  #counter = 0;
  #running = false;
  #replaying = false;
  #lastFellBack = false;
  #chain: Promise<unknown> = Promise.resolve();
  #offs: (() => void)[] = [];
  #stopCtl = new AbortController();

  constructor(init: HybridSyncInit) {
    this.#init = init;
    this.#logger = init.logger ?? noopLogger();
    this.#deadline = init.deadlineMs ?? DEFAULT_HYBRID_DEADLINE_MS;
    assertInteger('deadlineMs', this.#deadline, { min: 1 });
    this.#lead = init.fallbackLeadMs ?? Math.floor(this.#deadline / 4);
    assertInteger('fallbackLeadMs', this.#lead, { min: 0, max: this.#deadline });
    this.#retryMs = init.replayRetryMs ?? 50;
    this.#replayTimeoutMs = init.replayTimeoutMs ?? 2000;
    this.#strongOnly = new Set(init.strongOnly ?? []);
    for (const ns of this.#strongOnly) assertNamespace(ns);
    this.#id = init.id ?? init.crdt.id;
    this.#hlc = new HybridLogicalClock(this.#id, init.clock, init.physicalTime);
  }

  /** This node's id, the origin of its writes. */
  get id(): string {
    return this.#id;
  }

  /** The deadline after which a write falls back to eventual (ms). */
  get deadlineMs(): number {
    return this.#deadline;
  }

  /** Opens the journal (a new epoch), starts the CRDT and strong sides, and replays writes left pending by a previous run. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#stopCtl = new AbortController();
    const journal = this.#init.journal;
    await journal.open();
    // A new epoch per start keeps sequence numbers increasing across restarts
    // without persisting each one.
    this.#epoch = journal.hardState().term + 1;
    this.#counter = 0;
    await journal.setHardState({ term: this.#epoch, vote: null, commit: 0 });
    this.#pending = [];
    const last = journal.lastIndex();
    for (let i = journal.firstIndex(); i <= last; i++) {
      const e = journal.entries(i, i + 1)[0]!;
      this.#pending.push({ write: decodeEventualWrite(e.data), index: e.index });
    }
    const sm = this.#init.strong.stateMachine;
    this.#offs = [
      sm.onChange((c) => {
        if (c.version?.stamp) this.#hlc.observe(c.version.stamp);
        this.#refresh(c.ns, c.key);
      }),
      sm.onOutcome((o) => {
        if (o.origin === this.#id) this.#waiters.get(o.seq)?.(o.outcome);
        for (const [ns, m] of this.#overlay)
          for (const [key, w] of m) if (w.origin === o.origin) this.#refresh(ns, key);
      }),
      this.#init.crdt.onKeysChanged((ns, keys) => {
        for (const key of keys) this.#overlayChanged(ns, key);
      }),
    ];
    await this.#init.crdt.start();
    await this.#init.strong.start();
    this.#running = true;
    // An eventual write is acknowledged once its journal record is durable;
    // its CRDT update may not have reached the disk before a crash. Put such
    // writes back (unless a newer write of the key is in the overlay).
    for (const { write: w } of this.#pending) {
      const cur = this.#overlay.get(w.ns)?.get(w.key);
      if (cur === undefined || (cur.origin === w.origin && cur.seq < w.seq)) this.#overlayPut(w);
    }
    if (this.#pending.length > 0) void this.#replay();
  }

  /** Waits for the write in progress, stops both sides and closes the journal. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopCtl.abort();
    for (const off of this.#offs) off();
    this.#offs = [];
    await this.#chain.catch(() => undefined);
    await this.#init.strong.stop();
    await this.#init.crdt.stop();
    await this.#init.journal.close();
    this.#overlay.clear();
    this.#emitted.clear();
  }

  /** Reads the visible entry: after the read barrier when the log answers within the deadline, else locally (strong-only namespaces then fail). */
  async get(namespace: string, key: string, options: ReadOptions = {}): Promise<StateEntry | null> {
    assertNamespace(namespace);
    assertStateKey(key);
    this.#assertRunning();
    if (options.consistency !== 'local') {
      try {
        await this.#init.strong.barrier({
          timeoutMs: this.#deadline,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (err) {
        if (this.#strongOnly.has(namespace) || !isNovacronError(err, AssErrorCode.STRONG_UNAVAILABLE)) throw err;
      }
    }
    return this.#effective(namespace, key);
  }

  /** Writes through the log within the deadline, else as an eventual write (see the class comment). */
  put(namespace: string, key: string, value: Uint8Array, options: WriteOptions = {}): Promise<HybridWriteResult> {
    return this.#write(namespace, key, value, options, true);
  }

  /** Deletes like `put` writes. */
  delete(namespace: string, key: string, options: WriteOptions = {}): Promise<HybridWriteResult> {
    return this.#write(namespace, key, null, options, false);
  }

  entries(namespace: string): ReadonlyMap<string, StateEntry> {
    assertNamespace(namespace);
    const keys = new Set(this.#init.strong.stateMachine.entries(namespace).map(([k]) => k));
    for (const k of this.#overlay.get(namespace)?.keys() ?? []) keys.add(k);
    const out = new Map<string, StateEntry>();
    for (const k of [...keys].sort()) {
      const e = this.#effective(namespace, k);
      if (e) out.set(k, e);
    }
    return out;
  }

  watch(namespace: string, listener: (change: StateChange) => void): () => void {
    assertNamespace(namespace);
    let set = this.#watchers.get(namespace);
    if (!set) {
      set = new Set();
      this.#watchers.set(namespace, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  status(): StateSyncStatus {
    const crdt = this.#init.crdt.status();
    return {
      strategy: 'hybrid',
      writeLevel: this.#pending.length > 0 || this.#lastFellBack ? 'eventual' : 'strong',
      pendingWrites: this.#pending.length,
      divergence: crdt.divergence,
      convergenceLagMs: crdt.convergenceLagMs,
    };
  }

  /** Eventual writes of this node not yet decided by the log, oldest first. */
  pending(): readonly EventualWrite[] {
    return this.#pending.map((p) => p.write);
  }

  /** Whether `namespace` is strong-only. */
  isStrongOnly(namespace: string): boolean {
    return this.#strongOnly.has(namespace);
  }

  async #write(
    ns: string,
    key: string,
    value: Uint8Array | null,
    options: WriteOptions,
    isPut: boolean,
  ): Promise<HybridWriteResult> {
    assertNamespace(ns);
    assertStateKey(key);
    if (isPut) assertStateValue(value);
    this.#assertRunning();
    if (this.#strongOnly.has(ns)) return this.#strongOnlyWrite(ns, key, value, options);
    // One write at a time per node: a write must not overtake an earlier one
    // that fell back (its sequence number would mark the earlier as decided).
    const run = this.#chain.then(() => this.#hybridWrite(ns, key, value, options));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #strongOnlyWrite(
    ns: string,
    key: string,
    value: Uint8Array | null,
    options: WriteOptions,
  ): Promise<HybridWriteResult> {
    const stamp = this.#hlc.now();
    try {
      await this.#init.strong.submit(encodeSyncCommand({ t: 'w', ns, key, value, stamp }), {
        timeoutMs: this.#deadline,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      if (isNovacronError(err, AssErrorCode.STRONG_UNAVAILABLE)) {
        throw new NovacronError(
          AssErrorCode.STRONG_UNAVAILABLE,
          `namespace ${ns} is strong-only and the log did not commit within ${this.#deadline} ms`,
          { details: { namespace: ns, key, mayCommit: true }, cause: err },
        );
      }
      throw err;
    }
    return { level: 'strong', stamp };
  }

  async #hybridWrite(
    ns: string,
    key: string,
    value: Uint8Array | null,
    options: WriteOptions,
  ): Promise<HybridWriteResult> {
    this.#assertRunning();
    const started = this.#init.clock.now();
    const seq = this.#epoch * SEQ_EPOCH + ++this.#counter;
    const stamp = this.#hlc.now();
    const base = this.#init.strong.stateMachine.version(ns, key)?.index ?? 0;
    const write: EventualWrite = { origin: this.#id, seq, ns, key, value, stamp, base };
    const result = { origin: this.#id, seq, base, stamp };
    if (this.#pending.length === 0) {
      // Close to the deadline, start the journal append the fallback needs.
      let early: Journaled | undefined;
      const lead = this.#init.clock.setTimeout(
        () => {
          early = this.#journal(write);
        },
        Math.max(0, this.#deadline - this.#lead),
      );
      let strong = false;
      try {
        const r = await this.#init.strong.submit(
          encodeSyncCommand({ t: 'w', ns, key, value, origin: this.#id, seq, stamp }),
          { timeoutMs: this.#deadline, ...(options.signal ? { signal: options.signal } : {}) },
        );
        strong = decodeOutcomes(r.result)[0] === 'applied';
      } catch (err) {
        if (isNovacronError(err, CoreErrorCode.ABORTED) || isNovacronError(err, CoreErrorCode.INVALID_STATE)) {
          lead.cancel();
          if (early) this.#dropDecided(early);
          throw err;
        }
        this.#logger.debug('log did not commit in time; falling back to eventual', { ns, key, err: String(err) });
      }
      lead.cancel();
      if (strong) {
        if (early) this.#dropDecided(early);
        this.#lastFellBack = false;
        return { level: 'strong', ...result };
      }
      this.#lastFellBack = true;
      await this.#accept(write, early);
      return { level: 'eventual', ...result };
    }
    // Earlier eventual writes are still pending: this one queues behind them
    // and gets whatever is left of the deadline to be replayed strongly.
    const outcome = new Promise<WriteOutcome>((resolve) => this.#waiters.set(seq, resolve));
    await this.#accept(write);
    const left = started + this.#deadline - this.#init.clock.now();
    let timer: { cancel(): void } | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.#init.clock.setTimeout(() => resolve('timeout'), Math.max(0, left));
    });
    const o = await Promise.race([outcome, timedOut]);
    timer?.cancel();
    this.#waiters.delete(seq);
    return { level: o === 'applied' ? 'strong' : 'eventual', ...result };
  }

  /**
   * Accepts an eventual write: waits until its journal record (`early`, or
   * one appended now) is durable, puts it in the CRDT overlay (peers see it
   * at once; the journal, not the CRDT log, is what makes it survive a
   * crash) and starts the replayer.
   */
  async #accept(write: EventualWrite, early?: Journaled): Promise<void> {
    const journaled = early ?? this.#journal(write);
    this.#pending.push({ write, index: journaled.index });
    this.#overlayPut(write);
    await journaled.durable;
    void this.#replay();
  }

  /** Appends `write` to the journal. */
  #journal(write: EventualWrite): Journaled {
    const journal = this.#init.journal;
    const index = journal.lastIndex() + 1;
    return { index, durable: journal.append([{ index, term: 1, data: encodeEventualWrite(write) }]) };
  }

  /**
   * A write journaled ahead of a fallback that the log then committed: its
   * record is dropped once durable when nothing pending precedes it (after
   * a crash it would only replay as a `duplicate`).
   */
  #dropDecided(early: Journaled): void {
    early.durable
      .then(async () => {
        if (!this.#running || this.#replaying || this.#pending.some((p) => p.index <= early.index)) return;
        await this.#init.journal.compact(early.index, 1);
      })
      .catch((err) => this.#logger.debug('could not drop a decided journal record', { err: String(err) }));
  }

  /** Writes an eventual write into the CRDT overlay; the update reaches the peers at once. */
  #overlayPut(write: EventualWrite): void {
    this.#init.crdt
      .put(write.ns, write.key, encodeEventualWrite(write))
      .catch((err) => this.#logger.warn('eventual write not put in the CRDT overlay', { err: String(err) }));
  }

  async #replay(): Promise<void> {
    if (this.#replaying) return;
    this.#replaying = true;
    try {
      while (this.#running && this.#pending.length > 0) {
        const batch = this.#pending.slice(0, MAX_REPLAY_BATCH);
        try {
          await this.#init.strong.submit(
            encodeSyncCommand({
              t: 'r',
              origin: this.#id,
              writes: batch.map(({ write: w }) => ({
                seq: w.seq,
                ns: w.ns,
                key: w.key,
                value: w.value,
                stamp: w.stamp,
                base: w.base,
              })),
            }),
            { timeoutMs: this.#replayTimeoutMs },
          );
        } catch (err) {
          if (!this.#running) return;
          this.#logger.debug('replay not committed yet', { err: String(err) });
          try {
            await this.#init.clock.sleep(this.#retryMs, this.#stopCtl.signal);
          } catch {
            return;
          }
          continue;
        }
        // Every write of the batch is decided: drop it from the journal and the overlay.
        this.#pending.splice(0, batch.length);
        if (!this.#running) return;
        await this.#init.journal.compact(batch[batch.length - 1]!.index, 1);
        for (const { write: w } of batch) {
          const cur = this.#overlay.get(w.ns)?.get(w.key);
          if (cur && cur.origin === this.#id && cur.seq === w.seq) await this.#init.crdt.delete(w.ns, w.key);
        }
      }
    } catch (err) {
      this.#logger.warn('replay stopped', { err: String(err) });
    } finally {
      this.#replaying = false;
    }
  }

  #overlayChanged(ns: string, key: string): void {
    const raw = this.#init.crdt.doc(ns).getMap<Uint8Array>(CRDT_MAP_NAME).get(key);
    let m = this.#overlay.get(ns);
    if (raw === undefined) {
      m?.delete(key);
    } else {
      try {
        const w = decodeEventualWrite(raw);
        if (w.ns !== ns || w.key !== key) throw new Error('misplaced');
        this.#hlc.observe(w.stamp);
        if (!m) {
          m = new Map();
          this.#overlay.set(ns, m);
        }
        m.set(key, w);
      } catch (err) {
        this.#logger.debug('ignoring malformed overlay entry', { ns, key, err: String(err) });
        m?.delete(key);
      }
    }
    if (this.#running || this.#offs.length > 0) this.#refresh(ns, key);
  }

  #effective(ns: string, key: string): StateEntry | null {
    const sm = this.#init.strong.stateMachine;
    const w = this.#overlay.get(ns)?.get(key);
    if (w && sm.decided(w.origin) < w.seq) return w.value === null ? null : { value: w.value, level: 'eventual' };
    const v = sm.version(ns, key);
    return v && v.value !== null ? { value: v.value, level: 'strong' } : null;
  }

  #refresh(ns: string, key: string): void {
    const next = this.#effective(ns, key);
    let m = this.#emitted.get(ns);
    const prev = m?.get(key) ?? null;
    if (sameEntry(prev, next)) return;
    if (!m) {
      m = new Map();
      this.#emitted.set(ns, m);
    }
    if (next) m.set(key, next);
    else m.delete(key);
    const seq = (this.#seqs.get(ns) ?? 0) + 1;
    this.#seqs.set(ns, seq);
    const set = this.#watchers.get(ns);
    if (!set) return;
    const change: StateChange = { namespace: ns, key, entry: next, seq };
    for (const l of [...set]) {
      try {
        l(change);
      } catch (err) {
        this.#logger.warn('watch listener threw', { err: String(err) });
      }
    }
  }

  #assertRunning(): void {
    if (!this.#running) throw new NovacronError(CoreErrorCode.INVALID_STATE, 'hybrid sync is not running');
  }
}

function sameEntry(a: StateEntry | null, b: StateEntry | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.level !== b.level || a.value.length !== b.value.length) return false;
  for (let i = 0; i < a.value.length; i++) if (a.value[i] !== b.value[i]) return false;
  return true;
}
