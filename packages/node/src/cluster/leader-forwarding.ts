import {
  type Clock,
  type ConsensusGroup,
  CoreErrorCode,
  decodeMsgpack,
  encodeMsgpack,
  isNovacronError,
  type Logger,
  NovacronError,
  type PeerNetwork,
  type ProposeOptions,
  type ProposeResult,
  type Timer,
} from '@novacron/core';

/** Channel of forwarded proposals (docs/protocol/node-forward.md). */
export const FORWARD_CHANNEL = 'node/forward';
const VERSION = 1;
const REQUEST = 0;
const REPLY = 1;
/** Forwarded proposals in flight per member; more fail at once with `CORE_NOT_LEADER`. */
const MAX_PENDING = 1024;

/** Options of {@link LeaderForwarding}. */
export interface LeaderForwardingInit {
  /** The control log. */
  readonly group: ConsensusGroup;
  /** Where forwarded proposals travel (the node's peer network). */
  readonly network: PeerNetwork;
  readonly clock: Clock;
  /** Bound on a forwarded proposal, ms (default 5000). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

interface Pending {
  readonly resolve: (r: ProposeResult) => void;
  readonly reject: (e: unknown) => void;
  readonly timer: Timer;
}

/**
 * A view of the control log on which any member may propose: a member that
 * is not the leader sends the command, with its client session, to the
 * leader it knows over the peer network; the leader proposes it and answers
 * with the result. The session makes a retried command take effect once.
 * Everything else (`read`, `status`, `onCommitted`) is the group's own.
 * Escrow reconciliation and ass's strong namespaces use it from any member.
 * A reply that does not decode or names no pending request is dropped.
 */
export class LeaderForwarding implements ConsensusGroup {
  readonly #init: LeaderForwardingInit;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #unhandle: (() => void) | undefined;
  /** Messages dropped because they did not decode. */
  malformed = 0;

  constructor(init: LeaderForwardingInit) {
    this.#init = init;
  }

  /** Starts answering forwarded proposals (the group itself is started by its owner). */
  start(): void {
    this.#unhandle ??= this.#init.network.handle(FORWARD_CHANNEL, (from, data) => this.#receive(from, data));
  }

  /** Stops; pending forwarded proposals fail with `CORE_PROPOSAL_UNKNOWN`. */
  stop(): void {
    this.#unhandle?.();
    this.#unhandle = undefined;
    for (const [id, p] of this.#pending) {
      p.timer.cancel();
      p.reject(new NovacronError(CoreErrorCode.PROPOSAL_UNKNOWN, 'forwarding stopped', { details: { id } }));
    }
    this.#pending.clear();
  }

  async propose(command: Uint8Array, options: ProposeOptions = {}): Promise<ProposeResult> {
    const s = this.#init.group.status();
    if (s.leader === null || s.leader === s.id) return this.#init.group.propose(command, options);
    try {
      return await this.#init.group.propose(command, options);
    } catch (err) {
      if (!isNovacronError(err, CoreErrorCode.NOT_LEADER)) throw err;
    }
    const leader = this.#init.group.status().leader;
    if (leader === null || leader === s.id) throw notLeader(leader);
    return this.#forward(leader, command, options);
  }

  read(options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number }): Promise<void> {
    return this.#init.group.read(options);
  }

  onCommitted(listener: Parameters<ConsensusGroup['onCommitted']>[0]): () => void {
    return this.#init.group.onCommitted(listener);
  }

  status() {
    return this.#init.group.status();
  }

