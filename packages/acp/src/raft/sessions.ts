import { decodeMsgpack, encodeMsgpack, type ReplicatedStateMachine } from '@novacron/core';

/**
 * Exactly-once application of client commands (Raft thesis §6.3): each
 * client's last sequence number and result are part of the replicated
 * state, so a command retried after a lost acknowledgement is answered
 * from the table instead of being applied twice.
 */
export class SessionTable {
  readonly #last = new Map<string, { seq: number; result: Uint8Array }>();

  /**
   * Applies `command` through `sm` unless (`client`, `seq`) was applied
   * already: then returns the recorded result (only the latest per client
   * is kept; an older `seq` gets an empty result and is not applied).
   */
  apply(sm: ReplicatedStateMachine, client: string, seq: number, command: Uint8Array, index: number): Uint8Array {
    if (client === '') return sm.apply(command, index);
    const last = this.#last.get(client);
    if (last !== undefined && seq <= last.seq) return seq === last.seq ? last.result : new Uint8Array(0);
    const result = sm.apply(command, index);
    this.#last.set(client, { seq, result });
    return result;
  }

  /** Serialises the table (part of a snapshot). */
  snapshot(): Uint8Array {
    return encodeMsgpack([...this.#last].map(([c, v]) => [c, v.seq, v.result]));
  }

  /** Replaces the table from {@link snapshot} bytes. */
  restore(bytes: Uint8Array): void {
    this.#last.clear();
    for (const [c, seq, result] of decodeMsgpack(bytes) as [string, number, Uint8Array][])
      this.#last.set(c, { seq, result });
  }
}
