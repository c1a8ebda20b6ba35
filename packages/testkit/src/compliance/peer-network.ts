import { CoreErrorCode, type NodeId, type PeerNetwork, asNodeId } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/**
 * What {@link peerNetworkCompliance} tests: endpoints of one network for at
 * least three distinct nodes, all able to reach each other, and a way to let
 * messages in flight arrive.
 */
export interface PeerNetworkFixture {
  /** At least three endpoints with distinct `localId`s, connected to each other. */
  readonly peers: readonly PeerNetwork[];
  /**
   * Lets the network make progress: advance virtual time (a simulator) or
   * wait a little real time (a real network). The suite calls it repeatedly
   * while waiting for a delivery, up to {@link PeerNetworkFixture.maxSettles} times.
   */
  settle(): Promise<void>;
  /** How many `settle()` calls a delivery may take before the suite gives up (default 50). */
  readonly maxSettles?: number;
  /**
   * The network loses nothing while the suite runs (no injected loss), so
   * the suite can require every message to arrive. Default true; a lossy
   * network skips the "everything arrives" tests.
   */
  readonly reliable?: boolean;
}

const bytes = (...values: number[]) => Uint8Array.from(values);

/**
 * The `PeerNetwork` contract as a vitest suite: identity and limits, the
 * oversize error, silent drops for unknown peers and unhandled channels,
 * delivery with the right sender and bytes, channel isolation, handler
 * replacement and unregistration, empty and maximum-size payloads, and (on
 * a reliable network) every message of a burst arriving at least once.
 * Duplicates and reordering are allowed, as the contract says.
 *
 * ```ts
 * import { peerNetworkCompliance } from '@novacron/testkit/compliance/peer-network';
 * peerNetworkCompliance('my network', { setup: () => makeThreePeers(), teardown: (f) => closeAll(f) });
 * ```
 */