  #forward(leader: string, command: Uint8Array, options: ProposeOptions): Promise<ProposeResult> {
    if (this.#pending.size >= MAX_PENDING) return Promise.reject(notLeader(leader));
    const id = ++this.#next;
    const timeoutMs = options.timeoutMs ?? this.#init.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const timer = this.#init.clock.setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new NovacronError(CoreErrorCode.PROPOSAL_UNKNOWN, `no answer from leader ${leader} within ${timeoutMs} ms`, {
            details: { leader, timeoutMs },
          }),
        );
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      const session = options.session ? [options.session.client, options.session.seq] : null;
      this.#init.network.send(
        leader,
        FORWARD_CHANNEL,
        encodeMsgpack([VERSION, REQUEST, id, command, session, timeoutMs]),
      );
    });
  }

  #receive(from: string, data: Uint8Array): void {
    const m = decodeForward(data);
    if (!m) {
      this.malformed++;
      return;
    }
    if (m.kind === REQUEST) {
      const reply = (ok: boolean, body: Uint8Array | string, index = 0) =>
        this.#init.network.send(from, FORWARD_CHANNEL, encodeMsgpack([VERSION, REPLY, m.id, ok, body, index]));
      // Only the leader's own proposal counts: a forwarded request is never forwarded again.
      this.#init.group
        .propose(m.command, {
          ...(m.session ? { session: m.session } : {}),
          timeoutMs: Math.min(m.timeoutMs, this.#init.timeoutMs ?? 5_000),
        })
        .then(
          (r) => reply(true, r.result, r.index),
          (err: unknown) => reply(false, isNovacronError(err) ? err.code : CoreErrorCode.PROPOSAL_UNKNOWN),
        );
      return;
    }
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    p.timer.cancel();
    if (m.ok && m.body instanceof Uint8Array) p.resolve({ index: m.index, result: m.body });
    else {
      const code = m.body === CoreErrorCode.NOT_LEADER ? CoreErrorCode.NOT_LEADER : CoreErrorCode.PROPOSAL_UNKNOWN;
      p.reject(
        new NovacronError(code, `leader ${from} refused the forwarded proposal (${String(m.body)})`, {
          details: { leader: from, reason: typeof m.body === 'string' ? m.body.slice(0, 64) : 'bad reply' },
        }),
      );
    }
  }
}

function notLeader(leader: string | null): NovacronError {
  return new NovacronError(CoreErrorCode.NOT_LEADER, 'no leader to forward the proposal to', { details: { leader } });
}

/** A decoded forwarding message. */
export type ForwardMessage =
  | {
      readonly kind: typeof REQUEST;
      readonly id: number;
      readonly command: Uint8Array;
      readonly session: { client: string; seq: number } | undefined;
      readonly timeoutMs: number;
    }
  | {
      readonly kind: typeof REPLY;
      readonly id: number;
      readonly ok: boolean;
      readonly body: Uint8Array | string;
      readonly index: number;
    };

/** Decodes a forwarding message; `undefined` when malformed. */
export function decodeForward(data: Uint8Array): ForwardMessage | undefined {
  let v: unknown;
  try {
    v = decodeMsgpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v[0] !== VERSION || !Number.isSafeInteger(v[2]) || (v[2] as number) < 1) return undefined;
  const id = v[2] as number;
  if (v[1] === REQUEST && v.length === 6) {
    const [, , , command, session, timeoutMs] = v as unknown[];
    if (!(command instanceof Uint8Array) || !Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 1)
      return undefined;
    if (session === null) return { kind: REQUEST, id, command, session: undefined, timeoutMs: timeoutMs as number };
    if (
      !Array.isArray(session) ||
      session.length !== 2 ||
      typeof session[0] !== 'string' ||
      session[0].length > 256 ||
      !Number.isSafeInteger(session[1])
    )
      return undefined;
    return {
      kind: REQUEST,
      id,
      command,
      session: { client: session[0] as string, seq: session[1] as number },
      timeoutMs: timeoutMs as number,
    };
  }
  if (v[1] === REPLY && v.length === 6) {
    const [, , , ok, body, index] = v as unknown[];
    if (
      typeof ok !== 'boolean' ||
      !(body instanceof Uint8Array || typeof body === 'string') ||
      !Number.isSafeInteger(index)
    )
      return undefined;
    return { kind: REPLY, id, ok, body, index: index as number };
  }
  return undefined;
}
