import { seededRng } from '@novacron/core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { SwimCore, resolveGossipConfig } from '../../src/index.js';
import { message } from './gossip-arbitraries.js';

it('a core fed arbitrary valid messages from arbitrary peers never throws and keeps its invariants', () => {
  const sender = fc.constantFrom('a', 'b', 'c', 'me', 'x'.repeat(200));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(sender, message, fc.integer({ min: 0, max: 3000 })), { maxLength: 40 }),
      fc.boolean(),
      (steps, lifeguard) => {
        const c = new SwimCore({
          id: 'me',
          config: resolveGossipConfig({ lifeguard, maxMembers: 50 }),
          rng: seededRng(1),
          maxMessageSize: 1400,
          now: 0,
        });
        c.start(0);
        let now = 0;
        for (const [from, m, dt] of steps) {
          now += dt;
          c.advance(now);
          c.receive(from, m, now);
          const out = c.takeOutput();
          for (const o of out.messages) expect(o.to).not.toBe('me');
        }
        c.advance(now + 120_000);
        expect(c.members().length).toBeLessThanOrEqual(50);
        expect(c.member('me')?.status).toBe('alive');
        expect(Number.isSafeInteger(c.incarnation)).toBe(true);
        expect(Number.isSafeInteger(c.eventTime)).toBe(true);
        expect(c.localHealth).toBeGreaterThanOrEqual(0);
        expect(c.localHealth).toBeLessThan(8);
        expect(Number.isFinite(c.nextDeadline()!)).toBe(true);
      },
    ),
    { numRuns: 300 },
  );
});
