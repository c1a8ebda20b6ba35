import {
  type Clock,
  type CommittedCommand,
  type ConsensusGroup,
  type ConsensusStatus,
  CoreErrorCode,
  type DurableLog,
  decodeMsgpack,
  encodeMsgpack,
  type LogEntry,
  type Logger,
  type NodeIdentity,
  NovacronError,
  type PeerNetwork,
  type ProposeOptions,
  type ProposeResult,
  type ReplicatedStateMachine,
  type Timer,
} from '@novacron/core';
import { PbftErrorCode } from '../errors.js';
import { SessionTable } from '../raft/sessions.js';
import { type PbftApplication, PbftCore, type PbftExecuted, type PbftOptions } from './core.js';
import { PbftKeyring } from './keyring.js';
import { decodeRecord, encodeRecord } from './records.js';
import { PBFT_CHANNEL } from './wire.js';

/** A replica of a PBFT group: its node id and Ed25519 public key (the id must derive from the key). */
export interface PbftReplicaInfo {
  readonly id: string;
  readonly publicKey: Uint8Array;
}

/** What {@link PbftGroup} takes. */
export interface PbftGroupInit extends PbftOptions {
  /** This replica's identity (its node id is its id in the group and on `network`). */
  readonly identity: NodeIdentity;
  /** Every replica, this one included, in primary order (at least 4: n = 3f + 1 tolerates f). */
  readonly replicas: readonly PbftReplicaInfo[];
  /** Messages to and from the other replicas and clients. */
  readonly network: PeerNetwork;
  /** Persistent log (opened by `start`, closed by `stop`). */
  readonly log: DurableLog;
  /** Time source for ticks and timeouts. */
  readonly clock: Clock;
  /** The replicated state machine. */
  readonly stateMachine: ReplicatedStateMachine;
  /** Milliseconds per tick (default 50): view-change and status timers count ticks. */
  readonly tickMs?: number;
  /** Default proposal timeout in ms (default 10 000). */
  readonly proposeTimeoutMs?: number;
  /** Optional logger. */
  readonly logger?: Logger;
}

interface Pending {
  readonly resolve: (r: ProposeResult) => void;
  readonly reject: (err: unknown) => void;
  readonly cleanup: () => void;
}

/** Operation kinds inside a PBFT request (`[kind, session client, session seq, command]`). */
const OP_COMMAND = 0;
const OP_BARRIER = 1;

/** Encodes a command (with an optional session) as a PBFT operation; see {@link PbftClient}. */
export function encodePbftCommand(command: Uint8Array, session?: { client: string; seq: number }): Uint8Array {
  return encodeMsgpack([OP_COMMAND, session?.client ?? '', session?.seq ?? 0, command]);
}

/** Decodes a PBFT reply produced by a {@link PbftGroup}: the log index and the state machine's result. */
export function decodePbftResult(bytes: Uint8Array): ProposeResult {
  const v = decodeMsgpack(bytes);
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || !(v[1] instanceof Uint8Array)) {
    throw new NovacronError(CoreErrorCode.MESSAGE_INVALID, 'pbft: malformed reply', { details: { type: 'reply' } });
  }
  return { index: v[0], result: v[1] };
}

/**
 * A PBFT replica implementing core's {@link ConsensusGroup}: the runtime
 * around {@link PbftCore}. It owns the tick timer (on the injected clock),
 * writes each batch of the core's records to the {@link DurableLog} before
 * sending the messages that depend on them, carries messages over a
 * {@link PeerNetwork} on channel `acp/pbft`, and applies executed requests
 * through client sessions (exactly once per `(client, seq)`).
 *
 * Unlike Raft, every replica takes proposals: `propose` broadcasts a
 * request MAC-authenticated by this replica as a client, and resolves
 * when this replica executes it (a replica trusts its own execution; an
 * outside client uses {@link PbftClient} and f+1 matching replies). `read`
 * orders a no-op barrier request, so when it resolves every request
 * committed before it has been applied here.
 */
