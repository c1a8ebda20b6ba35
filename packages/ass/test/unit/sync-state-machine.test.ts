import { isNovacronError } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AssErrorCode,
  decodeEventualWrite,
  decodeOutcomes,
  decodeSyncCommand,
  decodeUpdateRecord,
  encodeEventualWrite,
  encodeSyncCommand,
  encodeUpdateRecord,
  type Stamp,
  SyncStateMachine,
} from '../../src/index.js';

const b = (t: string) => new TextEncoder().encode(t);
const t = (v: Uint8Array | null | undefined) => (v ? new TextDecoder().decode(v) : v);
const st = (wall: number, node = 'n'): Stamp => [wall, 0, node];

describe('SyncStateMachine conflict rules', () => {
  it('applies plain writes unconditionally and ignores late duplicates of an origin', () => {
    const m = new SyncStateMachine();
    const out = (c: Uint8Array, i: number) => decodeOutcomes(m.apply(c, i));
    expect(out(encodeSyncCommand({ t: 'w', ns: 'n', key: 'k', value: b('1') }), 1)).toEqual(['applied']);
    expect(
      out(encodeSyncCommand({ t: 'w', ns: 'n', key: 'k', value: b('2'), origin: 'a', seq: 5, stamp: st(1) }), 2),
    ).toEqual(['applied']);
    // A proposal of a's write 4 committing late: a already moved on.
    expect(
      out(encodeSyncCommand({ t: 'w', ns: 'n', key: 'k', value: b('old'), origin: 'a', seq: 4, stamp: st(0) }), 3),
    ).toEqual(['duplicate']);
    expect(t(m.version('n', 'k')?.value)).toBe('2');
    expect(m.version('n', 'k')?.index).toBe(2);
    expect(m.decided('a')).toBe(5);
  });

  it('replayed writes: apply on an unchanged base, lose to unseen strong writes, LWW among eventual', () => {
    const m = new SyncStateMachine();
    m.apply(encodeSyncCommand({ t: 'w', ns: 'n', key: 'x', value: b('s1') }), 1); // x at version 1
    m.apply(encodeSyncCommand({ t: 'w', ns: 'n', key: 'x', value: b('s2') }), 2); // strong write not seen by the replays below
    const r = decodeOutcomes(
      m.apply(
        encodeSyncCommand({
          t: 'r',
          origin: 'a',
          writes: [
            { seq: 1, ns: 'n', key: 'x', value: b('a-x'), stamp: st(10, 'a'), base: 1 }, // superseded: base 1, key at 2
            { seq: 2, ns: 'n', key: 'y', value: b('a-y'), stamp: st(11, 'a'), base: 0 }, // applied: y never written
          ],
        }),
        3,
      ),
    );
    expect(r).toEqual(['superseded', 'applied']);
    // b's concurrent eventual write of y with a later stamp wins; an earlier one loses.
    const r2 = decodeOutcomes(
      m.apply(
        encodeSyncCommand({
          t: 'r',
          origin: 'b',
          writes: [{ seq: 1, ns: 'n', key: 'y', value: b('b-y'), stamp: st(12, 'b'), base: 0 }],
        }),
        4,
      ),
    );
    expect(r2).toEqual(['applied']);
    const r3 = decodeOutcomes(
      m.apply(
        encodeSyncCommand({
          t: 'r',
          origin: 'c',
          writes: [{ seq: 1, ns: 'n', key: 'y', value: b('c-y'), stamp: st(5, 'c'), base: 0 }],
        }),
        5,
      ),
    );
    expect(r3).toEqual(['superseded']);
    // Replaying a again (after a restart) changes nothing.
    const again = decodeOutcomes(
      m.apply(
        encodeSyncCommand({
          t: 'r',
          origin: 'a',
          writes: [{ seq: 2, ns: 'n', key: 'y', value: b('a-y'), stamp: st(11, 'a'), base: 0 }],
        }),
        6,
      ),
    );
    expect(again).toEqual(['duplicate']);
    expect(t(m.version('n', 'x')?.value)).toBe('s2');
    expect(t(m.version('n', 'y')?.value)).toBe('b-y');
    // A strong write after all of it always applies.
    m.apply(encodeSyncCommand({ t: 'w', ns: 'n', key: 'y', value: null }), 7);
    expect(m.entries('n').map(([k]) => k)).toEqual(['x']);
  });

  it('snapshot and restore reproduce the state and report changed keys', () => {
    const m = new SyncStateMachine();
    m.apply(encodeSyncCommand({ t: 'w', ns: 'n', key: 'k', value: b('1'), origin: 'a', seq: 3, stamp: st(1, 'a') }), 1);
    const snap = m.snapshot();
    const m2 = new SyncStateMachine();
    m2.apply(encodeSyncCommand({ t: 'w', ns: 'n', key: 'gone', value: b('x') }), 1);
    const seen: string[] = [];
    m2.onChange((c) => seen.push(`${c.key}:${c.version ? t(c.version.value) : 'removed'}`));
    m2.restore(snap);
    expect(seen.sort()).toEqual(['gone:removed', 'k:1']);
    expect(m2.decided('a')).toBe(3);
    expect(m2.snapshot()).toEqual(snap);
  });

  it('committed garbage changes nothing; decoders reject random bytes with typed errors', () => {
    const m = new SyncStateMachine();
    expect(decodeOutcomes(m.apply(b('garbage'), 1))).toEqual([]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const [decode, code] of [
          [decodeSyncCommand, AssErrorCode.COMMAND_INVALID],
          [decodeUpdateRecord, AssErrorCode.RECORD_CORRUPT],
          [decodeEventualWrite, AssErrorCode.RECORD_CORRUPT],
        ] as const) {
          try {
            decode(bytes);
          } catch (err) {
            expect(isNovacronError(err, code), String(err)).toBe(true);
          }
        }
        m.apply(bytes, 2);
        // Random bytes that happen to decode are fine; anything else leaves no trace.
      }),
      { numRuns: 500 },
    );
  });

  it('encodings round-trip', () => {
    const w = { origin: 'a', seq: 7, ns: 'n', key: 'k', value: b('v'), stamp: st(3, 'a'), base: 2 };
    expect(decodeEventualWrite(encodeEventualWrite(w))).toEqual(w);
    const r = { kind: 'snapshot' as const, namespace: 'n', update: b('u') };
    expect(decodeUpdateRecord(encodeUpdateRecord(r))).toEqual(r);
    const c = { t: 'w' as const, ns: 'n', key: 'k', value: null, origin: 'o', seq: 1, stamp: st(1) };
    expect(decodeSyncCommand(encodeSyncCommand(c))).toEqual(c);
  });
});
