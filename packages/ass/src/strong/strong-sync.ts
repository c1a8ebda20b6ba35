import {
  assertNamespace,
  assertStateKey,
  assertStateValue,
  type Clock,
  type ConsensusGroup,
  CoreErrorCode,
  decodeMsgpack,
  encodeMsgpack,
  isNovacronError,
  type Logger,
  NovacronError,
  noopLogger,
  type PeerNetwork,
  type ProposeResult,
  type ReadOptions,
  type Rng,
  type StateChange,
  type StateEntry,
  type StateSync,
  type StateSyncStatus,
  type WriteOptions,
  type WriteResult,
} from '@novacron/core';
import { AssErrorCode } from '../errors.js';
import { encodeSyncCommand } from './commands.js';
import type { SyncStateMachine } from './sync-state-machine.js';

/** Channel StrongSync forwards proposals on (docs/protocol/ass.md). */
export const STRONG_CHANNEL = 'ass/strong/1';

/** Options of {@link StrongSync}. */
export interface StrongSyncInit {
  /** The consensus group replicating `stateMachine` (Raft, PBFT, ...). */
  readonly group: ConsensusGroup;
  /** This member's copy of the state machine (the one given to `group`). */
  readonly stateMachine: SyncStateMachine;
  /** Time source for deadlines and retries. */
  readonly clock: Clock;
  /** Randomness for the session client id. */
  readonly rng: Rng;
  /**
   * Network to forward proposals to the leader when this member is not it
   * (followers then accept writes too). Without it only the leader writes.
   */
  readonly network?: PeerNetwork;
  /** How long `put`, `delete` and linearizable `get` keep retrying before `ASS_STRONG_UNAVAILABLE` (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Pause between retries while no leader is known (default 20 ms). */
  readonly retryMs?: number;
  /**
   * How long a forwarded proposal waits for the leader's answer before it
   * is sent again with the same session (default 1000 ms): a lost request
   * or answer costs this much, not the whole timeout.
   */
  readonly forwardRetryMs?: number;
  /** Start and stop `group` with this component (default true). */
  readonly manageGroup?: boolean;
  /**
   * After committing a write forwarded by another member, run the group's
   * read barrier once so the forwarder learns the commit at once: a Raft
   * leader's read sends heartbeats carrying the commit index, where the
   * forwarder would otherwise wait for the next heartbeat to apply (and
   * answer) its write. Default: on when the group reports the role
   * `leader` (Raft), off otherwise (a PBFT read is a consensus round of its
   * own, and PBFT members apply commits without waiting for a leader).
   */
  readonly announceForwardedCommits?: boolean;
  /** Optional logger. */
  readonly logger?: Logger;
}

/** Options of {@link StrongSync.submit}. */
export interface SubmitOptions {
  /** Give up after this long with `ASS_STRONG_UNAVAILABLE` (default the component's `timeoutMs`). */
  readonly timeoutMs?: number;
  /** Rejects with `CORE_ABORTED`. */
  readonly signal?: AbortSignal;
}

interface PendingForward {
  readonly resolve: (r: ProposeResult) => void;
  readonly reject: (err: unknown) => void;
}

const RETRYABLE: ReadonlySet<string> = new Set([
  CoreErrorCode.NOT_LEADER,
  CoreErrorCode.PROPOSAL_DROPPED,
  CoreErrorCode.PROPOSAL_UNKNOWN,
  CoreErrorCode.TIMEOUT,
  AssErrorCode.FORWARD_FAILED,
]);

/**
 * Linearizable {@link StateSync} over any core `ConsensusGroup`: writes are
 * commands of a {@link SyncStateMachine} proposed with a client session
 * (retries apply once), forwarded to the leader over `network` when this
 * member does not lead; linearizable reads wait for the group's read
 * barrier and then read the local state machine. Every value is `strong`.
 *
 * ```ts
 * const machine = new SyncStateMachine();
 * const group = new RaftGroup({ ..., stateMachine: machine });
 * const sync = new StrongSync({ group, stateMachine: machine, network, clock, rng });
 * await sync.start();
 * await sync.put('placements', 'vm-1', bytes);
 * ```
 */
export class StrongSync implements StateSync {
  readonly #init: StrongSyncInit;
  readonly #logger: Logger;
  readonly #client: string;
  readonly #timeoutMs: number;
  readonly #retryMs: number;
  readonly #forwardRetryMs: number;
  readonly #seqs = new Map<string, number>();
  readonly #watchers = new Map<string, Set<(c: StateChange) => void>>();
  readonly #forwards = new Map<number, PendingForward>();
  #sessionSeq = 0;
  #forwardId = 0;
  #inflight = 0;
  #running = false;
  #offNet: (() => void) | undefined;
  #offSm: (() => void) | undefined;
  #stopCtl = new AbortController();

