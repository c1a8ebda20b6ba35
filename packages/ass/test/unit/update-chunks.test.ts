import { seededRng } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { docDigest, encodeUpdateChunks } from '../../src/index.js';

const op = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    doc: fc.nat(2),
    key: fc.nat(30),
    size: fc.oneof(fc.nat(40), fc.integer({ min: 500, max: 3000 })),
  }),
  fc.record({ kind: fc.constant('delete' as const), doc: fc.nat(2), key: fc.nat(30) }),
  fc.record({ kind: fc.constant('sync' as const), from: fc.nat(2), to: fc.nat(2) }),
);

const sv = (d: Y.Doc) => Y.decodeStateVector(Y.encodeStateVector(d));
const same = (a: Y.Doc, b: Y.Doc) => {
  const x = docDigest(a);
  const y = docDigest(b);
  expect(Buffer.from(x.stateVector).equals(Buffer.from(y.stateVector))).toBe(true);
  expect(x.deleteSetHash).toBe(y.deleteSetHash);
  const view = (d: Y.Doc) => JSON.stringify(Object.entries(d.getMap('kv').toJSON()).sort());
  expect(view(a) === view(b)).toBe(true);
};
const structCount = (chunk: Uint8Array) => Y.decodeUpdate(chunk).structs.length;

/** Three docs edited and partially synced at random; returns them (0 is the source, 1 the target). */
type Op =
  | { kind: 'set'; doc: number; key: number; size: number }
  | { kind: 'delete'; doc: number; key: number }
  | { kind: 'sync'; from: number; to: number };

function build(ops: readonly Op[], seed: number): Y.Doc[] {
  const rng = seededRng(seed);
  const docs = [0, 1, 2].map(() => {
    const d = new Y.Doc();
    d.clientID = rng.nextUint32();
    return d;
  });
  for (const o of ops) {
    if (o.kind === 'set') docs[o.doc]!.getMap('kv').set(`k${o.key}`, new Uint8Array(o.size).fill(o.key));
    else if (o.kind === 'delete') docs[o.doc]!.getMap('kv').delete(`k${o.key}`);
    else Y.applyUpdate(docs[o.to]!, Y.encodeStateAsUpdate(docs[o.from]!, Y.encodeStateVector(docs[o.to]!)));
  }
  // The target only ever learns from the source here, so it holds a subset of it.
  Y.applyUpdate(docs[0]!, Y.encodeStateAsUpdate(docs[2]!));
  Y.applyUpdate(docs[0]!, Y.encodeStateAsUpdate(docs[1]!));
  return docs;
}

describe('encodeUpdateChunks (sync step 2 in chunks)', () => {
  it('chunks fit the limit, apply to the same state in order or shuffled, and a cut transfer resumes from the state vector', () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 80 }),
        fc.integer(),
        fc.integer({ min: 1024, max: 6000 }),
        fc.nat(),
        (ops, seed, maxBytes, cut) => {
          const [src, target] = build(ops, seed) as [Y.Doc, Y.Doc, Y.Doc];
          const chunks = encodeUpdateChunks(src, sv(target), maxBytes);
          expect(chunks.length).toBeGreaterThan(0);
          // Only a chunk holding one struct (a value larger than the limit) may exceed it.
          for (const c of chunks) if (c.length > maxBytes) expect(structCount(c)).toBe(1);

          const inOrder = new Y.Doc();
          Y.applyUpdate(inOrder, Y.encodeStateAsUpdate(target));
          for (const c of chunks) Y.applyUpdate(inOrder, c);
          same(inOrder, src);

          const shuffled = new Y.Doc();
          Y.applyUpdate(shuffled, Y.encodeStateAsUpdate(target));
          const order = [...chunks];
          seededRng(seed ^ 0x5bd1).shuffle(order);
          for (const c of order) Y.applyUpdate(shuffled, c);
          same(shuffled, src);

          // Interrupted after `k` chunks: the receiver's state vector shows the progress,
          // and chunks computed from it bring the rest (without what it already has).
          const k = cut % (chunks.length + 1);
          const resumed = new Y.Doc();
          Y.applyUpdate(resumed, Y.encodeStateAsUpdate(target));
          for (const c of chunks.slice(0, k)) Y.applyUpdate(resumed, c);
          const rest = encodeUpdateChunks(src, sv(resumed), maxBytes);
          const restStructs = rest.reduce((n, c) => n + structCount(c), 0);
          const allStructs = chunks.reduce((n, c) => n + structCount(c), 0);
          expect(restStructs).toBeLessThanOrEqual(allStructs);
          for (const c of rest) Y.applyUpdate(resumed, c);
          same(resumed, src);

          // Unlimited: one chunk, the same bytes as Yjs's own step 2.
          const one = encodeUpdateChunks(src, sv(target), 1 << 30);
          expect(one).toHaveLength(1);
          expect(
            Buffer.from(one[0]!).equals(Buffer.from(Y.encodeStateAsUpdate(src, Y.encodeStateVector(target)))),
          ).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('splits a large document into many messages and a large delete set into its own chunks', () => {
    const src = new Y.Doc();
    src.clientID = 7;
    const map = src.getMap<Uint8Array>('kv');
    const rng = seededRng('chunks');
    // Random keys: the overwritten (deleted) items are scattered, so the delete set has thousands of ranges.
    for (let i = 0; i < 20_000; i += 500)
      src.transact(() => {
        for (let j = i; j < i + 500; j++) map.set(`k${rng.nextUint32() % 2000}`, Uint8Array.of(j & 255));
      });
    const chunks = encodeUpdateChunks(src, new Map(), 4096);
    expect(chunks.length).toBeGreaterThan(20);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(4096);
    // The delete set needs chunks of its own.
    expect(chunks.filter((c) => structCount(c) === 0).length).toBeGreaterThan(0);
    const dst = new Y.Doc();
    for (const c of chunks) Y.applyUpdate(dst, c);
    same(dst, src);
  });
});
