import {
  type Clock,
  type CommittedCommand,
  type ConsensusGroup,
  type ConsensusStatus,
  CoreErrorCode,
  type DurableLog,
  decodeMsgpack,
  type HardState,
  encodeMsgpack,
  type Logger,
  NovacronError,
  type PeerNetwork,
  type ProposeOptions,
  type ProposeResult,
  type ReplicatedStateMachine,
  type Rng,
  type Timer,
} from '@novacron/core';
import { AcpErrorCode } from '../errors.js';
import { EntryKind, RaftCore, type RaftSnapshot, type Ready } from './core.js';
import type { MembershipChange } from './membership.js';
import type { RaftMessage } from './messages.js';
import { SessionTable } from './sessions.js';
import { MemorySnapshotStore, type RaftSnapshotStore } from './snapshot-store.js';
import { RAFT_CHANNEL, RaftWireCodec } from './wire.js';

/** Most ticks one late timer callback makes up for. */
const MAX_CATCH_UP_TICKS = 4;

/** What {@link RaftGroup} takes. */
export interface RaftGroupInit {
  /** This member's node id (its id on `network`). */
  readonly id: string;
  /**
   * Voting members of the group's initial configuration, this one included
   * (unless `join`). The log and snapshots override it after membership changes.
   */
  readonly voters: readonly string[];
  /**
   * This member joins an existing group (to be added as a learner by its
   * leader): `voters` need not include it and it never campaigns until the
   * replicated configuration makes it a voter. Default false.
   */
  readonly join?: boolean;
  /** Messages to and from the other members. */
  readonly network: PeerNetwork;
  /** Persistent log (opened by `start`, closed by `stop`). */
  readonly log: DurableLog;
  /** Time source for ticks and timeouts. */
  readonly clock: Clock;
  /** Randomness for election timeouts. */
  readonly rng: Rng;
  /** The replicated state machine. */
  readonly stateMachine: ReplicatedStateMachine;
  /** Milliseconds per Raft tick (default 50). */
  readonly tickMs?: number;
  /** Election timeout in ticks, randomized in [n, 2n) (default 10). */
  readonly electionTicks?: number;
  /** Heartbeat interval in ticks (default 1). */
  readonly heartbeatTicks?: number;
  /** Pre-vote (default true). */
  readonly preVote?: boolean;
  /** Check-quorum (default true). */
  readonly checkQuorum?: boolean;
  /** In-flight appends per follower (default 64). */
  readonly maxInflight?: number;
  /** Where snapshots are kept (default: in memory). Use a `FileSnapshotStore` next to a `FileDurableLog`. */
  readonly snapshots?: RaftSnapshotStore;
  /** Take a snapshot and compact the log every this many applied entries (default 10 000; 0: never). */
  readonly snapshotEvery?: number;
  /** Snapshot bytes per InstallSnapshot message (default 64 KiB). */
  readonly snapshotChunkBytes?: number;
  /** Default proposal timeout in ms (default 10 000). */
  readonly proposeTimeoutMs?: number;
  /** Optional logger. */
  readonly logger?: Logger;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (r: ProposeResult) => void;
  readonly reject: (err: unknown) => void;
  readonly cleanup: () => void;
}

interface PendingRead {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly cleanup: () => void;
  index?: number;
}

/**
 * A Raft member implementing core's {@link ConsensusGroup}: the thin
 * runtime around {@link RaftCore}. It owns the tick timer (on the injected
 * clock), persists each `Ready` to the {@link DurableLog} before sending
 * its messages or applying its entries, carries messages as versioned
 * MessagePack over a {@link PeerNetwork}, applies committed commands
 * through client sessions (exactly once per `(client, seq)`) and answers
 * proposals and ReadIndex reads.
 */
export class RaftGroup implements ConsensusGroup {
  readonly #init: RaftGroupInit;
  readonly #codec = new RaftWireCodec();
  readonly #sessions = new SessionTable();
  readonly #listeners = new Set<(c: CommittedCommand) => void>();
  readonly #proposals = new Map<number, PendingProposal>();
  readonly #reads = new Map<number, PendingRead>();
  #core: RaftCore | undefined;
  #timer: Timer | undefined;
  #unhandle: (() => void) | undefined;
  #processing: Promise<void> | undefined;
  #again = false;
  /** The latest hard state when only its commit index moved and it is not written yet. */
  #unsavedHard: HardState | undefined;
  #readCtx = 0;
  #applied = 0;
  #snapshots: RaftSnapshotStore;
  #state: 'new' | 'started' | 'stopped' | 'failed' = 'new';