  constructor(init: StrongSyncInit) {
    this.#init = init;
    this.#logger = init.logger ?? noopLogger();
    this.#timeoutMs = init.timeoutMs ?? 5000;
    this.#retryMs = init.retryMs ?? 20;
    this.#forwardRetryMs = init.forwardRetryMs ?? 1000;
    const nonce = Array.from(init.rng.bytes(6), (b) => b.toString(16).padStart(2, '0')).join('');
    this.#client = `ass:${init.network?.localId ?? 'member'}:${nonce}`;
  }

  /** The state machine this component reads. */
  get stateMachine(): SyncStateMachine {
    return this.#init.stateMachine;
  }

  /** The consensus group. */
  get group(): ConsensusGroup {
    return this.#init.group;
  }

  /** Starts the group (unless `manageGroup` is false) and the forwarding handler. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#stopCtl = new AbortController();
    this.#offSm = this.#init.stateMachine.onChange((c) => {
      const prev = c.version; // the machine reports the new version; deletes of absent keys still emit once
      this.#emit(c.ns, c.key, prev === null || prev.value === null ? null : { value: prev.value, level: 'strong' });
    });
    if (this.#init.network)
      this.#offNet = this.#init.network.handle(STRONG_CHANNEL, (from, data) => this.#onMessage(from, data));
    if (this.#init.manageGroup !== false) await this.#init.group.start();
    this.#running = true;
  }

  /** Stops; pending forwarded proposals reject with `CORE_INVALID_STATE`. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopCtl.abort();
    this.#offNet?.();
    this.#offSm?.();
    const err = new NovacronError(CoreErrorCode.INVALID_STATE, 'state sync stopped');
    for (const p of this.#forwards.values()) p.reject(err);
    this.#forwards.clear();
    if (this.#init.manageGroup !== false) await this.#init.group.stop();
  }

  /** Reads after the group's read barrier (or locally with `consistency: 'local'`). */
  async get(namespace: string, key: string, options: ReadOptions = {}): Promise<StateEntry | null> {
    assertNamespace(namespace);
    assertStateKey(key);
    this.#assertRunning();
    if (options.consistency !== 'local') await this.barrier({ ...(options.signal ? { signal: options.signal } : {}) });
    const v = this.#init.stateMachine.version(namespace, key);
    return v === undefined || v.value === null ? null : { value: v.value, level: 'strong' };
  }

  async put(namespace: string, key: string, value: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    assertNamespace(namespace);
    assertStateKey(key);
    assertStateValue(value);
    this.#assertRunning();
    await this.submit(encodeSyncCommand({ t: 'w', ns: namespace, key, value }), options);
    return { level: 'strong' };
  }

  async delete(namespace: string, key: string, options: WriteOptions = {}): Promise<WriteResult> {
    assertNamespace(namespace);
    assertStateKey(key);
    this.#assertRunning();
    await this.submit(encodeSyncCommand({ t: 'w', ns: namespace, key, value: null }), options);
    return { level: 'strong' };
  }

  entries(namespace: string): ReadonlyMap<string, StateEntry> {
    assertNamespace(namespace);
    return new Map(
      this.#init.stateMachine.entries(namespace).map(([k, v]) => [k, { value: v.value!, level: 'strong' as const }]),
    );
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
    const s = this.#init.group.status();
    return {
      strategy: 'strong',
      writeLevel: 'strong',
      pendingWrites: this.#inflight,
      divergence: [],
      convergenceLagMs: s.appliedIndex >= s.commitIndex ? 0 : null,
    };
  }

