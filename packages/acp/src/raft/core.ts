import {
  decodeMsgpack,
  encodeMsgpack,
  type HardState,
  type LogEntry,
  NovacronError,
  type Rng,
  type SnapshotMarker,
} from '@novacron/core';
import { AcpErrorCode } from '../errors.js';
import { RaftLog } from './log.js';
import {
  applyMembershipChange,
  decodeMembership,
  encodeMembership,
  type Membership,
  type MembershipChange,
} from './membership.js';
import { message, type RaftMessage } from './messages.js';
import { Progress } from './progress.js';
import { hasQuorum, majorityIndex, tally } from './quorum.js';

/** A node's role. */
export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Configuration of a {@link RaftCore}. */
export interface RaftCoreConfig {
  /** This node's id. */
  readonly id: string;
  /** Voting members of the initial configuration (used until the log or a snapshot says otherwise). */
  readonly voters: readonly string[];
  /** Learners of the initial configuration. Default none. */
  readonly learners?: readonly string[];
  /** Source of randomized election timeouts. */
  readonly rng: Rng;
  /** Ticks without a leader before campaigning; the timeout is drawn from [electionTicks, 2·electionTicks). Default 10. */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. Default 1. */
  readonly heartbeatTicks?: number;
  /** Run a pre-vote round before a real election (Raft thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum within an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Unacknowledged appends allowed per follower in replicate state. Default 64. */
  readonly maxInflight?: number;
  /** Largest entry payload per append message, in bytes. Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /** Snapshot bytes per `snapshot` message. Default 64 KiB. */
  readonly snapshotChunkBytes?: number;
  /** State recovered from storage. */
  readonly restore?: {
    readonly hardState: HardState;
    readonly snapshot: SnapshotMarker;
    readonly entries: readonly LogEntry[];
    /** The configuration as of the snapshot (default: `voters`/`learners`); later configuration entries in `entries` override it. */
    readonly config?: Membership;
  };
}

/** A confirmed read: once `index` is applied, state reflects every write committed before the request. */
export interface ReadState {
  /** The request's context. */
  readonly ctx: number;
  /** Commit index to wait for. */
  readonly index: number;
}

/**
 * Everything the runtime must do after feeding the core: persist
 * `hardState` and `entries` (in that order, before anything else), then
 * send `messages`, apply `committed` and answer `reads`; then call
 * {@link RaftCore.advance}.
 */
export interface Ready {
  /** New hard state to persist, when it changed. */
  readonly hardState?: HardState;
  /** Entries to persist; the first replaces whatever storage holds at its index and after. */
  readonly entries: readonly LogEntry[];
  /** Messages to send once the above is durable. */
  readonly messages: readonly RaftMessage[];
  /** Committed entries to apply, in order. */
  readonly committed: readonly LogEntry[];
  /** Reads confirmed by a quorum. */
  readonly reads: readonly ReadState[];
  /**
   * A snapshot received from the leader, to persist and restore into the
   * state machine before anything else in this Ready (storage must drop
   * the log up to it, and all of it if its term differs at that index).
   */
  readonly snapshot?: RaftSnapshot;
}

/** A state-machine snapshot and the log position it covers. */
export interface RaftSnapshot {
  /** Last index covered. */
  readonly index: number;
  /** Term of that entry. */
  readonly term: number;
  /** Serialized state. */
  readonly data: Uint8Array;
  /** The configuration as of `index` (filled in by the core; absent in snapshots from before membership changes). */
  readonly config?: Membership;
}

/** Entry payload prefix: what an entry carries. */
export const EntryKind = {
  /** Appended by a new leader to commit its term. */
  NOOP: 0,
  /** An application command. */
  COMMAND: 1,
  /** A configuration: MessagePack `[voters, learners]`; takes effect when appended. */
  CONFIG: 2,
  /**
   * An application command with its session, in binary (no MessagePack on
   * the per-write path): `[u16 client length][client UTF-8][u64 seq][command]`.
   */
  SESSION_COMMAND: 3,
} as const;

interface PendingRead {
  /** Leader-local sequence number, echoed in heartbeats. */
  readonly seq: number;
  readonly ctx: number;
  readonly index: number;
  readonly from: string;
  readonly acks: Set<string>;
}

/**
 * Raft as a deterministic state machine (the design of etcd-io/raft): no
 * clocks, no I/O. Input: `tick()`, `step(message)`, `propose(data)`,
 * `readIndex(ctx)`; output: a {@link Ready} with what to persist, send and
 * apply. Implements leader election with randomized timeouts and
 * pre-vote, check-quorum with follower leases, log replication with
 * probe/replicate flow control and bounded in-flight appends, fast
 * back-tracking on conflicts, commitment of current-term entries only,
 * ReadIndex reads and leadership transfer.
 */
