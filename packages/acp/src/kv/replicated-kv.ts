import type { ConsensusGroup } from '@novacron/core';
import {
  decodeKvResult,
  encodeKvCommand,
  type KvCommand,
  type KvResult,
  type KvStateMachine,
} from './kv-state-machine.js';

/** Options of {@link ReplicatedKv}. */
export interface ReplicatedKvInit {
  /** The group replicating `store`. */
  readonly group: ConsensusGroup;
  /** This member's copy of the state machine (for barrier reads). */
  readonly store: KvStateMachine;
  /** Session client id: writes retried with the same sequence apply once. */
  readonly client: string;
}

/**
 * A linearizable key-value client over any `ConsensusGroup`: writes go
 * through the log with a client session; reads wait for the group's read
 * barrier and then read the local copy.
 */
export class ReplicatedKv {
  readonly #init: ReplicatedKvInit;
  #seq = 0;

  constructor(init: ReplicatedKvInit) {
    this.#init = init;
  }

  /** Sets `key`. */
  async put(key: string, value: Uint8Array): Promise<void> {
    await this.#write({ op: 'put', key, value });
  }

  /** Deletes `key`; true when it existed. */
  async delete(key: string): Promise<boolean> {
    return (await this.#write({ op: 'delete', key })) as boolean;
  }

  /** Sets `key` to `value` if it holds `expected` (`null`: absent); true when swapped. */
  async cas(key: string, expected: Uint8Array | null, value: Uint8Array): Promise<boolean> {
    return (await this.#write({ op: 'cas', key, expected, value })) as boolean;
  }

  /** Linearizable read of `key`. */
  async get(key: string): Promise<Uint8Array | null> {
    await this.#init.group.read();
    return this.#init.store.get(key);
  }

  /** Linearizable range read over [start, end) (`end` '' = to the last key), at most `limit` pairs (0: all). */
  async range(start: string, end = '', limit = 0): Promise<readonly (readonly [string, Uint8Array])[]> {
    await this.#init.group.read();
    return this.#init.store.execute({ op: 'range', start, end, limit }) as readonly (readonly [string, Uint8Array])[];
  }

  async #write(c: KvCommand): Promise<KvResult> {
    const seq = ++this.#seq;
    const { result } = await this.#init.group.propose(encodeKvCommand(c), {
      session: { client: this.#init.client, seq },
    });
    return decodeKvResult(result);
  }
}
