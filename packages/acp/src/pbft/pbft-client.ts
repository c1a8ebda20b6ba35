import {
  type Clock,
  CoreErrorCode,
  encodeCanonical,
  type NodeIdentity,
  NovacronError,
  type PeerNetwork,
  type ProposeResult,
  type Timer,
} from '@novacron/core';
import { PbftKeyring } from './keyring.js';
import type { RequestPayload } from './messages.js';
import { decodePbftResult, encodePbftCommand, type PbftReplicaInfo } from './pbft-group.js';
import { PBFT_CHANNEL, PbftWire } from './wire.js';

/** What {@link PbftClient} takes. */
export interface PbftClientInit {
  /** The client's identity (its node id is its client id; MAC keys derive from its key). */
  readonly identity: NodeIdentity;
  /** The group's replicas. */
  readonly replicas: readonly PbftReplicaInfo[];
  /** Network to reach the replicas (replies come back on channel `acp/pbft`). */
  readonly network: PeerNetwork;
  /** Time source for retransmission and timeouts. */
  readonly clock: Clock;
  /** Retransmit an unanswered request to every replica this often (default 500 ms). */
  readonly retryMs?: number;
  /**
   * First request timestamp (default 1). Replicas drop requests whose
   * timestamp is not above every one they executed for this client, so a
   * restarted client must start above what it used before (wall-clock
   * microseconds do).
   */
  readonly firstTimestamp?: number;
}

interface Outstanding {
  readonly wire: Uint8Array;
  readonly votes: Map<string, string>;
  readonly resolve: (r: ProposeResult) => void;
  readonly reject: (err: unknown) => void;
  readonly timers: Timer[];
}

/**
 * A PBFT client outside the group: sends each request to every replica
 * (with a MAC authenticator), and accepts a result once f+1 replicas sent
 * the same one, since at least one of them is correct. Unanswered requests
 * are retransmitted; a retransmitted request that already executed is
 * answered from the replicas' reply cache, never executed twice.
 */
export class PbftClient {
  readonly #init: PbftClientInit;
  readonly #keys: PbftKeyring;
  readonly #wire: PbftWire;
  readonly #f: number;
  readonly #out = new Map<number, Outstanding>();
  #t: number;
  #unhandle: (() => void) | undefined;

  constructor(init: PbftClientInit) {
    this.#init = init;
    this.#keys = new PbftKeyring(init.identity, init.replicas);
    this.#wire = new PbftWire(this.#keys);
    this.#f = Math.floor((init.replicas.length - 1) / 3);
    this.#t = (init.firstTimestamp ?? 1) - 1;
  }

  /** Starts listening for replies. */
  async start(): Promise<void> {
    this.#unhandle ??= this.#init.network.handle(PBFT_CHANNEL, (_from, data) => this.#receive(data));
  }

  /** Stops; outstanding requests reject with `CORE_PROPOSAL_UNKNOWN`. */
  async stop(): Promise<void> {
    this.#unhandle?.();
    this.#unhandle = undefined;
    for (const [t, o] of this.#out) this.#finish(t, o, undefined, this.#unknown('client stopped'));
  }

  /**
   * Submits `command` (with an optional session, see `ProposeOptions`) and
   * resolves with the result f+1 replicas agree on.
   *
   * @throws `CORE_PROPOSAL_UNKNOWN` after `timeoutMs` (default 10 000) without f+1 matching replies.
   */
  propose(
    command: Uint8Array,
    options: { readonly session?: { client: string; seq: number }; readonly timeoutMs?: number } = {},
  ): Promise<ProposeResult> {
    const t = ++this.#t;
    const payload: RequestPayload = {
      k: 'req',
      c: this.#keys.id,
      x: this.#keys.publicKey,
      t,
      o: encodePbftCommand(command, options.session),
    };
    const bytes = encodeCanonical(payload);
    const ids = this.#init.replicas.map((r) => r.id);
    const wire = this.#wire.encodeMacRaw(bytes, this.#keys.authenticator(ids, bytes));
    return new Promise<ProposeResult>((resolve, reject) => {
      const o: Outstanding = { wire, votes: new Map(), resolve, reject, timers: [] };
      this.#out.set(t, o);
      const send = () => {
        for (const id of ids) this.#init.network.send(id, PBFT_CHANNEL, wire);
      };
      send();
      const clock = this.#init.clock;
      o.timers.push(clock.setInterval(send, this.#init.retryMs ?? 500));
      o.timers.push(
        clock.setTimeout(
          () => this.#finish(t, o, undefined, this.#unknown('no quorum of replies in time')),
          options.timeoutMs ?? 10_000,
        ),
      );
    });
  }

  #receive(data: Uint8Array): void {
    let env: ReturnType<PbftWire['decode']>;
    try {
      env = this.#wire.decode(data);
    } catch {
      return;
    }
    const p = env.payload;
    if (p.k !== 'r' || p.c !== this.#keys.id) return;
    const o = this.#out.get(p.t);
    if (!o) return;
    const key = Buffer.from(p.r).toString('base64');
    o.votes.set(p.i, key);
    let same = 0;
    for (const v of o.votes.values()) if (v === key) same++;
    if (same >= this.#f + 1) {
      try {
        this.#finish(p.t, o, decodePbftResult(p.r));
      } catch (err) {
        this.#finish(p.t, o, undefined, err);
      }
    }
  }

  #finish(t: number, o: Outstanding, r: ProposeResult | undefined, err?: unknown): void {
    this.#out.delete(t);
    for (const timer of o.timers) timer.cancel();
    if (r) o.resolve(r);
    else o.reject(err);
  }

  #unknown(why: string): NovacronError {
    return new NovacronError(CoreErrorCode.PROPOSAL_UNKNOWN, `pbft client: ${why}`, { details: {} });
  }
}