  constructor(init: RaftGroupInit) {
    if (
      init.voters.length === 0 ||
      (!init.join && !init.voters.includes(init.id)) ||
      new Set(init.voters).size !== init.voters.length
    ) {
      throw new NovacronError(AcpErrorCode.RAFT_CONFIG_INVALID, 'raft: voters must be distinct and include id', {
        details: { id: init.id, voters: [...init.voters] },
      });
    }
    this.#init = init;
    this.#snapshots = init.snapshots ?? new MemorySnapshotStore();
  }

  /** The Raft state machine (for inspection by tests and tools). */
  get core(): RaftCore {
    if (!this.#core) throw this.#notStarted('core');
    return this.#core;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    const { log } = this.#init;
    await log.open();
    const saved = await this.#snapshots.load();
    // A snapshot saved by an install that a crash interrupted before the
    // log caught up: finish the install, so the log never keeps entries
    // that conflict with the snapshot (its entry at the snapshot index has
    // another term: that suffix came from a deposed leader).
    if (saved && saved.index > log.snapshot().index) await reconcile(log, saved);
    const snapshot = log.snapshot();
    this.#core = new RaftCore({
      id: this.#init.id,
      voters: this.#init.voters,
      rng: this.#init.rng,
      ...(this.#init.electionTicks !== undefined ? { electionTicks: this.#init.electionTicks } : {}),
      ...(this.#init.heartbeatTicks !== undefined ? { heartbeatTicks: this.#init.heartbeatTicks } : {}),
      ...(this.#init.preVote !== undefined ? { preVote: this.#init.preVote } : {}),
      ...(this.#init.checkQuorum !== undefined ? { checkQuorum: this.#init.checkQuorum } : {}),
      ...(this.#init.maxInflight !== undefined ? { maxInflight: this.#init.maxInflight } : {}),
      maxBatchBytes: Math.max(1024, Math.floor(this.#init.network.maxMessageSize / 2)),
      snapshotChunkBytes: Math.min(
        this.#init.snapshotChunkBytes ?? 64 * 1024,
        Math.max(256, Math.floor(this.#init.network.maxMessageSize / 2)),
      ),
      restore: {
        hardState: log.hardState(),
        snapshot,
        entries: log.entries(log.firstIndex(), log.lastIndex() + 1),
        ...(saved?.config && saved.index >= snapshot.index ? { config: saved.config } : {}),
      },
    });
    this.#applied = snapshot.index;
    if (saved && saved.index >= snapshot.index) {
      this.#restoreState(saved);
      const core = this.#core;
      core.log.committed = Math.max(core.log.committed, saved.index);
      core.log.applied = Math.max(core.log.applied, saved.index);
      core.setSnapshot(saved);
      this.#applied = saved.index;
    }
    this.#unhandle = this.#init.network.handle(RAFT_CHANNEL, (from, data) => this.#receive(from, data));
    const clock = this.#init.clock;
    const tickMs = this.#init.tickMs ?? 50;
    let last = clock.now();
    this.#timer = clock.setInterval(() => {
      // A starved event loop runs this late: count the ticks that were due
      // (a few at most), so election timeouts keep their meaning in time
      // rather than stretching with the load.
      const now = clock.now();
      const due = Math.min(MAX_CATCH_UP_TICKS, Math.max(1, Math.floor((now - last) / tickMs + 0.25)));
      last = now;
      for (let i = 0; i < due; i++) this.#core!.tick();
      this.#kick();
    }, tickMs);
    this.#state = 'started';
  }

  async stop(): Promise<void> {
    if (this.#state === 'new' || this.#state === 'stopped') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    this.#timer?.cancel();
    this.#unhandle?.();
    await this.#processing?.catch(() => undefined);
    this.#failAll(new NovacronError(CoreErrorCode.PROPOSAL_UNKNOWN, 'raft: group stopped', { details: {} }));
    if (this.#unsavedHard) await this.#init.log.setHardState(this.#unsavedHard).catch(() => undefined);
    this.#unsavedHard = undefined;
    await this.#init.log.close();
  }

  async propose(command: Uint8Array, options: ProposeOptions = {}): Promise<ProposeResult> {
    if (this.#state !== 'started') throw this.#notStarted('propose');
    const core = this.#core!;
    const at = core.propose(
      encodeSessionCommand(options.session?.client ?? '', options.session?.seq ?? 0, command),
      EntryKind.SESSION_COMMAND,
    );
    if (at === undefined) {
      throw new NovacronError(CoreErrorCode.NOT_LEADER, `raft: ${this.#init.id} is not the leader`, {
        details: { leader: core.leader },
      });
    }
    return this.#awaitEntry(at, options);
  }

  /**
   * Registers the outcome of the entry at `at` and only then kicks the
   * processing loop, which may answer it before returning (one voter, an
   * in-memory log).
   */
  #awaitEntry(
    at: { readonly index: number; readonly term: number },
    options: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  ): Promise<ProposeResult> {
    const done = new Promise<ProposeResult>((resolve, reject) => {
      const cleanup = this.#guard(options, this.#init.proposeTimeoutMs ?? 10_000, (err) => {
        this.#proposals.delete(at.index);
        reject(err);
      });
      this.#proposals.set(at.index, { term: at.term, resolve, reject, cleanup });
    });
    this.#kick();
    return done;
  }

  async read(options: { readonly signal?: AbortSignal; readonly timeoutMs?: number } = {}): Promise<void> {
    if (this.#state !== 'started') throw this.#notStarted('read');
    const ctx = ++this.#readCtx;
    if (!this.#core!.readIndex(ctx)) {
      throw new NovacronError(CoreErrorCode.NOT_LEADER, 'raft: no leader known for a read', {
        details: { leader: null },
      });
    }
    // Registered before the loop runs: a single voter confirms the read at
    // once, and the loop hands its index out before returning.
    const done = new Promise<void>((resolve, reject) => {
      const cleanup = this.#guard(options, this.#init.proposeTimeoutMs ?? 10_000, (err) => {
        this.#reads.delete(ctx);
        reject(err);
      });
      this.#reads.set(ctx, { resolve, reject, cleanup });
    });
    this.#kick();
    return done;
  }

  onCommitted(listener: (command: CommittedCommand) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): ConsensusStatus {
    const core = this.#core;
    return {
      id: this.#init.id,
      role: core?.role ?? 'stopped',
      term: core?.term ?? 0,
      leader: core?.leader ?? null,
      commitIndex: core?.log.committed ?? 0,
      appliedIndex: this.#applied,
      voters: [...(core?.voters ?? this.#init.voters)],
      learners: [...(core?.learners ?? [])],
    };
  }

  /**
   * Changes membership one server at a time (see {@link RaftCore.proposeMembership}):
   * `add-learner`, then `promote` once it has caught up, or `remove`.
   * Resolves when the configuration entry is committed and applied here.
   *
   * @throws `CORE_NOT_LEADER` on a non-leader; `ACP_RAFT_MEMBERSHIP_BUSY`
   *   while another change is in flight, before the leader has committed an
   *   entry of its term or while a learner lags (retry later);
   *   `ACP_RAFT_MEMBERSHIP_INVALID` for a change that makes no sense;
   *   `CORE_PROPOSAL_DROPPED` / `CORE_PROPOSAL_UNKNOWN` as for `propose`.
   */
  async changeMembership(
    change: MembershipChange,
    options: { readonly signal?: AbortSignal; readonly timeoutMs?: number } = {},
  ): Promise<{ readonly index: number }> {
    if (this.#state !== 'started') throw this.#notStarted('changeMembership');
    const core = this.#core!;
    const at = core.proposeMembership(change);
    if (at === undefined) {
      throw new NovacronError(CoreErrorCode.NOT_LEADER, `raft: ${this.#init.id} is not the leader`, {
        details: { leader: core.leader },
      });
    }
    const r = await this.#awaitEntry(at, options);
    return { index: r.index };
  }

  /** Asks this leader to hand leadership to `to`; false when not leader or `to` is no voter. */
  transferLeadership(to: string): boolean {
    const ok = this.#core?.transferLeadership(to) ?? false;
    this.#kick();
    return ok;
  }

  // ---------------------------------------------------------------- internals

  #receive(from: string, data: Uint8Array): void {
    if (this.#state !== 'started') return;
    let m: ReturnType<RaftWireCodec['decode']>;
    try {
      m = this.#codec.decode(data, from, this.#init.id);
    } catch (err) {
      this.#init.logger?.warn('raft: dropped an undecodable message', { from, err });
      return;
    }
    try {
      this.#core!.step(m);
    } catch (err) {
      this.#init.logger?.warn('raft: dropped a message that violates the protocol', { from, err });
      return;
    }
    this.#kick();
  }

  #kick(): void {
    if (this.#state !== 'started') return;
    if (this.#processing) {
      this.#again = true;
      return;
    }
    this.#processing = this.#process()
      .catch((err) => this.#storageFailed(err))
      .finally(() => {
        this.#processing = undefined;
        if (this.#again) {
          this.#again = false;
          this.#kick();
        }
      });
  }

  async #process(): Promise<void> {
    const core = this.#core!;
    const log = this.#init.log;
    while (this.#state === 'started' && core.hasReady()) {
      const rd: Ready = core.ready();
      const empty =
        !rd.snapshot &&
        !rd.hardState &&
        rd.entries.length + rd.messages.length + rd.committed.length + rd.reads.length === 0;
      if (empty) {
        this.#init.logger?.warn('raft: empty ready', { id: this.#init.id });
        return;
      }
      if (rd.snapshot) await this.#install(rd.snapshot);
      const before = log.hardState();
      // Term and vote must be durable before anyone hears of them; the
      // commit index need not be (it is recomputed after a restart), so a
      // Ready that only moves it does not wait for an fsync (etcd's mustSync).
      const syncHard =
        rd.hardState !== undefined && (rd.hardState.term !== before.term || rd.hardState.vote !== before.vote);
      // A leader sends its appends while its own write is in flight (Raft
      // thesis §10.2.1): it counts itself towards a quorum only once
      // advance() reports the entries stable, so nothing commits early.
      const early = !syncHard && !rd.snapshot && core.role === 'leader';
      if (early) this.#send(rd.messages);
      const writes: Promise<void>[] = [];
      if (rd.entries.length > 0) writes.push(log.append(rd.entries));
      if (rd.hardState) this.#unsavedHard = rd.hardState;
      if (syncHard) {
        writes.push(log.setHardState(this.#unsavedHard!));
        this.#unsavedHard = undefined;
      } else if (this.#unsavedHard && rd.entries.length > 0) {
        // A commit-only change rides along with the next entries (same
        // write, same fsync), never costing an fsync of its own.
        log.setHardState(this.#unsavedHard).catch((err) => this.#storageFailed(err));
        this.#unsavedHard = undefined;
      }
      if (writes.length > 0) await Promise.all(writes);
      if (this.#state !== 'started') return;
      if (!early) this.#send(rd.messages);
      for (const e of rd.committed) this.#apply(e.index, e.term, e.data);
      for (const r of rd.reads) {
        const pending = this.#reads.get(r.ctx);
        if (pending) pending.index = r.index;
      }
      core.advance(rd);
      this.#releaseReads();
      const every = this.#init.snapshotEvery ?? 10_000;
      if (every > 0 && this.#applied - (core.snapshot?.index ?? log.snapshot().index) >= every)
        await this.#takeSnapshot();
    }
  }

  #send(messages: readonly RaftMessage[]): void {
    for (const m of messages) this.#init.network.send(m.to, RAFT_CHANNEL, this.#codec.encode(m));
  }

  /** Storage failed: this member can no longer promise durability. */
  #storageFailed(err: unknown): void {
    if (this.#state !== 'started') return;
    this.#state = 'failed';
    this.#timer?.cancel();
    this.#unhandle?.();
    this.#failAll(err);
  }

  /** Snapshots the state machine at the applied index, saves it, then compacts the log below it. */
  async #takeSnapshot(): Promise<void> {
    const core = this.#core!;
    const index = this.#applied;
    const term = core.log.term(index);
    if (term === undefined) return;
    const data = encodeMsgpack([this.#sessions.snapshot(), this.#init.stateMachine.snapshot()]);
    const snap: RaftSnapshot = { index, term, data, config: core.configAt(index) };
    await this.#snapshots.save(snap);
    core.setSnapshot(snap);
    await this.#init.log.compact(index, term);
  }

  /** Installs a snapshot received from the leader: saved first, then the state, then the log. */
  async #install(snap: RaftSnapshot): Promise<void> {
    await this.#snapshots.save(snap);
    this.#restoreState(snap);
    this.#applied = snap.index;
    await reconcile(this.#init.log, snap);
  }

  #restoreState(snap: RaftSnapshot): void {
    const [sessions, state] = decodeMsgpack(snap.data) as [Uint8Array, Uint8Array];
    this.#sessions.restore(sessions);
    this.#init.stateMachine.restore(state);
  }

  #apply(index: number, term: number, data: Uint8Array): void {
    this.#applied = index;
    const pending = this.#proposals.get(index);
    if (data[0] === EntryKind.CONFIG && pending && pending.term === term) {
      this.#proposals.delete(index);
      pending.cleanup();
      pending.resolve({ index, result: new Uint8Array(0) });
      return;
    }
    if (data[0] !== EntryKind.COMMAND && data[0] !== EntryKind.SESSION_COMMAND) {
      if (pending) this.#dropProposal(index, pending);
      return;
    }
    const [client, seq, command] =
      data[0] === EntryKind.SESSION_COMMAND
        ? decodeSessionCommand(data, index)
        : (decodeMsgpack(data.subarray(1)) as [string, number, Uint8Array]);
    const result = this.#sessions.apply(this.#init.stateMachine, client, seq, command, index);
    for (const l of this.#listeners) l({ index, command, result });
    if (pending) {
      this.#proposals.delete(index);
      pending.cleanup();
      if (pending.term === term) pending.resolve({ index, result });
      else this.#dropProposal(index, pending);
    }
  }

  #dropProposal(index: number, p: PendingProposal): void {
    this.#proposals.delete(index);
    p.cleanup();
    p.reject(
      new NovacronError(CoreErrorCode.PROPOSAL_DROPPED, `raft: another entry committed at ${index}`, {
        details: { index },
      }),
    );
  }

  #releaseReads(): void {
    for (const [ctx, r] of this.#reads) {
      if (r.index !== undefined && r.index <= this.#applied) {
        this.#reads.delete(ctx);
        r.cleanup();
        r.resolve();
      }
    }
  }

  /** Arms a timeout and abort listener; returns the function that disarms both. */
  #guard(
    options: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
    defaultTimeout: number,
    fail: (err: unknown) => void,
  ): () => void {
    const timer = this.#init.clock.setTimeout(
      () => fail(new NovacronError(CoreErrorCode.PROPOSAL_UNKNOWN, 'raft: no outcome in time', { details: {} })),
      options.timeoutMs ?? defaultTimeout,
    );
    const onAbort = () => {
      timer.cancel();
      fail(new NovacronError(CoreErrorCode.ABORTED, 'raft: aborted', { details: {}, cause: options.signal?.reason }));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      timer.cancel();
      options.signal?.removeEventListener('abort', onAbort);
    };
  }

  #failAll(err: unknown): void {
    for (const [, p] of this.#proposals) {
      p.cleanup();
      p.reject(err);
    }
    this.#proposals.clear();
    for (const [, r] of this.#reads) {
      r.cleanup();
      r.reject(err);
    }
    this.#reads.clear();
  }

  #notStarted(op: string): NovacronError {
    return new NovacronError(CoreErrorCode.INVALID_STATE, `raft: ${op} while ${this.#state}`, { details: { op } });
  }
}

/**
 * Brings the log in line with a snapshot it is behind (Raft §7): keeps the
 * entries after the snapshot only when the log holds the snapshot's last
 * entry with the same term, then compacts up to it.
 */
async function reconcile(log: DurableLog, snap: { readonly index: number; readonly term: number }): Promise<void> {
  if (snap.index <= log.lastIndex() && snap.index >= log.firstIndex() && log.term(snap.index) !== snap.term) {
    await log.truncateSuffix(snap.index);
  }
  await log.compact(snap.index, snap.term);
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });
/** Encoded client ids, so a busy client's id is not re-encoded per command (bounded). */
const clientBytes = new Map<string, Uint8Array>();

/** The body of an {@link EntryKind.SESSION_COMMAND} entry (after its kind byte). */
function encodeSessionCommand(client: string, seq: number, command: Uint8Array): Uint8Array {
  let id = clientBytes.get(client);
  if (id === undefined) {
    id = utf8.encode(client);
    if (clientBytes.size >= 1024) clientBytes.clear();
    clientBytes.set(client, id);
  }
  if (id.length > 0xffff) {
    throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, 'raft: session client id longer than 65535 bytes', {
      details: { length: id.length },
    });
  }
  const out = new Uint8Array(2 + id.length + 8 + command.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, id.length);
  out.set(id, 2);
  view.setUint32(2 + id.length, Math.floor(seq / 0x1_0000_0000));
  view.setUint32(6 + id.length, seq >>> 0);
  out.set(command, 10 + id.length);
  return out;
}

/** Decodes a whole {@link EntryKind.SESSION_COMMAND} entry (kind byte included). */
function decodeSessionCommand(data: Uint8Array, index: number): [string, number, Uint8Array] {
  const bad = () =>
    new NovacronError(AcpErrorCode.RAFT_PROTOCOL_VIOLATION, `raft: malformed command entry ${index}`, {
      details: { index },
    });
  if (data.length < 11) throw bad();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = view.getUint16(1);
  if (data.length < 11 + n) throw bad();
  const seq = view.getUint32(3 + n) * 0x1_0000_0000 + view.getUint32(7 + n);
  if (!Number.isSafeInteger(seq)) throw bad();
  let client: string;
  try {
    client = n === 0 ? '' : fromUtf8.decode(data.subarray(3, 3 + n));
  } catch {
    throw bad();
  }
  return [client, seq, data.subarray(11 + n)];
}
