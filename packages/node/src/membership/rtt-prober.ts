import { type Clock, decodeMsgpack, encodeMsgpack, type NodeId, type PeerNetwork } from '@novacron/core';

/** Channel the probes use on the peer network (docs/protocol/node-probe.md). */
export const PROBE_CHANNEL = 'node/probe';
const VERSION = 1;
const PING = 0;
const PONG = 1;
const MAX_META_ENTRIES = 16;
const MAX_META_CHARS = 512;

/** Options of {@link RttProber}. */
export interface RttProberInit {
  /** Messages to and from peers. */
  readonly network: PeerNetwork;
  /** Time the RTT is measured on (this node's own clock: no clock sync needed). */
  readonly clock: Clock;
  /** Facts carried in every ping and pong (default: none). */
  readonly meta?: () => Readonly<Record<string, string>>;
  /** Whether to answer and count probes from `from` (default: everyone). */
  readonly accept?: (from: NodeId) => boolean;
  /** Every valid probe from a peer, with the meta it carries (a sign of life). */
  readonly onProbe?: (from: NodeId, meta: Record<string, string>) => void;
  /** Every measured RTT; `first` marks a peer's first pong, whose RTT includes connection set-up. */
  readonly onRtt?: (from: NodeId, rttMs: number, at: number, first: boolean) => void;
}

/**
 * The probe half of docs/protocol/node-probe.md: sends pings, answers them
 * with pongs, and turns pongs into RTT measurements. Who is pinged and when
 * is the caller's choice (static membership pings its configured peers,
 * SWIM membership the members gossip reports live). Malformed probes are
 * dropped and counted, never thrown.
 */
export class RttProber {
  readonly #init: RttProberInit;
  readonly #pongs = new Map<NodeId, number>();
  #nonce = 0;
  #unhandle: (() => void) | undefined;
  /** Probes dropped because they did not decode. */
  malformed = 0;

  constructor(init: RttProberInit) {
    this.#init = init;
  }

  /** Starts answering probes. */
  start(): void {
    this.#unhandle ??= this.#init.network.handle(PROBE_CHANNEL, (from, data) => this.#receive(from, data));
  }

  /** Stops answering probes. */
  stop(): void {
    this.#unhandle?.();
    this.#unhandle = undefined;
  }

  /** Sends one ping to `peer`. */
  ping(peer: NodeId): void {
    const now = this.#init.clock.now();
    this.#init.network.send(peer, PROBE_CHANNEL, encodeMsgpack([VERSION, PING, ++this.#nonce, now, this.#meta()]));
  }

  /** Forgets `peer`'s pong count (its next pong again counts as a first one, e.g. after it restarted). */
  forget(peer: NodeId): void {
    this.#pongs.delete(peer);
  }

  #meta(): Readonly<Record<string, string>> {
    return this.#init.meta?.() ?? {};
  }

  #receive(from: NodeId, data: Uint8Array): void {
    if (this.#init.accept && !this.#init.accept(from)) return;
    const msg = decodeProbe(data);
    if (!msg) {
      this.malformed++;
      return;
    }
    const now = this.#init.clock.now();
    this.#init.onProbe?.(from, msg.meta);
    if (msg.kind === PING) {
      this.#init.network.send(from, PROBE_CHANNEL, encodeMsgpack([VERSION, PONG, msg.nonce, msg.sentAt, this.#meta()]));
    } else if (msg.sentAt <= now && now - msg.sentAt < 3_600_000) {
      const n = this.#pongs.get(from) ?? 0;
      this.#pongs.set(from, n + 1);
      this.#init.onRtt?.(from, now - msg.sentAt, now, n === 0);
    }
  }
}

/** A decoded probe (docs/protocol/node-probe.md). */
export interface Probe {
  readonly kind: number;
  readonly nonce: number;
  readonly sentAt: number;
  readonly meta: Record<string, string>;
}

/** Decodes a probe; `undefined` when malformed (wrong version, types, sizes). */
export function decodeProbe(data: Uint8Array): Probe | undefined {
  if (data.length > 8192) return undefined;
  let v: unknown;
  try {
    v = decodeMsgpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 5 || v[0] !== VERSION) return undefined;
  const [, kind, nonce, sentAt, meta] = v as unknown[];
  if (
    (kind !== PING && kind !== PONG) ||
    !Number.isSafeInteger(nonce) ||
    typeof sentAt !== 'number' ||
    !Number.isFinite(sentAt)
  )
    return undefined;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const entries = Object.entries(meta as Record<string, unknown>);
  if (entries.length > MAX_META_ENTRIES) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of entries) {
    if (typeof x !== 'string' || k.length + x.length > MAX_META_CHARS) return undefined;
    out[k] = x;
  }
  return { kind: kind as number, nonce: nonce as number, sentAt, meta: out };
}
