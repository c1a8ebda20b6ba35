import { MessageCodec, defineMessage, encodeMsgpack } from '@novacron/core';
import type { GossipItem, MemberSnapshot, MemberStatus, SwimMessage, SwimMessageKind, UserEvent } from './messages.js';

/** Channel SWIM datagrams travel on over a `PeerNetwork`. */
export const GOSSIP_CHANNEL = 'acp/swim';
/** Longest member id or event origin, in UTF-16 code units. */
export const MAX_GOSSIP_ID_LENGTH = 256;
/** Longest member address. */
export const MAX_GOSSIP_ADDRESS_LENGTH = 256;
/** Largest member metadata, bytes. */
export const MAX_GOSSIP_META_BYTES = 512;
/** Longest user event name. */
export const MAX_GOSSIP_EVENT_NAME_LENGTH = 128;
/** Largest Lamport time, sequence number or incarnation accepted. */
export const MAX_GOSSIP_COUNTER = Number.MAX_SAFE_INTEGER;

const STATUS: readonly MemberStatus[] = ['alive', 'suspect', 'dead', 'left'];

// Compact tuple forms: a datagram is often dominated by piggybacked gossip.
type WireItem =
  | [0, string, number, string, Uint8Array]
  | [1, string, number, string]
  | [2, string, number, string]
  | [3, string, number, string, Uint8Array];
type WireMember = [string, string, number, number, Uint8Array];
type WireEvent = [string, number, string, Uint8Array];

function fail(what: string): never {
  throw new Error(what);
}
function str(v: unknown, what: string, max: number, nonEmpty: boolean): string {
  if (typeof v !== 'string' || v.length > max || (nonEmpty && v.length === 0)) fail(`${what}: bad string`);
  return v as string;
}
function count(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what}: expected a non-negative integer`);
  return v as number;
}
function bytes(v: unknown, what: string, max: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length > max) fail(`${what}: bad bytes`);
  // Decoded bins are views into the datagram; members and events outlive it.
  return (v as Uint8Array).slice();
}
function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') fail(`${what}: expected a boolean`);
  return v as boolean;
}
function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what}: expected an array`);
  return v as unknown[];
}
function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) fail('body: expected a map');
  return v as Record<string, unknown>;
}
const id = (v: unknown, what: string) => str(v, what, MAX_GOSSIP_ID_LENGTH, true);

function readEvent(t: unknown[], at: number, what: string): UserEvent {
  return {
    origin: id(t[at], `${what}.origin`),
    ltime: count(t[at + 1], `${what}.ltime`),
    name: str(t[at + 2], `${what}.name`, MAX_GOSSIP_EVENT_NAME_LENGTH, true),
    payload: bytes(t[at + 3], `${what}.payload`, Number.MAX_SAFE_INTEGER),
  };
}

function readItem(v: unknown): GossipItem {
  const t = arr(v, 'gossip item');
  switch (t[0]) {
    case 0:
      if (t.length !== 5) fail('alive: expected 5 fields');
      return {
        kind: 'alive',
        id: id(t[1], 'alive.id'),
        incarnation: count(t[2], 'alive.incarnation'),
        address: str(t[3], 'alive.address', MAX_GOSSIP_ADDRESS_LENGTH, false),
        meta: bytes(t[4], 'alive.meta', MAX_GOSSIP_META_BYTES),
      };
    case 1:
    case 2: {
      if (t.length !== 4) fail('suspect/dead: expected 4 fields');
      const kind = t[0] === 1 ? 'suspect' : 'dead';
      return {
        kind,
        id: id(t[1], `${kind}.id`),
        incarnation: count(t[2], `${kind}.incarnation`),
        from: id(t[3], `${kind}.from`),
      };
    }
    case 3:
      if (t.length !== 5) fail('event: expected 5 fields');
      return { kind: 'event', ...readEvent(t, 1, 'event') };
    default:
      return fail('gossip item: unknown kind');
  }
}

/** The tuple form of one gossip item (exported so callers can size items before packing them). */
export function gossipItemToWire(g: GossipItem): unknown {
  switch (g.kind) {
    case 'alive':
      return [0, g.id, g.incarnation, g.address, g.meta] satisfies WireItem;
    case 'suspect':
      return [1, g.id, g.incarnation, g.from] satisfies WireItem;
    case 'dead':
      return [2, g.id, g.incarnation, g.from] satisfies WireItem;
    case 'event':
      return [3, g.origin, g.ltime, g.name, g.payload] satisfies WireItem;
  }
}

/** Bytes one gossip item adds to a datagram. */
export function gossipItemSize(g: GossipItem): number {
  return encodeMsgpack(gossipItemToWire(g)).length;
}

