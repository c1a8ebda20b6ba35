import fc from 'fast-check';
import type { GossipItem, SwimMessage } from '../../src/index.js';

const id = fc.string({ minLength: 1, maxLength: 40 });
const counter = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
/** Any valid gossip item. */
export const item: fc.Arbitrary<GossipItem> = fc.oneof(
  fc.record({
    kind: fc.constant('alive' as const),
    id,
    incarnation: counter,
    address: fc.string({ maxLength: 40 }),
    meta: fc.uint8Array({ maxLength: 64 }),
  }),
  fc.record({ kind: fc.constant('suspect' as const), id, incarnation: counter, from: id }),
  fc.record({ kind: fc.constant('dead' as const), id, incarnation: counter, from: id }),
  fc.record({
    kind: fc.constant('event' as const),
    origin: id,
    ltime: counter,
    name: fc.string({ minLength: 1, maxLength: 20 }),
    payload: fc.uint8Array({ maxLength: 64 }),
  }),
);
const gossip = fc.array(item, { maxLength: 6 });
/** Any valid SWIM message (also used to fuzz the core). */
export const message: fc.Arbitrary<SwimMessage> = fc.oneof(
  fc.record({ kind: fc.constant('ping' as const), seq: counter, target: id, gossip }),
  fc.record({ kind: fc.constant('ping-req' as const), seq: counter, target: id, nack: fc.boolean(), gossip }),
  fc.record({ kind: fc.constant('ack' as const), seq: counter, gossip }),
  fc.record({ kind: fc.constant('nack' as const), seq: counter, gossip }),
  fc.record({ kind: fc.constant('gossip' as const), gossip }),
  fc.record({
    kind: fc.constant('push-pull' as const),
    join: fc.boolean(),
    reply: fc.boolean(),
    members: fc.array(
      fc.record({
        id,
        address: fc.string({ maxLength: 30 }),
        incarnation: counter,
        status: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const),
        meta: fc.uint8Array({ maxLength: 16 }),
      }),
      { maxLength: 5 },
    ),
    events: fc.array(
      fc.record({
        origin: id,
        ltime: counter,
        name: fc.string({ minLength: 1, maxLength: 9 }),
        payload: fc.uint8Array({ maxLength: 9 }),
      }),
      { maxLength: 4 },
    ),
    ltime: counter,
    gossip,
  }),
);
