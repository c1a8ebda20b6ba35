import { type ConsensusGroup, CoreErrorCode, decodeMsgpack, isNovacronError } from '@novacron/core';
import { encodeKvCommand, type KvCommand, type KvResult, type KvStateMachine } from '@novacron/acp';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { StrongStore } from './strong-store.js';

/** Options of {@link GroupStrongStore}. */
export interface GroupStrongStoreInit {
  /** The control log. */
  readonly group: ConsensusGroup;
  /** This member's copy of the replicated KV. */
  readonly store: KvStateMachine;
  /** Session client id (unique per process lifetime: node id + boot nonce). */
  readonly client: string;
  /** Bound on a write or a read barrier, in ms (default 5000). */
  readonly timeoutMs?: number;
}

/**
 * A {@link StrongStore} over any core `ConsensusGroup` replicating acp's
 * `KvStateMachine` (like acp's `ReplicatedKv`, plus bounded waits): writes
 * are proposals with a client session; reads wait for the group's read
 * barrier. When the group cannot commit (no leader, this member in a
 * minority) the call fails within `timeoutMs` with `NODE_NO_QUORUM`
 * (`details.leader` names the leader this member knows of, if any), never
 * hangs. `local*` methods read this member's copy without a barrier (for
 * reconciliation loops that tolerate lag).
 */
export class GroupStrongStore implements StrongStore {
  readonly #init: GroupStrongStoreInit;
  readonly #timeoutMs: number;
  #seq = 0;

  constructor(init: GroupStrongStoreInit) {
    this.#init = init;
    this.#timeoutMs = init.timeoutMs ?? 5_000;
  }

  async get(key: string): Promise<Uint8Array | null> {
    await this.#barrier();
    return this.#init.store.get(key);
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    await this.#write({ op: 'put', key, value });
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#write({ op: 'delete', key })) as boolean;
  }

  async cas(key: string, expected: Uint8Array | null, value: Uint8Array): Promise<boolean> {
    return (await this.#write({ op: 'cas', key, expected, value })) as boolean;
  }

  async range(start: string, end = '', limit = 0): Promise<readonly (readonly [string, Uint8Array])[]> {
    await this.#barrier();
    return this.localRange(start, end, limit);
  }

  /** Range over this member's copy, without a barrier (may lag the leader). */
  localRange(start: string, end = '', limit = 0): readonly (readonly [string, Uint8Array])[] {
    return this.#init.store.execute({ op: 'range', start, end, limit }) as readonly (readonly [string, Uint8Array])[];
  }

  async #barrier(): Promise<void> {
    // A sole voter that leads and has applied everything committed is
    // linearizable by itself; acp's ReadIndex does not release reads of a
    // one-voter group (no heartbeat acks arrive to trigger it), so skip it.
    const s = this.#init.group.status();
    if (s.voters.length === 1 && s.leader === s.id && s.appliedIndex >= s.commitIndex && s.commitIndex > 0) return;
    try {
      await this.#init.group.read({ timeoutMs: this.#timeoutMs });
    } catch (err) {
      throw this.#noQuorum('read', err);
    }
  }

  async #write(c: KvCommand): Promise<KvResult> {
    const seq = ++this.#seq;
    try {
      const { result } = await this.#init.group.propose(encodeKvCommand(c), {
        session: { client: this.#init.client, seq },
        timeoutMs: this.#timeoutMs,
      });
      return decodeMsgpack(result) as KvResult;
    } catch (err) {
      throw this.#noQuorum('write', err);
    }
  }

  #noQuorum(what: string, err: unknown): unknown {
    if (
      isNovacronError(err, CoreErrorCode.NOT_LEADER) ||
      isNovacronError(err, CoreErrorCode.PROPOSAL_UNKNOWN) ||
      isNovacronError(err, CoreErrorCode.PROPOSAL_DROPPED) ||
      isNovacronError(err, CoreErrorCode.TIMEOUT) ||
      isNovacronError(err, CoreErrorCode.ABORTED)
    ) {
      const leader = this.#init.group.status().leader;
      return nodeError(
        NodeErrorCode.NO_QUORUM,
        `the control log cannot ${what} now (${(err as Error).message})`,
        { leader, cause: (err as { code: string }).code },
        err,
      );
    }
    return err;
  }
}