  /**
   * Waits for the group's read barrier, retrying while no leader is known;
   * afterwards the local state machine reflects every write committed
   * before the call. Rejects with `ASS_STRONG_UNAVAILABLE` after the timeout.
   */
  async barrier(options: SubmitOptions = {}): Promise<void> {
    const deadline = this.#init.clock.now() + (options.timeoutMs ?? this.#timeoutMs);
    for (;;) {
      this.#checkAbort(options.signal);
      const remaining = deadline - this.#init.clock.now();
      if (remaining <= 0) throw unavailable('read barrier', false);
      try {
        await this.#init.group.read({ timeoutMs: remaining, ...(options.signal ? { signal: options.signal } : {}) });
        return;
      } catch (err) {
        if (isNovacronError(err, CoreErrorCode.ABORTED) || !this.#retryable(err)) throw err;
        await this.#pause(Math.min(this.#retryMs, Math.max(0, deadline - this.#init.clock.now())));
      }
    }
  }

  /**
   * Proposes an encoded state-machine command with a fresh session (so
   * retries apply once), through the leader, retrying leader changes until
   * it commits or the timeout passes (`ASS_STRONG_UNAVAILABLE` with
   * `details.mayCommit`).
   */
  async submit(command: Uint8Array, options: SubmitOptions = {}): Promise<ProposeResult> {
    this.#assertRunning();
    const session = { client: this.#client, seq: ++this.#sessionSeq };
    const deadline = this.#init.clock.now() + (options.timeoutMs ?? this.#timeoutMs);
    this.#inflight++;
    try {
      for (;;) {
        this.#checkAbort(options.signal);
        this.#assertRunning();
        const remaining = deadline - this.#init.clock.now();
        if (remaining <= 0) throw unavailable('write', true);
        const s = this.#init.group.status();
        try {
          if (s.leader === s.id || !this.#init.network) {
            return await this.#init.group.propose(command, {
              session,
              timeoutMs: remaining,
              ...(options.signal ? { signal: options.signal } : {}),
            });
          }
          if (s.leader !== null) {
            const sent = this.#init.clock.now();
            const r = await this.#forward(
              s.leader,
              command,
              session,
              Math.min(remaining, this.#forwardRetryMs),
              options.signal,
            );
            await this.#appliedHere(r.index, deadline, this.#init.clock.now() - sent);
            return r;
          }
        } catch (err) {
          if (!this.#retryable(err)) throw err;
          if (isNovacronError(err, CoreErrorCode.NOT_LEADER)) {
            const leader = (err.details as { leader?: unknown }).leader;
            if (typeof leader === 'string' && leader !== s.leader && leader !== s.id) continue;
          }
        }
        await this.#pause(Math.min(this.#retryMs, Math.max(0, deadline - this.#init.clock.now())));
      }
    } finally {
      this.#inflight--;
    }
  }

  /**
   * Waits (until `deadline` at most) for this member to apply `index`, so a
   * forwarded write reads back locally. The leader announces the commit
   * right after answering (see `announceForwardedCommits`), but its
   * announcement carries only what it knows this member holds; if the
   * commit has not arrived `nudgeMs` (the forward's own round trip) after
   * the answer, a read barrier makes the leader send it again.
   */
  async #appliedHere(index: number, deadline: number, nudgeMs: number): Promise<void> {
    if (this.#init.stateMachine.appliedIndex >= index) return;
    await new Promise<void>((resolve) => {
      const nudge = this.#init.clock.setTimeout(
        () => {
          const left = deadline - this.#init.clock.now();
          if (left > 0) this.#init.group.read({ timeoutMs: left }).catch(() => undefined);
        },
        Math.max(1, nudgeMs),
      );
      const done = () => {
        off();
        timer.cancel();
        nudge.cancel();
        resolve();
      };
      const off = this.#init.group.onCommitted((c) => {
        if (c.index >= index) done();
      });
      const timer = this.#init.clock.setTimeout(done, Math.max(0, deadline - this.#init.clock.now()));
      if (this.#init.stateMachine.appliedIndex >= index) done();
    });
  }

  #retryable(err: unknown): boolean {
    return err instanceof NovacronError && RETRYABLE.has(err.code);
  }

  async #pause(ms: number): Promise<void> {
    try {
      await this.#init.clock.sleep(ms, this.#stopCtl.signal);
    } catch {
      // Stopped: the loop's running check reports it.
    }
  }

  #checkAbort(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw new NovacronError(CoreErrorCode.ABORTED, 'state sync operation aborted');
  }

  #assertRunning(): void {
    if (!this.#running) throw new NovacronError(CoreErrorCode.INVALID_STATE, 'state sync is not running');
  }

  #emit(ns: string, key: string, entry: StateEntry | null): void {
    const seq = (this.#seqs.get(ns) ?? 0) + 1;
    this.#seqs.set(ns, seq);
    const set = this.#watchers.get(ns);
    if (!set) return;
    const change: StateChange = { namespace: ns, key, entry, seq };
    for (const l of [...set]) {
      try {
        l(change);
      } catch (err) {
        this.#logger.warn('watch listener threw', { err: String(err) });
      }
    }
  }

  #forward(
    leader: string,
    command: Uint8Array,
    session: { client: string; seq: number },
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ProposeResult> {
    const id = ++this.#forwardId;
    const net = this.#init.network!;
    return new Promise<ProposeResult>((resolve, reject) => {
      // The leader answers within its own propose timeout; a lost request or answer ends here.
      const timer = this.#init.clock.setTimeout(() => {
        this.#forwards.delete(id);
        reject(new NovacronError(CoreErrorCode.TIMEOUT, 'forwarded proposal unanswered'));
      }, timeoutMs);
      const onAbort = () => {
        timer.cancel();
        this.#forwards.delete(id);
        reject(new NovacronError(CoreErrorCode.ABORTED, 'state sync operation aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#forwards.set(id, {
        resolve: (r) => {
          timer.cancel();
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          timer.cancel();
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      try {
        net.send(
          leader,
          STRONG_CHANNEL,
          encodeMsgpack({
            v: 1,
            t: 'q',
            i: id,
            c: command,
            cl: session.client,
            s: session.seq,
            to: Math.ceil(timeoutMs),
          }),
        );
      } catch (err) {
        this.#forwards.get(id)?.reject(err);
        this.#forwards.delete(id);
      }
    });
  }

  #onMessage(from: string, data: Uint8Array): void {
    let m: Record<string, unknown>;
    try {
      const d = decodeMsgpack(data);
      if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new Error('not a map');
      m = d as Record<string, unknown>;
      if (m.v !== 1) throw new Error('version');
    } catch (err) {
      this.#logger.debug('dropping malformed forward message', { from, err: String(err) });
      return;
    }
    if (m.t === 'q') {
      const { i, c, cl, s, to } = m;
      if (
        !Number.isSafeInteger(i) ||
        !(c instanceof Uint8Array) ||
        typeof cl !== 'string' ||
        cl.length > 1024 ||
        !Number.isSafeInteger(s) ||
        (s as number) < 1 ||
        !Number.isSafeInteger(to)
      ) {
        this.#logger.debug('dropping malformed forward request', { from });
        return;
      }
      void this.#serve(
        from,
        i as number,
        c,
        { client: cl, seq: s as number },
        Math.min(Math.max(to as number, 1), 60_000),
      );
    } else if (m.t === 'a') {
      const p = this.#forwards.get(m.i as number);
      if (!p) return;
      this.#forwards.delete(m.i as number);
      if (m.ok === true && Number.isSafeInteger(m.x) && m.r instanceof Uint8Array) {
        p.resolve({ index: m.x as number, result: m.r });
      } else {
        const code = typeof m.e === 'string' ? m.e : 'unknown';
        const known =
          code === CoreErrorCode.NOT_LEADER ||
          code === CoreErrorCode.PROPOSAL_DROPPED ||
          code === CoreErrorCode.PROPOSAL_UNKNOWN;
        p.reject(
          known
            ? new NovacronError(code, `leader ${from} answered ${code}`, {
                details: { leader: typeof m.l === 'string' ? m.l : null },
              })
            : new NovacronError(AssErrorCode.FORWARD_FAILED, `leader ${from} answered ${code}`, { details: { code } }),
        );
      }
    }
  }

  async #serve(
    from: string,
    id: number,
    command: Uint8Array,
    session: { client: string; seq: number },
    timeoutMs: number,
  ): Promise<void> {
    let answer: Record<string, unknown>;
    try {
      if (!this.#running) throw new NovacronError(CoreErrorCode.NOT_LEADER, 'stopped', { details: { leader: null } });
      const r = await this.#init.group.propose(command, { session, timeoutMs });
      answer = { v: 1, t: 'a', i: id, ok: true, x: r.index, r: r.result };
      if (this.#init.announceForwardedCommits ?? this.#init.group.status().role === 'leader') {
        this.#init.group.read({ timeoutMs }).catch(() => undefined);
      }
    } catch (err) {
      const code = err instanceof NovacronError ? err.code : 'unknown';
      const leader = isNovacronError(err, CoreErrorCode.NOT_LEADER)
        ? ((err.details as { leader?: unknown }).leader ?? null)
        : null;
      answer = { v: 1, t: 'a', i: id, ok: false, e: code, l: typeof leader === 'string' ? leader : null };
    }
    if (!this.#running) return;
    try {
      this.#init.network!.send(from, STRONG_CHANNEL, encodeMsgpack(answer));
    } catch (err) {
      this.#logger.debug('cannot answer forward', { err: String(err) });
    }
  }
}

function unavailable(what: string, mayCommit: boolean): NovacronError {
  return new NovacronError(AssErrorCode.STRONG_UNAVAILABLE, `consensus log unavailable: ${what} timed out`, {
    details: { mayCommit },
  });
}
