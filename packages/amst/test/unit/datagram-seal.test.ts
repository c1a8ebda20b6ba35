import { AmstErrorCode, type ClusterKey, DatagramSealer, REPLAY_WINDOW, SEAL_OVERHEAD } from '@novacron/amst';
import { expectNovacronError } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const key = (id: number, fill: number): ClusterKey => ({ id, key: new Uint8Array(32).fill(fill) });
const clock = () => {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};
const pair = (keys: ClusterKey[] = [key(1, 7)]) => {
  const c = clock();
  let salt = 0;
  const mk = () => new DatagramSealer({ keys, wallClock: c.now, randomBytes: (n) => new Uint8Array(n).fill(++salt) });
  return { a: mk(), b: mk(), clock: c };
};

describe('DatagramSealer', () => {
  it('round-trips any payload, and the sealed bytes hide it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.string({ maxLength: 20 }), (data, channel) => {
        const { a, b } = pair();
        const sealed = a.seal('na', 'nb', channel, data);
        expect(sealed.length).toBe(data.length + SEAL_OVERHEAD);
        if (data.length >= 16) expect(Buffer.from(sealed).includes(Buffer.from(data))).toBe(false);
        expect(Buffer.from(b.open('na', 'nb', channel, sealed)).equals(Buffer.from(data))).toBe(true);
      }),
    );
  });

  it('refuses any flipped bit, truncation or extension with AMST_DATAGRAM_AUTH_FAILED', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (data, at, bit) => {
          const { a, b } = pair();
          const sealed = a.seal('na', 'nb', 'gossip', data);
          const i = at % sealed.length;
          const tampered = Uint8Array.from(sealed);
          tampered[i]! ^= 1 << bit;
          const err = (() => {
            try {
              b.open('na', 'nb', 'gossip', tampered);
            } catch (e) {
              return e as { code: string };
            }
            return undefined;
          })();
          // A flipped timestamp/counter bit still fails the tag: the header is associated data.
          expect(err?.code).toBe(AmstErrorCode.DATAGRAM_AUTH_FAILED);
          expectNovacronError(
            () => b.open('na', 'nb', 'gossip', sealed.subarray(0, sealed.length - 1)),
            AmstErrorCode.DATAGRAM_AUTH_FAILED,
          );
          expectNovacronError(
            () => b.open('na', 'nb', 'gossip', new Uint8Array([...sealed, 0])),
            AmstErrorCode.DATAGRAM_AUTH_FAILED,
          );
        },
      ),
    );
  });

  it('binds sender, receiver and channel: a relabelled datagram is refused', () => {
    const { a, b } = pair();
    const sealed = a.seal('na', 'nb', 'gossip', new Uint8Array([1, 2, 3]));
    expectNovacronError(() => b.open('nx', 'nb', 'gossip', sealed), AmstErrorCode.DATAGRAM_AUTH_FAILED);
    expectNovacronError(() => b.open('na', 'nc', 'gossip', sealed), AmstErrorCode.DATAGRAM_AUTH_FAILED);
    expectNovacronError(() => b.open('na', 'nb', 'raft', sealed), AmstErrorCode.DATAGRAM_AUTH_FAILED);
    expect(Array.from(b.open('na', 'nb', 'gossip', sealed))).toEqual([1, 2, 3]);
  });

  it('refuses a foreign cluster key', () => {
    const { a } = pair([key(1, 7)]);
    const { b } = pair([key(1, 8)]);
    expectNovacronError(
      () => b.open('na', 'nb', 'c', a.seal('na', 'nb', 'c', new Uint8Array(4))),
      AmstErrorCode.DATAGRAM_AUTH_FAILED,
    );
  });

  it('refuses replays, accepts reordering inside the window, refuses what fell behind it', () => {
    const { a, b } = pair();
    const sealed = Array.from({ length: REPLAY_WINDOW + 10 }, (_, i) =>
      a.seal('na', 'nb', 'c', new Uint8Array([i & 255])),
    );
    b.open('na', 'nb', 'c', sealed[5]!);
    expectNovacronError(() => b.open('na', 'nb', 'c', sealed[5]!), AmstErrorCode.DATAGRAM_REPLAYED);
    for (const i of [3, 4, 0, 2, 1, 9, 6]) b.open('na', 'nb', 'c', sealed[i]!);
    for (const i of [3, 0, 9])
      expectNovacronError(() => b.open('na', 'nb', 'c', sealed[i]!), AmstErrorCode.DATAGRAM_REPLAYED);
    b.open('na', 'nb', 'c', sealed[REPLAY_WINDOW + 9]!);
    // counter 8 (index 7) is exactly REPLAY_WINDOW + 2 behind the newest: outside.
    expectNovacronError(() => b.open('na', 'nb', 'c', sealed[7]!), AmstErrorCode.DATAGRAM_REPLAYED);
    b.open('na', 'nb', 'c', sealed[20]!);
    expectNovacronError(() => b.open('na', 'nb', 'c', sealed[20]!), AmstErrorCode.DATAGRAM_REPLAYED);
  });

  it('matches a reference model of the window on random arrival orders', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1500 }), { maxLength: 400 }), (order) => {
        const { a, b } = pair();
        const sealed = Array.from({ length: 1501 }, () => a.seal('na', 'nb', 'c', new Uint8Array(1)));
        const seen = new Set<number>();
        let max = 0;
        for (const i of order) {
          const counter = i + 1;
          const ok = !seen.has(counter) && counter > max - REPLAY_WINDOW;
          let got = true;
          try {
            b.open('na', 'nb', 'c', sealed[i]!);
          } catch {
            got = false;
          }
          expect(got).toBe(ok);
          if (ok) {
            seen.add(counter);
            max = Math.max(max, counter);
          }
        }
      }),
      { numRuns: 30 },
    );
  });

  it('refuses datagrams outside the age window and ones that predate a restarted receiver', () => {
    const { a, clock: c } = pair();
    const old = a.seal('na', 'nb', 'c', new Uint8Array(1));
    c.advance(61_000);
    const fresh = new DatagramSealer({ keys: [key(1, 7)], wallClock: c.now });
    expectNovacronError(() => fresh.open('na', 'nb', 'c', old), AmstErrorCode.DATAGRAM_REPLAYED);
    const recent = a.seal('na', 'nb', 'c', new Uint8Array(1));
    c.advance(10_000);
    const restarted = new DatagramSealer({ keys: [key(1, 7)], wallClock: c.now });
    expectNovacronError(() => restarted.open('na', 'nb', 'c', recent), AmstErrorCode.DATAGRAM_REPLAYED);
    restarted.open('na', 'nb', 'c', a.seal('na', 'nb', 'c', new Uint8Array(1)));
  });

  it('forgets the least recent senders within its bound, and then refuses their old datagrams', () => {
    const c = clock();
    const b = new DatagramSealer({ keys: [key(1, 7)], wallClock: c.now, maxSenders: 2 });
    c.advance(6_000);
    const senders = [1, 2, 3].map(
      (s) => new DatagramSealer({ keys: [key(1, 7)], wallClock: c.now, randomBytes: (n) => new Uint8Array(n).fill(s) }),
    );
    const first = senders[0]!.seal('n1', 'nb', 'c', new Uint8Array(1));
    b.open('n1', 'nb', 'c', first);
    c.advance(1);
    b.open('n2', 'nb', 'c', senders[1]!.seal('n2', 'nb', 'c', new Uint8Array(1)));
    c.advance(1);
    b.open('n3', 'nb', 'c', senders[2]!.seal('n3', 'nb', 'c', new Uint8Array(1)));
    // Sender 1 was evicted; its replayed datagram predates the floor and is refused.
    expectNovacronError(() => b.open('n1', 'nb', 'c', first), AmstErrorCode.DATAGRAM_REPLAYED);
    b.open('n1', 'nb', 'c', senders[0]!.seal('n1', 'nb', 'c', new Uint8Array(1)));
  });

  it('rotates keys without a flag day', () => {
    const { a, b } = pair([key(1, 7)]);
    b.setKeys([key(1, 7), key(2, 9)]);
    b.open('na', 'nb', 'c', a.seal('na', 'nb', 'c', new Uint8Array(1)));
    a.setKeys([key(2, 9), key(1, 7)]);
    b.open('na', 'nb', 'c', a.seal('na', 'nb', 'c', new Uint8Array(1)));
    b.setKeys([key(2, 9)]);
    a.setKeys([key(1, 7)]);
    expectNovacronError(
      () => b.open('na', 'nb', 'c', a.seal('na', 'nb', 'c', new Uint8Array(1))),
      AmstErrorCode.DATAGRAM_AUTH_FAILED,
    );
  });

  it('turns hostile bytes into typed errors only (fuzz)', () => {
    const { b } = pair();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, framed) => {
        const input = framed && bytes.length > 1 ? Uint8Array.from([1, 1, ...bytes]) : bytes;
        try {
          b.open('na', 'nb', 'c', input);
          expect.unreachable('forged datagram accepted');
        } catch (e) {
          expect((e as { code?: string }).code).toBe(AmstErrorCode.DATAGRAM_AUTH_FAILED);
        }
      }),
    );
  });

  it('validates its options', () => {
    expectNovacronError(() => new DatagramSealer({ keys: [] }), 'CORE_INVALID_ARGUMENT');
    expectNovacronError(
      () => new DatagramSealer({ keys: [{ id: 1, key: new Uint8Array(31) }] }),
      'CORE_INVALID_ARGUMENT',
    );
    expectNovacronError(() => new DatagramSealer({ keys: [key(1, 1), key(1, 2)] }), 'CORE_INVALID_ARGUMENT');
    expectNovacronError(() => new DatagramSealer({ keys: [key(256, 1)] }), 'CORE_INVALID_ARGUMENT');
  });
});
