import { randomBytes } from 'node:crypto';
import {
  type Clock,
  type ConsensusGroup,
  decodeMsgpack,
  encodeMsgpack,
  isNovacronError,
  type PeerNetwork,
} from '@novacron/core';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { GroupStrongStore } from './group-strong-store.js';
import type { StrongStore } from './strong-store.js';

/** The peer-network channel of forwarded writes. */
export const STORE_FORWARD_CHANNEL = 'store-forward/v1';

type WriteOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: Uint8Array | null; readonly value: Uint8Array };

interface Request {
  readonly t: 'req';
  readonly id: string;
  readonly w: WriteOp;
}
interface Reply {
  readonly t: 'rep';
  readonly id: string;
  readonly ok: boolean;
  readonly result?: boolean | null;
  readonly code?: string;
  readonly message?: string;
}

/** Options of {@link LeaderForwardingStore}. */
export interface LeaderForwardingStoreInit {
  /** This member's store (writes succeed only while it leads). */
  readonly local: GroupStrongStore;
  readonly group: ConsensusGroup;
  readonly network: PeerNetwork;
  readonly clock: Clock;
  /** Bound on a forwarded write, in ms (default 5000). */
  readonly timeoutMs?: number;
}

/**
 * A {@link StrongStore} usable on any member: reads are this member's
 * linearizable reads; writes go to the control log directly when this
 * member leads, else to the leader over the peer network, which proposes
 * them and replies. A forwarded write whose reply does not come in time
 * fails with `NODE_NO_QUORUM` with `details.outcome = 'unknown'`: it may
 * still commit, so callers that must know (migration's ownership change)
 * read the key back. The leader serves only members of the group and
 * answers a duplicate of a request it already ran with the same reply.
 */
export class LeaderForwardingStore implements StrongStore {
  readonly #i: LeaderForwardingStoreInit;
  readonly #pending = new Map<string, { resolve: (r: Reply) => void }>();
  readonly #served = new Map<string, Promise<Reply>>();
  #seq = 0;
  // Request ids must not repeat across restarts: the leader answers a repeated id from its cache.
  readonly #boot = randomBytes(6).toString('hex');
  #unsub: (() => void) | undefined;

  constructor(init: LeaderForwardingStoreInit) {
    this.#i = init;
  }

  start(): void {
    this.#unsub = this.#i.network.handle(STORE_FORWARD_CHANNEL, (from, data) => this.#onMessage(from, data));
  }

  stop(): void {
    this.#unsub?.();
    for (const p of this.#pending.values())
      p.resolve({ t: 'rep', id: '', ok: false, code: NodeErrorCode.NOT_RUNNING, message: 'stopping' });
    this.#pending.clear();
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.#i.local.get(key);
  }
  range(start: string, end?: string, limit?: number) {
    return this.#i.local.range(start, end, limit);
  }
  async put(key: string, value: Uint8Array): Promise<void> {
    await this.#write({ op: 'put', key, value });
  }
  async delete(key: string): Promise<boolean> {
    return (await this.#write({ op: 'delete', key })) === true;
  }
  async cas(key: string, expected: Uint8Array | null, value: Uint8Array): Promise<boolean> {
    return (await this.#write({ op: 'cas', key, expected, value })) === true;
  }

  async #write(w: WriteOp): Promise<boolean | null> {
    const s = this.#i.group.status();
    if (s.leader === s.id) return this.#apply(w);
    if (s.leader === null)
      throw nodeError(NodeErrorCode.NO_QUORUM, 'no leader to forward the write to', { leader: null, outcome: 'none' });
    const id = `${s.id}:${this.#boot}:${++this.#seq}`;
    const reply = await new Promise<Reply | undefined>((resolve) => {
      const timer = this.#i.clock.setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, this.#i.timeoutMs ?? 5_000);
      this.#pending.set(id, {
        resolve: (r) => {
          timer.cancel();
          this.#pending.delete(id);
          resolve(r);
        },
      });
      const req: Request = { t: 'req', id, w };
      try {
        this.#i.network.send(s.leader!, STORE_FORWARD_CHANNEL, encodeMsgpack(req));
      } catch {
        // the timeout reports it
      }
    });
    if (!reply)
      throw nodeError(NodeErrorCode.NO_QUORUM, `no reply from leader ${s.leader} to a forwarded write`, {
        leader: s.leader,
        outcome: 'unknown',
      });
    if (!reply.ok)
      throw nodeError(
        reply.code === NodeErrorCode.NO_QUORUM ? NodeErrorCode.NO_QUORUM : NodeErrorCode.INTERNAL,
        `forwarded write failed at the leader: ${reply.message ?? reply.code}`,
        { leader: s.leader, outcome: 'unknown', code: reply.code },
      );
    return reply.result ?? null;
  }

  async #apply(w: WriteOp): Promise<boolean | null> {
    const l = this.#i.local;
    if (w.op === 'put') {
      await l.put(w.key, w.value);
      return null;
    }
    if (w.op === 'delete') return l.delete(w.key);
    return l.cas(w.key, w.expected, w.value);
  }

  #onMessage(from: string, data: Uint8Array): void {
    let m: Request | Reply;
    try {
      m = decodeMsgpack(data) as Request | Reply;
    } catch {
      return;
    }
    if (typeof m !== 'object' || m === null || typeof m.id !== 'string') return;
    if (m.t === 'rep') {
      this.#pending.get(m.id)?.resolve(m);
      return;
    }
    if (m.t !== 'req' || !this.#i.group.status().voters.includes(from) || !validWrite(m.w)) return;
    let run = this.#served.get(m.id);
    if (!run) {
      run = this.#apply(m.w).then(
        (result): Reply => ({ t: 'rep', id: m.id, ok: true, result }),
        (err): Reply => ({
          t: 'rep',
          id: m.id,
          ok: false,
          code: isNovacronError(err) ? err.code : NodeErrorCode.INTERNAL,
          message: err instanceof Error ? err.message : String(err),
        }),
      );
      this.#served.set(m.id, run);
      if (this.#served.size > 1024) this.#served.delete(this.#served.keys().next().value!);
    }
    void run.then((r) => {
      try {
        this.#i.network.send(from, STORE_FORWARD_CHANNEL, encodeMsgpack(r));
      } catch {
        // the requester times out and reads the key back
      }
    });
  }
}

function validWrite(w: unknown): w is WriteOp {
  const o = w as Partial<Record<string, unknown>> | null;
  if (typeof o !== 'object' || o === null || typeof o.key !== 'string' || o.key.length > 512) return false;
  if (o.op === 'delete') return true;
  if (!(o.value instanceof Uint8Array)) return false;
  if (o.op === 'put') return true;
  return o.op === 'cas' && (o.expected === null || o.expected instanceof Uint8Array);
}
