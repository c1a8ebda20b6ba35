import {
  type Clock,
  type CommittedCommand,
  type ConsensusGroup,
  type ConsensusStatus,
  CoreErrorCode,
  decodeMsgpack,
  encodeMsgpack,
  type Logger,
  NovacronError,
  type PeerNetwork,
  type ProposeOptions,
  type ProposeResult,
  type ReplicatedStateMachine,
} from '@novacron/core';
import { SessionTable } from '../raft/sessions.js';
import type { ConsensusProtocol } from './select-protocol.js';

/** What a {@link GroupFactory} gets to build one epoch's group. */
export interface EpochGroupContext {
  /** Epoch number (0 first). */
  readonly epoch: number;
  /** Protocol to run. */
  readonly protocol: ConsensusProtocol;
  /** The network, scoped to this epoch (channels suffixed `@<epoch>`), so epochs never hear each other. */
  readonly network: PeerNetwork;
  /** The state machine the group must replicate (the epoch's view of the shared state). */
  readonly stateMachine: ReplicatedStateMachine;
}

/** Builds (not starts) the group of one epoch: a `RaftGroup` or a `PbftGroup` with a fresh log. */
export type GroupFactory = (ctx: EpochGroupContext) => ConsensusGroup;

/** What {@link SwitchingConsensusGroup} takes. */
export interface SwitchingGroupInit {
  /** This member's id. */
  readonly id: string;
  /** The member's network (each epoch gets a scoped view of it). */
  readonly network: PeerNetwork;
  /** Time source (for retiring old groups). */
  readonly clock: Clock;
  /** The replicated state machine. */
  readonly stateMachine: ReplicatedStateMachine;
  /** Protocol of epoch 0. */
  readonly initial: ConsensusProtocol;
  /** Builds each epoch's group. */
  readonly factory: GroupFactory;
  /** How long an old epoch's group keeps running after the switch, for members still catching up to the cut (default 5 000 ms). */
  readonly retireMs?: number;
  /** Optional logger. */
  readonly logger?: Logger;
}

const USER = 0;
const SWITCH = 1;
const DROPPED = encodeMsgpack(['dropped']);

/** A PeerNetwork view whose channels carry an epoch suffix. */
function scoped(network: PeerNetwork, epoch: number): PeerNetwork {
  return {
    localId: network.localId,
    maxMessageSize: network.maxMessageSize,
    send: (to, channel, data) => network.send(to, `${channel}@${epoch}`, data),
    handle: (channel, handler) => network.handle(`${channel}@${epoch}`, handler),
  };
}

/** One epoch's replicated state: its apply counter and sessions over the shared user state machine. */
class EpochState implements ReplicatedStateMachine {
  applied = 0;
  cut = false;
  readonly sessions = new SessionTable();

  constructor(
    readonly epoch: number,
    private readonly owner: SwitchingConsensusGroup,
    private readonly user: ReplicatedStateMachine,
  ) {}

  apply(command: Uint8Array): Uint8Array {
    if (this.cut) return DROPPED; // after the committed cut: the next epoch owns the state
    const [kind, a, b, c] = decodeMsgpack(command) as [number, unknown, unknown, unknown];
    if (kind === SWITCH) {
      const protocol = a as ConsensusProtocol;
      this.cut = true;
      this.owner._switch(this, protocol);
      return encodeMsgpack([this.applied, new Uint8Array(0)]);
    }
    const index = ++this.applied;
    const result = this.sessions.apply(this.user, a as string, b as number, c as Uint8Array, index);
    this.owner._committed({ index, command: c as Uint8Array, result });
    return encodeMsgpack([index, result]);
  }

  snapshot(): Uint8Array {
    return encodeMsgpack([this.applied, this.cut, this.sessions.snapshot(), this.user.snapshot()]);
  }

  /** The state at the cut, as the next epoch starts from it. */
  handover(): Uint8Array {
    return encodeMsgpack([this.applied, false, this.sessions.snapshot(), this.user.snapshot()]);
  }

  restore(snapshot: Uint8Array): void {
    const [applied, cut, sessions, user] = decodeMsgpack(snapshot) as [number, boolean, Uint8Array, Uint8Array];
    this.applied = applied;
    this.sessions.restore(sessions);
    this.user.restore(user);
    if (cut && !this.cut) {
      // A snapshot taken after the cut reached a member still behind it: the switch happened.
      this.cut = true;
      this.owner._switch(this, undefined);
    }
  }
}

/**
 * A {@link ConsensusGroup} that can change its protocol (Raft ↔ PBFT) at an
 * epoch boundary without losing or repeating a committed command:
 *
 * 1. `switchTo` commits a switch command through the current group; the
 *    position where it commits is the **cut**. Every member applies the
 *    same commands before it, and ignores everything after it (those
 *    proposals fail with `CORE_PROPOSAL_DROPPED`: certainly not applied).
 * 2. Each member then snapshots the state at the cut — the user state
 *    machine, the exactly-once session table and the index counter — and
 *    restores it into the next epoch, whose group (built by the factory
 *    with a fresh log and an epoch-scoped network) starts from it.
 * 3. The old group keeps running for `retireMs` so members that are behind
 *    still reach the cut, then stops.
 *
 * Sessions live here, above the protocols, so a command retried with the
 * same session across a switch applies once; indexes continue across
 * epochs.
 */