/** Bytes of a datagram besides its gossip items (envelope, kind, seq, target), for a target id of `targetLength`. */
export function datagramOverhead(targetLength: number): number {
  // type name (<= 20) + version + map header and keys + seq (9) + target + flags + array header (5).
  return 64 + 3 * targetLength;
}

interface WireBody {
  s?: number;
  t?: string;
  n?: boolean;
  g: unknown[];
  j?: boolean;
  r?: boolean;
  m?: unknown[];
  e?: unknown[];
  l?: number;
}

function gossipOf(b: Record<string, unknown>): GossipItem[] {
  return arr(b.g, 'g').map(readItem);
}

const KINDS: readonly SwimMessageKind[] = ['ping', 'ping-req', 'ack', 'nack', 'gossip', 'push-pull'];

function validate(kind: SwimMessageKind, body: unknown): SwimMessage {
  const b = obj(body);
  const gossip = gossipOf(b);
  switch (kind) {
    case 'ping':
      return { kind, seq: count(b.s, 's'), target: id(b.t, 't'), gossip };
    case 'ping-req':
      return { kind, seq: count(b.s, 's'), target: id(b.t, 't'), nack: bool(b.n, 'n'), gossip };
    case 'ack':
    case 'nack':
      return { kind, seq: count(b.s, 's'), gossip };
    case 'gossip':
      return { kind, gossip };
    case 'push-pull': {
      const members = arr(b.m, 'm').map((v): MemberSnapshot => {
        const t = arr(v, 'member');
        if (t.length !== 5) fail('member: expected 5 fields');
        const status = STATUS[count(t[3], 'member.status')];
        if (status === undefined) fail('member.status: unknown');
        return {
          id: id(t[0], 'member.id'),
          address: str(t[1], 'member.address', MAX_GOSSIP_ADDRESS_LENGTH, false),
          incarnation: count(t[2], 'member.incarnation'),
          status: status as MemberStatus,
          meta: bytes(t[4], 'member.meta', MAX_GOSSIP_META_BYTES),
        };
      });
      const events = arr(b.e, 'e').map((v) => {
        const t = arr(v, 'event');
        if (t.length !== 4) fail('event: expected 4 fields');
        return readEvent(t, 0, 'event');
      });
      return { kind, join: bool(b.j, 'j'), reply: bool(b.r, 'r'), members, events, ltime: count(b.l, 'l'), gossip };
    }
  }
}

/** One message definition per kind: `acp.swim.<kind>`, version 1. */
export const SWIM_MESSAGES = KINDS.map((kind) =>
  defineMessage({ type: `acp.swim.${kind}`, version: 1, validate: (b) => validate(kind, b) }),
);
const byKind = new Map(KINDS.map((k, i) => [k, SWIM_MESSAGES[i]!]));

/**
 * Encodes and decodes SWIM datagrams as versioned MessagePack envelopes
 * (docs/protocol/gossip.md). The sender is not on the wire: the network
 * supplies it.
 */
export class SwimWireCodec {
  readonly #codec = new MessageCodec(SWIM_MESSAGES, { limits: { maxDepth: 8 } });

  /** Encodes `m`. */
  encode(m: SwimMessage): Uint8Array {
    const def = byKind.get(m.kind)!;
    const body: WireBody = { g: m.gossip.map(gossipItemToWire) };
    switch (m.kind) {
      case 'ping':
        body.s = m.seq;
        body.t = m.target;
        break;
      case 'ping-req':
        body.s = m.seq;
        body.t = m.target;
        body.n = m.nack;
        break;
      case 'ack':
      case 'nack':
        body.s = m.seq;
        break;
      case 'gossip':
        break;
      case 'push-pull':
        body.j = m.join;
        body.r = m.reply;
        body.m = m.members.map(
          (s) => [s.id, s.address, s.incarnation, STATUS.indexOf(s.status), s.meta] satisfies WireMember,
        );
        body.e = m.events.map((e) => [e.origin, e.ltime, e.name, e.payload] satisfies WireEvent);
        body.l = m.ltime;
        break;
    }
    return this.#codec.encode(def, body as never);
  }

  /**
   * Decodes one datagram from an untrusted peer.
   *
   * @throws `CORE_MESSAGE_MALFORMED`, `CORE_MESSAGE_UNKNOWN_TYPE`,
   *   `CORE_MESSAGE_UNSUPPORTED_VERSION` or `CORE_MESSAGE_INVALID`; never
   *   anything else.
   */
  decode(bytes: Uint8Array): SwimMessage {
    return this.#codec.decode(bytes).body as SwimMessage;
  }
}
