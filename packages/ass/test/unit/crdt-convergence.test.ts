import { seededRng } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { docDigest } from '../../src/index.js';

const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), doc: fc.nat(2), key: fc.nat(5), value: fc.nat(1000) }),
  fc.record({ kind: fc.constant('delete' as const), doc: fc.nat(2), key: fc.nat(5) }),
  fc.record({ kind: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }),
);

const content = (d: Y.Doc) => JSON.stringify(Object.entries(d.getMap('kv').toJSON()).sort());
const sameDigest = (a: Y.Doc, b: Y.Doc) => {
  const x = docDigest(a);
  const y = docDigest(b);
  return Buffer.from(x.stateVector).equals(Buffer.from(y.stateVector)) && x.deleteSetHash === y.deleteSetHash;
};

describe('CRDT convergence (fast-check)', () => {
  it('equal state vector + delete set digest implies equal content; full exchange converges', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer(), (ops, seed) => {
        const rng = seededRng(seed);
        const docs = [0, 1, 2].map(() => {
          const d = new Y.Doc();
          d.clientID = rng.nextUint32();
          return d;
        });
        const check = () => {
          for (let i = 0; i < 3; i++)
            for (let j = i + 1; j < 3; j++) {
              if (sameDigest(docs[i]!, docs[j]!)) expect(content(docs[i]!)).toBe(content(docs[j]!));
            }
        };
        for (const o of ops) {
          if (o.kind === 'set') docs[o.doc]!.getMap('kv').set(`k${o.key}`, o.value);
          else if (o.kind === 'delete') docs[o.doc]!.getMap('kv').delete(`k${o.key}`);
          else {
            // Partial sync: only what `to` lacks by state vector, as step 2 would carry it.
            const update = Y.encodeStateAsUpdate(docs[o.from]!, Y.encodeStateVector(docs[o.to]!));
            Y.applyUpdate(docs[o.to]!, update);
          }
          check();
        }
        // Full exchange, in a random order: every pair converges.
        for (const i of rng.shuffle([0, 1, 2]))
          for (const j of [0, 1, 2])
            Y.applyUpdate(docs[j]!, Y.encodeStateAsUpdate(docs[i]!, Y.encodeStateVector(docs[j]!)));
        for (const i of [0, 1, 2]) for (const j of [0, 1, 2]) Y.applyUpdate(docs[j]!, Y.encodeStateAsUpdate(docs[i]!));
        for (const d of docs) {
          expect(sameDigest(d, docs[0]!)).toBe(true);
          expect(content(d)).toBe(content(docs[0]!));
        }
      }),
      { numRuns: 200 },
    );
  });
});