export class SwitchingConsensusGroup implements ConsensusGroup {
  readonly #init: SwitchingGroupInit;
  readonly #listeners = new Set<(c: CommittedCommand) => void>();
  #epoch = 0;
  #protocol: ConsensusProtocol;
  #state: EpochState;
  #group: ConsensusGroup | undefined;
  #ready: Promise<void> = Promise.resolve();
  #running = false;
  readonly #retiring = new Set<ConsensusGroup>();

  constructor(init: SwitchingGroupInit) {
    this.#init = init;
    this.#protocol = init.initial;
    this.#state = new EpochState(0, this, init.stateMachine);
  }

  /** Current epoch. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Protocol of the current epoch. */
  get protocol(): ConsensusProtocol {
    return this.#protocol;
  }

  /** The current epoch's group. */
  get group(): ConsensusGroup {
    if (!this.#group) throw this.#notStarted('group');
    return this.#group;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#group = this.#build(0, this.#protocol, this.#state);
    this.#ready = Promise.resolve(this.#group.start());
    await this.#ready;
  }

  async stop(): Promise<void> {
    this.#running = false;
    const groups = [this.#group, ...this.#retiring].filter((g): g is ConsensusGroup => g !== undefined);
    this.#retiring.clear();
    await this.#ready.catch(() => undefined);
    await Promise.all(groups.map((g) => Promise.resolve(g.stop()).catch(() => undefined)));
  }

  async propose(command: Uint8Array, options: ProposeOptions = {}): Promise<ProposeResult> {
    if (!this.#running) throw this.#notStarted('propose');
    await this.#ready;
    const payload = encodeMsgpack([USER, options.session?.client ?? '', options.session?.seq ?? 0, command]);
    const r = await this.#group!.propose(payload, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    return this.#unwrap(r);
  }

  /**
   * Switches to `protocol` at a committed cut and resolves once this
   * member runs the new epoch. Rejects like `propose` (e.g. `CORE_NOT_LEADER`
   * on a Raft follower).
   */
  async switchTo(
    protocol: ConsensusProtocol,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<{ readonly epoch: number }> {
    if (!this.#running) throw this.#notStarted('switchTo');
    await this.#ready;
    // Applying the switch here (before propose resolves) starts the next epoch; a concurrent switch
    // that won the cut makes ours a dropped no-op, and the epoch has moved on either way.
    await this.#group!.propose(encodeMsgpack([SWITCH, protocol, 0, new Uint8Array(0)]), options);
    await this.#ready;
    return { epoch: this.#epoch };
  }

  async read(options: { readonly signal?: AbortSignal; readonly timeoutMs?: number } = {}): Promise<void> {
    if (!this.#running) throw this.#notStarted('read');
    for (;;) {
      await this.#ready;
      const epoch = this.#epoch;
      await this.#group!.read(options);
      // A switch committed before the barrier makes the old epoch's state stale: read again in the new one.
      if (this.#epoch === epoch) return;
    }
  }

  onCommitted(listener: (command: CommittedCommand) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): ConsensusStatus {
    const inner = this.#group?.status();
    return {
      id: this.#init.id,
      role: `${this.#protocol}:${inner?.role ?? 'stopped'}`,
      term: inner?.term ?? 0,
      leader: inner?.leader ?? null,
      commitIndex: this.#state.applied,
      appliedIndex: this.#state.applied,
      voters: inner?.voters ?? [],
    };
  }

  /** @internal an epoch state reached its cut. */
  _switch(from: EpochState, protocol: ConsensusProtocol | undefined): void {
    if (from !== this.#state || !this.#running) return;
    const next = protocol ?? (this.#protocol === 'raft' ? 'pbft' : 'raft');
    const state = new EpochState(from.epoch + 1, this, this.#init.stateMachine);
    state.restore(from.handover());
    const old = this.#group!;
    this.#epoch = state.epoch;
    this.#protocol = next;
    this.#state = state;
    this.#group = this.#build(state.epoch, next, state);
    this.#ready = Promise.resolve(this.#group.start());
    this.#retiring.add(old);
    this.#init.clock.setTimeout(() => {
      if (!this.#retiring.delete(old)) return;
      void Promise.resolve(old.stop()).catch(() => undefined);
    }, this.#init.retireMs ?? 5_000);
    this.#init.logger?.info('selector: switched protocol', { epoch: state.epoch, protocol: next });
  }

  /** @internal a user command was applied. */
  _committed(c: CommittedCommand): void {
    for (const l of this.#listeners) l(c);
  }

  #build(epoch: number, protocol: ConsensusProtocol, state: EpochState): ConsensusGroup {
    return this.#init.factory({ epoch, protocol, network: scoped(this.#init.network, epoch), stateMachine: state });
  }

  #unwrap(r: ProposeResult): ProposeResult {
    const v = decodeMsgpack(r.result) as unknown;
    if (Array.isArray(v) && v.length === 1 && v[0] === 'dropped') {
      throw new NovacronError(CoreErrorCode.PROPOSAL_DROPPED, 'selector: proposal fell after an epoch cut', {
        details: { epoch: this.#epoch },
      });
    }
    const [index, result] = v as [number, Uint8Array];
    return { index, result };
  }

  #notStarted(op: string): NovacronError {
    return new NovacronError(CoreErrorCode.INVALID_STATE, `selector: ${op} while not running`, { details: { op } });
  }
}