export function peerNetworkCompliance(name: string, fixtures: ComplianceFixtures<PeerNetworkFixture>): void {
  describe(`PeerNetwork compliance: ${name}`, () => {
    let f: PeerNetworkFixture;
    let a: PeerNetwork;
    let b: PeerNetwork;
    let c: PeerNetwork;

    /** Settles until `done()` holds; fails with `what` if it never does. */
    const eventually = async (what: string, done: () => boolean) => {
      const limit = f.maxSettles ?? 50;
      for (let i = 0; i < limit && !done(); i++) await f.settle();
      if (!done()) expect.fail(`${what} did not happen within ${limit} settles`);
    };
    /** Settles a few times, for tests that expect nothing to arrive. */
    const quiet = async () => {
      const n = Math.min(f.maxSettles ?? 50, 10);
      for (let i = 0; i < n; i++) await f.settle();
    };

    beforeEach(async () => {
      f = await fixtures.setup();
      expect(f.peers.length).toBeGreaterThanOrEqual(3);
      [a, b, c] = f.peers as [PeerNetwork, PeerNetwork, PeerNetwork];
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    it('endpoints have distinct string ids and a positive integer maxMessageSize', () => {
      const ids = f.peers.map((p) => p.localId);
      for (const id of ids) expect(typeof id).toBe('string');
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of f.peers) {
        expect(Number.isSafeInteger(p.maxMessageSize)).toBe(true);
        expect(p.maxMessageSize).toBeGreaterThan(0);
      }
    });

    it('delivers a message with the sender id and the exact bytes', async () => {
      const got: [NodeId, Uint8Array][] = [];
      b.handle('t/one', (from, data) => got.push([from, Uint8Array.from(data)]));
      a.send(b.localId, 't/one', bytes(1, 2, 3, 250));
      await eventually('delivery', () => got.length > 0);
      expect(got[0]![0]).toBe(a.localId);
      expect(got[0]![1]).toEqual(bytes(1, 2, 3, 250));
    });

    it('delivers only to the handler of the channel the message was sent on', async () => {
      const x: number[] = [];
      const y: number[] = [];
      b.handle('t/x', (_from, data) => x.push(data[0]!));
      b.handle('t/y', (_from, data) => y.push(data[0]!));
      a.send(b.localId, 't/y', bytes(7));
      await eventually('delivery on t/y', () => y.length > 0);
      await quiet();
      expect(x).toEqual([]);
      expect(y[0]).toBe(7);
    });

    it('delivers only to the addressed node', async () => {
      const atB: number[] = [];
      const atC: number[] = [];
      b.handle('t/addr', (_f, d) => atB.push(d[0]!));
      c.handle('t/addr', (_f, d) => atC.push(d[0]!));
      a.send(c.localId, 't/addr', bytes(9));
      await eventually('delivery to c', () => atC.length > 0);
      await quiet();
      expect(atB).toEqual([]);
    });

    it('a second handle() on a channel replaces the first', async () => {
      const first: number[] = [];
      const second: number[] = [];
      b.handle('t/replace', (_f, d) => first.push(d[0]!));
      b.handle('t/replace', (_f, d) => second.push(d[0]!));
      a.send(b.localId, 't/replace', bytes(5));
      await eventually('delivery to the replacement', () => second.length > 0);
      await quiet();
      expect(first).toEqual([]);
    });

    it('the function handle() returns unregisters, and messages are then dropped silently', async () => {
      const got: number[] = [];
      const off = b.handle('t/off', (_f, d) => got.push(d[0]!));
      off();
      expect(() => a.send(b.localId, 't/off', bytes(1))).not.toThrow();
      await quiet();
      expect(got).toEqual([]);
    });

    it('unregistering a replaced handler leaves the replacement in place', async () => {
      const got: number[] = [];
      const offOld = b.handle('t/stale', () => {});
      b.handle('t/stale', (_f, d) => got.push(d[0]!));
      offOld();
      a.send(b.localId, 't/stale', bytes(3));
      await eventually('delivery to the replacement', () => got.length > 0);
    });

    it('messages on a channel nobody handles are dropped without an error; the channel works once handled', async () => {
      expect(() => a.send(b.localId, 't/later', bytes(1))).not.toThrow();
      await quiet();
      const got: number[] = [];
      b.handle('t/later', (_f, d) => got.push(d[0]!));
      a.send(b.localId, 't/later', bytes(2));
      await eventually('delivery after registration', () => got.includes(2));
      expect(got).not.toContain(1);
    });

    it('sending to an unknown peer is a silent drop, not an error, and the sender keeps working', async () => {
      expect(() => a.send(asNodeId('compliance-no-such-peer'), 't/unknown', bytes(1))).not.toThrow();
      await quiet();
      const got: number[] = [];
      b.handle('t/unknown', (_f, d) => got.push(d[0]!));
      a.send(b.localId, 't/unknown', bytes(4));
      await eventually('delivery after the drop', () => got.length > 0);
    });

    it('rejects a payload over maxMessageSize with CORE_INVALID_ARGUMENT', () => {
      const big = new Uint8Array(a.maxMessageSize + 1);
      let err: unknown;
      try {
        a.send(b.localId, 't/big', big);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
    });

    it('delivers an empty payload and one of exactly maxMessageSize (capped at 1 MiB for the test)', async () => {
      const sizes: number[] = [];
      b.handle('t/sizes', (_f, d) => sizes.push(d.byteLength));
      const max = Math.min(a.maxMessageSize, 1024 * 1024);
      a.send(b.localId, 't/sizes', new Uint8Array(0));
      const full = new Uint8Array(max).fill(0xab);
      a.send(b.localId, 't/sizes', full);
      if (f.reliable === false) return;
      await eventually('both deliveries', () => sizes.includes(0) && sizes.includes(max));
    });

    it('on a reliable network every message of a burst arrives at least once, from every sender', async () => {
      if (f.reliable === false) return;
      const seen = new Set<string>();
      c.handle('t/burst', (from, d) => seen.add(`${from}:${d[0]! | (d[1]! << 8)}`));
      const n = 200;
      for (let i = 0; i < n; i++) {
        a.send(c.localId, 't/burst', bytes(i & 0xff, i >> 8));
        b.send(c.localId, 't/burst', bytes(i & 0xff, i >> 8));
      }
      await eventually('all burst deliveries', () => seen.size === 2 * n);
      for (let i = 0; i < n; i++) {
        expect(seen.has(`${a.localId}:${i}`)).toBe(true);
        expect(seen.has(`${b.localId}:${i}`)).toBe(true);
      }
    });

    it('messages flow both ways between the same pair', async () => {
      const atA: NodeId[] = [];
      const atB: NodeId[] = [];
      a.handle('t/both', (from) => atA.push(from));
      b.handle('t/both', (from) => atB.push(from));
      a.send(b.localId, 't/both', bytes(1));
      b.send(a.localId, 't/both', bytes(2));
      await eventually('both directions', () => atA.length > 0 && atB.length > 0);
      expect(atA[0]).toBe(b.localId);
      expect(atB[0]).toBe(a.localId);
    });
  });
}