export class PbftGroup implements ConsensusGroup {
  readonly #init: PbftGroupInit;
  readonly #id: string;
  readonly #sessions = new SessionTable();
  readonly #listeners = new Set<(c: CommittedCommand) => void>();
  readonly #pending = new Map<number, Pending>();
  #core: PbftCore | undefined;
  #timer: Timer | undefined;
  #unhandle: (() => void) | undefined;
  #processing: Promise<void> | undefined;
  #again = false;
  #applied = 0;
  #term = 0;
  #state: 'new' | 'started' | 'stopped' | 'failed' = 'new';

  constructor(init: PbftGroupInit) {
    const ids = init.replicas.map((r) => r.id);
    this.#id = init.identity.nodeId;
    if (ids.length < 4 || new Set(ids).size !== ids.length || !ids.includes(this.#id)) {
      throw new NovacronError(
        PbftErrorCode.CONFIG_INVALID,
        'pbft: replicas must be at least 4 distinct ids including this one',
        { details: { id: this.#id, replicas: ids } },
      );
    }
    this.#init = init;
  }

  /** The PBFT state machine (for inspection by tests and tools). */
  get core(): PbftCore {
    if (!this.#core) throw this.#notStarted('core');
    return this.#core;
  }

  /** This replica's id. */
  get id(): string {
    return this.#id;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') return;
    const { log } = this.#init;
    await log.open();
    const entries = log.entries(log.firstIndex(), log.lastIndex() + 1);
    const records = entries.map((e) => decodeRecord(e.data, e.index));
    this.#term = log.term(log.lastIndex()) ?? 0;
    const keys = new PbftKeyring(this.#init.identity, this.#init.replicas);
    this.#core = new PbftCore({
      ...this.#init,
      keys,
      replicas: this.#init.replicas.map((r) => r.id),
      app: this.#application(),
      restore: records,
    });
    this.#unhandle = this.#init.network.handle(PBFT_CHANNEL, (_from, data) => this.#receive(data));
    this.#timer = this.#init.clock.setInterval(() => {
      this.#core!.tick();
      this.#kick();
    }, this.#init.tickMs ?? 50);
    this.#state = 'started';
    this.#kick();
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
    this.#failAll(new NovacronError(CoreErrorCode.PROPOSAL_UNKNOWN, 'pbft: group stopped', { details: {} }));
    await this.#init.log.close();
  }

  async propose(command: Uint8Array, options: ProposeOptions = {}): Promise<ProposeResult> {
    if (this.#state !== 'started') throw this.#notStarted('propose');
    return this.#submit(encodePbftCommand(command, options.session), options);
  }

  async read(options: { readonly signal?: AbortSignal; readonly timeoutMs?: number } = {}): Promise<void> {
    if (this.#state !== 'started') throw this.#notStarted('read');
    await this.#submit(encodeMsgpack([OP_BARRIER, '', 0, new Uint8Array(0)]), options);
  }

  onCommitted(listener: (command: CommittedCommand) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): ConsensusStatus {
    const core = this.#core;
    const role = !core
      ? 'stopped'
      : core.inViewChange
        ? 'view-change'
        : core.primary === this.#id
          ? 'primary'
          : 'backup';
    return {
      id: this.#id,
      role,
      term: core?.view ?? 0,
      leader: core && !core.inViewChange ? core.primary : null,
      commitIndex: this.#applied,
      appliedIndex: this.#applied,
      voters: this.#init.replicas.map((r) => r.id),
    };
  }

  // ---------------------------------------------------------------- internals

  #submit(op: Uint8Array, options: ProposeOptions): Promise<ProposeResult> {
    const { t } = this.#core!.submit(op);
    this.#kick();
    return new Promise<ProposeResult>((resolve, reject) => {
      const cleanup = this.#guard(options, this.#init.proposeTimeoutMs ?? 10_000, (err) => {
        this.#pending.delete(t);
        reject(err);
      });
      this.#pending.set(t, { resolve, reject, cleanup });
    });
  }

  /** The deterministic service the core executes: sessions plus the user's state machine. */
  #application(): PbftApplication {
    const sm = this.#init.stateMachine;
    return {
      execute: (op) => {
        const [kind, client, seq, command] = decodeMsgpack(op) as [number, string, number, Uint8Array];
        if (kind === OP_BARRIER) return encodeMsgpack([this.#applied, new Uint8Array(0)]);
        const index = ++this.#applied;
        const result = this.#sessions.apply(sm, client, seq, command, index);
        for (const l of this.#listeners) l({ index, command, result });
        return encodeMsgpack([index, result]);
      },
      snapshot: () => encodeMsgpack([this.#applied, this.#sessions.snapshot(), sm.snapshot()]),
      restore: (state) => {
        const [applied, sessions, app] = decodeMsgpack(state) as [number, Uint8Array, Uint8Array];
        this.#applied = applied;
        this.#sessions.restore(sessions);
        sm.restore(app);
      },
    };
  }

  #receive(data: Uint8Array): void {
    if (this.#state !== 'started') return;
    try {
      this.#core!.receive(data);
    } catch (err) {
      this.#init.logger?.debug('pbft: dropped a message', { err });
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
      .catch((err) => {
        // Storage failed: this replica can no longer promise durability.
        this.#state = 'failed';
        this.#timer?.cancel();
        this.#unhandle?.();
        this.#failAll(err);
      })
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
      const rd = core.ready();
      if (rd.records.length > 0) {
        this.#term = Math.max(this.#term, core.view);
        let index = log.lastIndex();
        let base = 0;
        const entries: LogEntry[] = rd.records.map((r) => {
          index++;
          if (r.t === 'base') base = index;
          return { index, term: this.#term, data: encodeRecord(r) };
        });
        await log.append(entries);
        if (base > log.firstIndex()) await log.compact(base - 1, log.term(base - 1)!);
      }
      if (this.#state !== 'started') return;
      const net = this.#init.network;
      for (const s of rd.sends) {
        if (s.bytes.length > net.maxMessageSize) {
          this.#init.logger?.warn('pbft: message larger than the network allows', { size: s.bytes.length });
          continue;
        }
        for (const to of s.to) net.send(to, PBFT_CHANNEL, s.bytes);
      }
      for (const e of rd.executed) this.#settle(e);
    }
  }

  #settle(e: PbftExecuted): void {
    if (e.client !== this.#id) return;
    const p = this.#pending.get(e.t);
    if (!p) return;
    this.#pending.delete(e.t);
    p.cleanup();
    p.resolve(decodePbftResult(e.result));
  }

  /** Arms a timeout and abort listener; returns the function that disarms both. */
  #guard(
    options: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
    defaultTimeout: number,
    fail: (err: unknown) => void,
  ): () => void {
    const timer = this.#init.clock.setTimeout(
      () => fail(new NovacronError(CoreErrorCode.PROPOSAL_UNKNOWN, 'pbft: no outcome in time', { details: {} })),
      options.timeoutMs ?? defaultTimeout,
    );
    const onAbort = () => {
      timer.cancel();
      fail(new NovacronError(CoreErrorCode.ABORTED, 'pbft: aborted', { details: {}, cause: options.signal?.reason }));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      timer.cancel();
      options.signal?.removeEventListener('abort', onAbort);
    };
  }

  #failAll(err: unknown): void {
    for (const [, p] of this.#pending) {
      p.cleanup();
      p.reject(err);
    }
    this.#pending.clear();
  }

  #notStarted(op: string): NovacronError {
    return new NovacronError(CoreErrorCode.INVALID_STATE, `pbft: ${op} while ${this.#state}`, { details: { op } });
  }
}