export class RaftCore {
  readonly id: string;
  readonly #rng: Rng;
  readonly #electionTicks: number;
  readonly #heartbeatTicks: number;
  readonly #preVote: boolean;
  readonly #checkQuorum: boolean;
  readonly #maxInflight: number;
  readonly #maxBatchBytes: number;
  readonly #chunkBytes: number;
  #voters: string[];
  #learners: string[];
  /** The configuration as of the log's snapshot index. */
  #baseConfig: Membership;
  /** Configuration entries in the log after the snapshot, oldest first (the last one is in force). */
  #configs: { index: number; term: number; config: Membership }[] = [];
  /** Wire bytes of the snapshot sent to followers, `[voters, learners, data]`, cached per snapshot. */
  #snapshotWire: { index: number; bytes: Uint8Array } | undefined;
  #snapshot: RaftSnapshot | undefined;
  #installed: RaftSnapshot | undefined;
  #incoming: { index: number; term: number; parts: Uint8Array[]; size: number } | undefined;
  readonly log: RaftLog;

  #term = 0;
  #vote: string | null = null;
  #lead: string | null = null;
  #role: RaftRole = 'follower';
  #electionElapsed = 0;
  #heartbeatElapsed = 0;
  #randomizedTimeout = 0;
  #votes = new Map<string, boolean>();
  #progress = new Map<string, Progress>();
  #msgs: RaftMessage[] = [];
  #persisted: HardState;
  #reads: ReadState[] = [];
  #pendingReads: PendingRead[] = [];
  #transferee: string | null = null;
  #readSeq = 0;
  /** Proposals were appended since the last broadcast. */
  #bcastPending = false;

  constructor(config: RaftCoreConfig) {
    this.id = config.id;
    this.#rng = config.rng;
    this.#electionTicks = config.electionTicks ?? 10;
    this.#heartbeatTicks = config.heartbeatTicks ?? 1;
    this.#preVote = config.preVote ?? true;
    this.#checkQuorum = config.checkQuorum ?? true;
    this.#maxInflight = config.maxInflight ?? 64;
    this.#maxBatchBytes = config.maxBatchBytes ?? 1024 * 1024;
    this.#chunkBytes = config.snapshotChunkBytes ?? 64 * 1024;
    const restore = config.restore;
    this.#baseConfig = restore?.config ?? { voters: [...config.voters], learners: [...(config.learners ?? [])] };
    this.#voters = [...this.#baseConfig.voters];
    this.#learners = [...this.#baseConfig.learners];
    const hs = restore?.hardState ?? { term: 0, vote: null, commit: 0 };
    this.log = new RaftLog(restore?.snapshot ?? { index: 0, term: 0 }, restore?.entries ?? [], hs.commit);
    this.#trackConfigs(restore?.entries ?? []);
    this.#useLatestConfig();
    this.#term = hs.term;
    this.#vote = hs.vote;
    this.#persisted = { term: hs.term, vote: hs.vote, commit: this.log.committed };
    this.#becomeFollower(this.#term, null);
  }

  /** Current term. */
  get term(): number {
    return this.#term;
  }
  /** Current role. */
  get role(): RaftRole {
    return this.#role;
  }
  /** Leader this node follows (itself when leader), or `null`. */
  get leader(): string | null {
    return this.#lead;
  }
  /** Vote cast in the current term. */
  get vote(): string | null {
    return this.#vote;
  }
  /** Voting members of the configuration in force (the last one appended). */
  get voters(): readonly string[] {
    return this.#voters;
  }
  /** Learners of the configuration in force. */
  get learners(): readonly string[] {
    return this.#learners;
  }
  /** The configuration in force. */
  get membership(): Membership {
    return { voters: [...this.#voters], learners: [...this.#learners] };
  }
  /** True while a configuration entry is appended but not yet committed. */
  get membershipPending(): boolean {
    return (this.#configs.at(-1)?.index ?? 0) > this.log.committed;
  }
  /** The configuration in force at log position `index` (for snapshots taken there). */
  configAt(index: number): Membership {
    let c = this.#baseConfig;
    for (const e of this.#configs) if (e.index <= index) c = e.config;
    return c;
  }
  /** Leader only: follower match indexes. */
  matchIndex(id: string): number | undefined {
    return this.#progress.get(id)?.match;
  }

  // ---------------------------------------------------------------- inputs

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.#role === 'leader') this.#tickLeader();
    else this.#tickElection();
  }

  /**
   * Appends a command to the leader's log. Returns its index and term, or
   * `undefined` when this node is not the leader (or is transferring
   * leadership away). `kind` is {@link EntryKind.COMMAND} (default) or
   * {@link EntryKind.SESSION_COMMAND}.
   */
  propose(
    data: Uint8Array,
    kind: typeof EntryKind.COMMAND | typeof EntryKind.SESSION_COMMAND = EntryKind.COMMAND,
  ): { index: number; term: number } | undefined {
    if (this.#role !== 'leader' || this.#transferee !== null) return undefined;
    const entry = this.#appendEntry(withKind(kind, data));
    // Proposals made before the next ready() share one append per follower
    // (etcd batches proposals the same way), instead of one message each.
    this.#bcastPending = true;
    this.#maybeCommit();
    return { index: entry.index, term: entry.term };
  }

  /**
   * Starts a linearizable read (ReadIndex, Raft thesis §6.4): on a leader,
   * confirms leadership with a heartbeat round; on a follower, asks the
   * leader. The result appears in a later {@link Ready}'s `reads` with
   * `ctx`. Returns false when no leader is known.
   */
  readIndex(ctx: number): boolean {
    if (this.#role === 'leader') {
      this.#leaderRead(ctx, this.id);
      return true;
    }
    if (this.#lead === null) return false;
    this.#send(message({ kind: 'read-index', from: this.id, to: this.#lead, term: this.#term, ctx }));
    return true;
  }

  /**
   * Leader only: appends a single-server configuration change (Raft
   * thesis §4.1, with the fix of §4.1.3's errata: a leader first commits an
   * entry of its own term). The new configuration takes effect on every
   * member as soon as it is appended to its log, not when committed.
   *
   * @throws `CORE_NOT_LEADER`-worthy cases return `undefined`;
   *   `ACP_RAFT_MEMBERSHIP_BUSY` while another change is uncommitted, before
   *   this leader has committed an entry of its term, during a leadership
   *   transfer, or when a learner to promote has not caught up with the
   *   commit index; `ACP_RAFT_MEMBERSHIP_INVALID` for a nonsensical change.
   */
  proposeMembership(change: MembershipChange): { index: number; term: number } | undefined {
    if (this.#role !== 'leader') return undefined;
    const busy = (why: string) =>
      new NovacronError(AcpErrorCode.RAFT_MEMBERSHIP_BUSY, `raft membership: ${why}`, {
        details: { type: change.type, id: change.id },
      });
    if (this.#transferee !== null) throw busy('a leadership transfer is in progress');
    if (this.membershipPending) throw busy('another configuration change is not committed yet');
    if (this.log.term(this.log.committed) !== this.#term)
      throw busy('this leader has not committed an entry of its term');
    const next = applyMembershipChange(this.membership, change);
    if (change.type === 'promote' && (this.#progress.get(change.id)?.match ?? 0) < this.log.committed) {
      throw busy(`learner ${change.id} has not caught up`);
    }
    const entry = this.#appendEntry(withKind(EntryKind.CONFIG, encodeMembership(next)));
    this.#configs.push({ index: entry.index, term: entry.term, config: next });
    this.#useLatestConfig();
    this.#bcastAppend();
    this.#maybeCommit();
    return { index: entry.index, term: entry.term };
  }

  /** Leader only: hands leadership to `to` once its log is caught up (Raft thesis §3.10). */
  transferLeadership(to: string): boolean {
    if (this.#role !== 'leader' || to === this.id || !this.#voters.includes(to)) return false;
    this.#transferee = to;
    const pr = this.#progress.get(to)!;
    if (pr.match === this.log.lastIndex())
      this.#send(message({ kind: 'timeout-now', from: this.id, to, term: this.#term }));
    else this.#sendAppend(to);
    return true;
  }

  /**
   * Records a snapshot of the state machine taken at `snapshot.index`
   * (applied, hence durable) and compacts the in-memory log up to it.
   * Followers too far behind are sent this snapshot.
   */
  setSnapshot(snapshot: RaftSnapshot): void {
    if (snapshot.index > this.log.applied || snapshot.index < (this.#snapshot?.index ?? 0)) return;
    const config = this.configAt(snapshot.index);
    this.#snapshot = { ...snapshot, config };
    if (snapshot.index > this.log.snapshot().index) {
      this.log.compact(snapshot.index, snapshot.term);
      this.#baseConfig = config;
      this.#configs = this.#configs.filter((c) => c.index > snapshot.index);
    }
  }

  /** The latest snapshot known to the core, if any. */
  get snapshot(): RaftSnapshot | undefined {
    return this.#snapshot;
  }

  /** Feeds one message received from the network. */
  step(m: RaftMessage): void {
    if (m.to !== this.id || m.from === this.id) return;
    if (m.term > this.#term) {
      if (m.kind === 'prevote' || m.kind === 'vote') {
        // A node that heard from a live leader recently ignores campaigns
        // (check-quorum lease), so a partitioned node cannot disrupt it.
        const inLease = this.#checkQuorum && this.#lead !== null && this.#electionElapsed < this.#electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.kind === 'prevote' || (m.kind === 'prevote-resp' && !m.reject)) {
        // A pre-vote never changes terms.
      } else {
        const fromLeader = m.kind === 'append' || m.kind === 'heartbeat' || m.kind === 'snapshot';
        this.#becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.#term) {
      if (
        (this.#checkQuorum || this.#preVote) &&
        (m.kind === 'append' || m.kind === 'heartbeat' || m.kind === 'snapshot')
      ) {
        // Tell a stale leader about the newer term, so it steps down
        // (otherwise a pre-vote/lease node would never disturb it).
        this.#send(message({ kind: 'append-resp', from: this.id, to: m.from, term: this.#term }));
      } else if (m.kind === 'prevote') {
        this.#send(message({ kind: 'prevote-resp', from: this.id, to: m.from, term: this.#term, reject: true }));
      }
      return;
    }

    switch (m.kind) {
      case 'prevote':
      case 'vote':
        this.#handleVoteRequest(m);
        return;
      case 'read-index':
        if (this.#role === 'leader') this.#leaderRead(m.ctx, m.from);
        return;
      case 'read-index-resp':
        this.#reads.push({ ctx: m.ctx, index: m.index });
        return;
    }
    switch (this.#role) {
      case 'leader':
        this.#stepLeader(m);
        return;
      case 'pre-candidate':
      case 'candidate':
        this.#stepCandidate(m);
        return;
      case 'follower':
        this.#stepFollower(m);
        return;
    }
  }

  // ---------------------------------------------------------------- output

  /** True when {@link ready} has something. */
  hasReady(): boolean {
    return (
      this.#bcastPending ||
      this.#msgs.length > 0 ||
      this.#reads.length > 0 ||
      this.#installed !== undefined ||
      this.log.hasUnstable() ||
      this.#hardStateChanged() ||
      this.log.nextToApply(this.log.lastIndex()).length > 0
    );
  }

  /** Collects the pending work; follow with {@link advance} once it is done. */
  ready(): Ready {
    if (this.#bcastPending) {
      this.#bcastPending = false;
      if (this.#role === 'leader') this.#bcastAppend();
    }
    const hs = this.#hardState();
    const rd: Ready = {
      ...(this.#hardStateChanged() ? { hardState: hs } : {}),
      entries: this.log.unstable(),
      messages: this.#msgs,
      committed: this.log.nextToApply(this.log.lastIndex()),
      reads: this.#reads,
      ...(this.#installed ? { snapshot: this.#installed } : {}),
    };
    this.#msgs = [];
    this.#reads = [];
    this.#installed = undefined;
    return rd;
  }

  /** Acknowledges that a {@link Ready} was persisted and handed out. */
  advance(rd: Ready): void {
    if (rd.hardState) this.#persisted = rd.hardState;
    if (rd.entries.length > 0) this.log.stableTo(rd.entries.at(-1)!.index);
    const last = rd.committed.at(-1);
    if (last) this.log.applied = Math.max(this.log.applied, last.index);
    if (this.#role === 'leader') {
      // The leader counts itself only for entries it has made durable.
      this.#progress.get(this.id)?.ack(this.log.stableIndex());
      this.#maybeCommit();
    }
  }

  // ---------------------------------------------------------------- roles

  #becomeFollower(term: number, lead: string | null): void {
    this.#reset(term);
    this.#role = 'follower';
    this.#lead = lead;
  }

  #becomePreCandidate(): void {
    // No term change and no vote: a pre-vote failing leaves no trace.
    this.#role = 'pre-candidate';
    this.#votes = new Map();
    this.#lead = null;
  }

  #becomeCandidate(): void {
    this.#reset(this.#term + 1);
    this.#vote = this.id;
    this.#role = 'candidate';
  }

  #becomeLeader(): void {
    this.#reset(this.#term);
    this.#role = 'leader';
    this.#lead = this.id;
    const next = this.log.lastIndex() + 1;
    for (const v of [...this.#voters, ...this.#learners]) {
      const pr = new Progress(next);
      if (v === this.id) {
        pr.match = this.log.stableIndex();
        pr.state = 'replicate';
      }
      pr.recentActive = true;
      this.#progress.set(v, pr);
    }
    // An empty entry of the new term: committing it commits everything
    // before it (Raft §5.4.2: only current-term entries commit by count).
    this.#appendEntry(withKind(EntryKind.NOOP, new Uint8Array(0)));
    this.#bcastAppend();
  }

  #reset(term: number): void {
    if (term !== this.#term) {
      this.#term = term;
      this.#vote = null;
    }
    this.#lead = null;
    this.#electionElapsed = 0;
    this.#heartbeatElapsed = 0;
    this.#randomizedTimeout = this.#electionTicks + this.#rng.int(0, this.#electionTicks - 1);
    this.#votes = new Map();
    this.#progress = new Map();
    this.#transferee = null;
    this.#pendingReads = [];
  }

  // ---------------------------------------------------------------- elections

  #tickElection(): void {
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#randomizedTimeout && this.#voters.includes(this.id)) {
      this.#electionElapsed = 0;
      this.#campaign(this.#preVote ? 'pre' : 'real', false);
    }
  }

  #campaign(kind: 'pre' | 'real', transfer: boolean): void {
    if (kind === 'pre') this.#becomePreCandidate();
    else this.#becomeCandidate();
    const term = kind === 'pre' ? this.#term + 1 : this.#term;
    this.#votes.set(this.id, true);
    if (tally(this.#voters, this.#votes) === 'won') {
      if (kind === 'pre') this.#campaign('real', transfer);
      else this.#becomeLeader();
      return;
    }
    for (const v of this.#voters) {
      if (v === this.id) continue;
      this.#send(
        message({
          kind: kind === 'pre' ? 'prevote' : 'vote',
          from: this.id,
          to: v,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          transfer,
        }),
      );
    }
  }

  #handleVoteRequest(m: RaftMessage): void {
    const pre = m.kind === 'prevote';
    const canVote =
      this.#vote === m.from || (this.#vote === null && this.#lead === null) || (pre && m.term > this.#term);
    const grant = canVote && this.log.isUpToDate(m.index, m.logTerm);
    if (grant && !pre) {
      this.#electionElapsed = 0;
      this.#vote = m.from;
    }
    this.#send(
      message({
        kind: pre ? 'prevote-resp' : 'vote-resp',
        from: this.id,
        to: m.from,
        // A granted pre-vote answers in the candidate's future term so it
        // counts; a refusal carries ours.
        term: grant ? m.term : this.#term,
        reject: !grant,
      }),
    );
  }

  #stepCandidate(m: RaftMessage): void {
    switch (m.kind) {
      case 'append':
        this.#becomeFollower(m.term, m.from);
        this.#handleAppend(m);
        return;
      case 'heartbeat':
        this.#becomeFollower(m.term, m.from);
        this.#handleHeartbeat(m);
        return;
      case 'snapshot':
        this.#becomeFollower(m.term, m.from);
        this.#handleSnapshot(m);
        return;
      case 'prevote-resp':
      case 'vote-resp': {
        if ((m.kind === 'prevote-resp') !== (this.#role === 'pre-candidate')) return;
        this.#votes.set(m.from, !m.reject);
        const outcome = tally(this.#voters, this.#votes);
        if (outcome === 'won') {
          if (this.#role === 'pre-candidate') this.#campaign('real', false);
          else this.#becomeLeader();
        } else if (outcome === 'lost') {
          this.#becomeFollower(this.#term, null);
        }
        return;
      }
      case 'timeout-now':
        return;
    }
  }

  // ---------------------------------------------------------------- follower

  #stepFollower(m: RaftMessage): void {
    switch (m.kind) {
      case 'append':
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleAppend(m);
        return;
      case 'heartbeat':
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleHeartbeat(m);
        return;
      case 'snapshot':
        this.#electionElapsed = 0;
        this.#lead = m.from;
        this.#handleSnapshot(m);
        return;
      case 'timeout-now':
        // Leadership transfer: campaign now, skipping pre-vote and leases.
        if (this.#voters.includes(this.id)) this.#campaign('real', true);
        return;
    }
  }

  #handleAppend(m: RaftMessage): void {
    const reply = (fields: Partial<RaftMessage>) =>
      this.#send(message({ kind: 'append-resp', from: this.id, to: m.from, term: this.#term, ...fields }));
    if (m.entries.length > 0 && (m.entries[0]!.index !== m.index + 1 || m.entries.at(-1)!.term > m.term)) return;
    if (m.index < this.log.committed) {
      reply({ index: this.log.committed });
      return;
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = this.log.merge(m.index, m.entries);
      if (this.#trackConfigs(m.entries)) this.#useLatestConfig();
      this.log.commitTo(Math.min(m.commit, lastNew));
      reply({ index: lastNew });
      return;
    }
    // Fast back-tracking (etcd): point the leader at the last index that
    // can possibly match, skipping whole terms of conflicting entries.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    reply({ index: m.index, reject: true, hint, logTerm: this.log.term(hint) ?? 0 });
  }

  /** Receives one chunk of an InstallSnapshot; chunks must arrive in order, a gap asks the leader to resume. */
  #handleSnapshot(m: RaftMessage): void {
    const reply = (offset: number) =>
      this.#send(
        message({ kind: 'snapshot-resp', from: this.id, to: m.from, term: this.#term, index: m.index, offset }),
      );
    if (m.index <= this.log.committed) {
      this.#incoming = undefined;
      this.#send(
        message({ kind: 'append-resp', from: this.id, to: m.from, term: this.#term, index: this.log.committed }),
      );
      return;
    }
    let inc = this.#incoming;
    if (!inc || inc.index !== m.index || inc.term !== m.logTerm) {
      if (m.offset !== 0) {
        reply(0);
        return;
      }
      inc = this.#incoming = { index: m.index, term: m.logTerm, parts: [], size: 0 };
    }
    if (m.offset !== inc.size) {
      reply(inc.size);
      return;
    }
    inc.parts.push(m.data);
    inc.size += m.data.length;
    if (!m.done) {
      reply(inc.size);
      return;
    }
    const data = new Uint8Array(inc.size);
    let at = 0;
    for (const p of inc.parts) {
      data.set(p, at);
      at += p.length;
    }
    this.#incoming = undefined;
    const [voters, learners, state] = decodeSnapshotWire(data);
    const config = decodeMembership(encodeMsgpack([voters, learners]));
    const snap: RaftSnapshot = { index: inc.index, term: inc.term, data: state, config };
    this.log.restoreSnapshot(snap.index, snap.term);
    this.#baseConfig = config;
    this.#configs = [];
    this.#trackConfigs(this.log.slice(this.log.firstIndex(), this.log.lastIndex() + 1, Number.MAX_SAFE_INTEGER));
    this.#useLatestConfig();
    this.#snapshot = snap;
    this.#installed = snap;
    this.#send(message({ kind: 'append-resp', from: this.id, to: m.from, term: this.#term, index: snap.index }));
  }

  #handleHeartbeat(m: RaftMessage): void {
    this.log.commitTo(m.commit);
    this.#send(message({ kind: 'heartbeat-resp', from: this.id, to: m.from, term: this.#term, ctx: m.ctx }));
  }

  // ---------------------------------------------------------------- leader

  #tickLeader(): void {
    this.#heartbeatElapsed++;
    this.#electionElapsed++;
    if (this.#electionElapsed >= this.#electionTicks) {
      this.#electionElapsed = 0;
      if (this.#checkQuorum) {
        const active = new Set<string>([this.id]);
        for (const [id, pr] of this.#progress) {
          if (pr.recentActive) active.add(id);
          if (id !== this.id) pr.recentActive = false;
        }
        if (!hasQuorum(this.#voters, active)) {
          this.#becomeFollower(this.#term, null);
          return;
        }
      }
      if (this.#transferee !== null) this.#transferee = null; // transfer timed out
    }
    if (this.#heartbeatElapsed >= this.#heartbeatTicks) {
      this.#heartbeatElapsed = 0;
      this.#bcastHeartbeat(0);
    }
  }

  #stepLeader(m: RaftMessage): void {
    const pr = this.#progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    switch (m.kind) {
      case 'append-resp': {
        if (m.reject) {
          if (m.index <= pr.match) return; // stale
          if (pr.state === 'replicate') {
            pr.becomeProbe(pr.match + 1);
          } else {
            if (m.index !== pr.next - 1) return; // answers an older probe
            // Back up to the follower's hint, or further by our own terms.
            let probe = m.hint;
            if (m.logTerm > 0) probe = this.log.findConflictByTerm(m.hint, m.logTerm);
            pr.becomeProbe(Math.min(m.index, probe + 1));
          }
          this.#sendAppend(m.from);
          return;
        }
        const wasPaused = pr.paused(this.#maxInflight);
        if (pr.ack(m.index)) {
          if (!this.#maybeCommit()) this.#sendAppend(m.from);
          if (m.from === this.#transferee && pr.match === this.log.lastIndex()) {
            this.#send(message({ kind: 'timeout-now', from: this.id, to: m.from, term: this.#term }));
          }
        } else if (wasPaused) {
          this.#sendAppend(m.from);
        }
        // Keep streaming while the window allows.
        while (pr.state === 'replicate' && pr.next <= this.log.lastIndex() && !pr.paused(this.#maxInflight)) {
          if (!this.#sendAppend(m.from)) break;
        }
        return;
      }
      case 'snapshot-resp': {
        const snap = pr.snapshot;
        if (pr.state !== 'snapshot' || !snap || m.index !== snap.index) return;
        snap.offset = Math.min(m.offset, snap.data.length);
        pr.probeSent = false;
        this.#sendAppend(m.from);
        return;
      }
      case 'heartbeat-resp': {
        pr.probeSent = false;
        if (pr.match < this.log.lastIndex()) {
          // Appends may have been lost: free a window slot and send, even an
          // empty append, so a gap shows up as a rejection and we re-probe.
          if (pr.state === 'replicate' && pr.paused(this.#maxInflight)) pr.inflight.shift();
          this.#sendAppend(m.from, true);
        }
        if (m.ctx !== 0) this.#ackRead(m.ctx, m.from);
        return;
      }
    }
  }

  #appendEntry(data: Uint8Array): LogEntry {
    const entry: LogEntry = { index: this.log.lastIndex() + 1, term: this.#term, data };
    this.log.append([entry]);
    return entry;
  }

  #bcastAppend(): void {
    for (const v of this.#progress.keys()) if (v !== this.id) this.#sendAppend(v);
  }

  #bcastHeartbeat(ctx: number): void {
    for (const v of this.#progress.keys()) {
      if (v === this.id) continue;
      const pr = this.#progress.get(v)!;
      this.#send(
        message({
          kind: 'heartbeat',
          from: this.id,
          to: v,
          term: this.#term,
          commit: Math.min(pr.match, this.log.committed),
          ctx,
        }),
      );
    }
  }

  /** Sends the next append to `to` if flow control allows; returns whether one was sent. */
  #sendAppend(to: string, sendIfEmpty = false): boolean {
    const pr = this.#progress.get(to);
    if (!pr || pr.paused(this.#maxInflight)) return false;
    const prev = pr.next - 1;
    const prevTerm = this.log.term(prev);
    if (prevTerm === undefined || pr.state === 'snapshot') return this.#sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.#maxBatchBytes);
    if (entries.length === 0 && pr.state === 'replicate' && !sendIfEmpty) return false;
    this.#send(
      message({
        kind: 'append',
        from: this.id,
        to,
        term: this.#term,
        index: prev,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
      }),
    );
    pr.sent(entries.at(-1)?.index ?? prev);
    return true;
  }

  /** Sends the next chunk of the snapshot to a follower whose next entry is compacted away. */
  #sendSnapshot(to: string, pr: Progress): boolean {
    if (pr.state !== 'snapshot') {
      const snap = this.#snapshot;
      if (!snap) return false;
      if (this.#snapshotWire?.index !== snap.index) {
        const config = snap.config ?? this.configAt(snap.index);
        this.#snapshotWire = {
          index: snap.index,
          bytes: encodeMsgpack([[...config.voters], [...config.learners], snap.data]),
        };
      }
      pr.state = 'snapshot';
      pr.inflight.length = 0;
      pr.probeSent = false;
      pr.snapshot = { index: snap.index, term: snap.term, data: this.#snapshotWire.bytes, offset: 0 };
    }
    const s = pr.snapshot!;
    if (pr.probeSent) return false;
    const end = Math.min(s.offset + this.#chunkBytes, s.data.length);
    this.#send(
      message({
        kind: 'snapshot',
        from: this.id,
        to,
        term: this.#term,
        index: s.index,
        logTerm: s.term,
        offset: s.offset,
        data: s.data.subarray(s.offset, end),
        done: end === s.data.length,
      }),
    );
    pr.probeSent = true;
    return true;
  }

  #maybeCommit(): boolean {
    const idx = majorityIndex(this.#voters, (id) => this.#progress.get(id)?.match ?? 0);
    // Only an entry of the current term commits by counting replicas
    // (Raft §5.4.2, the Figure 8 hazard).
    if (idx > this.log.committed && this.log.term(idx) === this.#term) {
      const before = this.log.committed;
      this.log.commitTo(idx);
      // Followers learn the new commit index from the next append or
      // heartbeat (at most a tick later): an empty append per commit, and
      // its answer, would double the messages per write. Configuration
      // changes, a new leader's first commit and a leader about to step
      // down tell them at once.
      if (
        this.log.term(before) !== this.#term ||
        !this.#voters.includes(this.id) ||
        this.#configs.some((c) => c.index > before && c.index <= idx)
      )
        this.#bcastAppendAfterCommit();
      else this.#bcastAppend();
      this.#releaseReads();
      // A leader that removed itself keeps leading until the change commits
      // (thesis §4.2.2), then steps down; as a non-voter it never campaigns.
      if (!this.#voters.includes(this.id) && !this.membershipPending) this.#becomeFollower(this.#term, null);
      return true;
    }
    return false;
  }

  #bcastAppendAfterCommit(): void {
    for (const v of this.#progress.keys()) {
      if (v === this.id) continue;
      const pr = this.#progress.get(v)!;
      if (!this.#sendAppend(v) && pr.state === 'replicate' && this.log.term(pr.match) !== undefined) {
        // Nothing new to send: tell the follower the commit index anyway,
        // anchored at its match index so it cannot be rejected.
        this.#send(
          message({
            kind: 'append',
            from: this.id,
            to: v,
            term: this.#term,
            index: pr.match,
            logTerm: this.log.term(pr.match)!,
            commit: this.log.committed,
          }),
        );
      }
    }
  }

  // ---------------------------------------------------------------- reads

  #leaderRead(ctx: number, from: string): void {
    const seq = ++this.#readSeq;
    const pending: PendingRead = { seq, ctx, index: this.log.committed, from, acks: new Set([this.id]) };
    this.#pendingReads.push(pending);
    if (hasQuorum(this.#voters, pending.acks)) this.#releaseReads();
    else this.#bcastHeartbeat(seq);
  }

  #ackRead(seq: number, from: string): void {
    for (const r of this.#pendingReads) {
      // A heartbeat answer for a later read also confirms earlier ones.
      if (r.seq <= seq) r.acks.add(from);
    }
    this.#releaseReads();
  }

  /**
   * Releases confirmed reads, but only once this leader has committed an
   * entry of its term: before that its commit index may lag the cluster's.
   */
  #releaseReads(): void {
    if (this.log.term(this.log.committed) !== this.#term) return;
    while (this.#pendingReads.length > 0) {
      const r = this.#pendingReads[0]!;
      if (!hasQuorum(this.#voters, r.acks)) break;
      this.#pendingReads.shift();
      const index = Math.max(r.index, this.log.committed);
      if (r.from === this.id) this.#reads.push({ ctx: r.ctx, index });
      else
        this.#send(
          message({ kind: 'read-index-resp', from: this.id, to: r.from, term: this.#term, ctx: r.ctx, index }),
        );
    }
  }

  // ---------------------------------------------------------------- membership

  /**
   * Drops tracked configuration entries the log no longer holds (a
   * follower's uncommitted suffix was overwritten), then records those among
   * `entries` now in the log. Returns whether anything changed.
   */
  #trackConfigs(entries: readonly LogEntry[]): boolean {
    let changed = false;
    while (this.#configs.length > 0) {
      const last = this.#configs.at(-1)!;
      if (this.log.term(last.index) === last.term) break;
      this.#configs.pop();
      changed = true;
    }
    const after = this.#configs.at(-1)?.index ?? this.log.snapshot().index;
    for (const e of entries) {
      if (e.index <= after || e.data[0] !== EntryKind.CONFIG || this.log.term(e.index) !== e.term) continue;
      this.#configs.push({ index: e.index, term: e.term, config: decodeMembership(e.data.subarray(1)) });
      changed = true;
    }
    return changed;
  }

  /** Puts the latest configuration in force; a leader starts or stops replicating to members. */
  #useLatestConfig(): void {
    const c = this.#configs.at(-1)?.config ?? this.#baseConfig;
    this.#voters = [...c.voters];
    this.#learners = [...c.learners];
    if (this.#role !== 'leader') return;
    const members = new Set([...c.voters, ...c.learners, this.id]);
    for (const id of [...this.#progress.keys()]) if (!members.has(id)) this.#progress.delete(id);
    for (const id of members) {
      if (this.#progress.has(id)) continue;
      const pr = new Progress(this.log.lastIndex() + 1);
      pr.recentActive = true;
      this.#progress.set(id, pr);
    }
    if (this.#transferee !== null && !c.voters.includes(this.#transferee)) this.#transferee = null;
  }

  // ---------------------------------------------------------------- helpers

  #send(m: RaftMessage): void {
    this.#msgs.push(m);
  }

  #hardState(): HardState {
    return { term: this.#term, vote: this.#vote, commit: this.log.committed };
  }

  #hardStateChanged(): boolean {
    const p = this.#persisted;
    return p.term !== this.#term || p.vote !== this.#vote || p.commit !== this.log.committed;
  }
}

/** Prefixes `data` with an entry kind byte. */
export function withKind(kind: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 1);
  out[0] = kind;
  out.set(data, 1);
  return out;
}

/** Decodes the bytes of an InstallSnapshot (`[voters, learners, state]`); anything else is a protocol violation. */
function decodeSnapshotWire(bytes: Uint8Array): [unknown, unknown, Uint8Array] {
  let v: unknown;
  try {
    v = decodeMsgpack(bytes);
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 3 || !(v[2] instanceof Uint8Array)) {
    throw new NovacronError(AcpErrorCode.RAFT_PROTOCOL_VIOLATION, 'raft: bad snapshot framing', {
      details: { length: bytes.length },
    });
  }
  return [v[0], v[1], v[2]];
}
