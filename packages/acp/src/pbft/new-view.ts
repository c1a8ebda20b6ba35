import type { BatchItem, Signed } from './messages.js';

/** Hex of a digest (map key). */
export const hexOf = (d: Uint8Array): string => Buffer.from(d).toString('hex');

/** The digest of the null request (an empty batch). */
export const NULL_DIGEST = new Uint8Array(32);

/** What a verified view-change message contributes to the new-view decision. */
export interface ViewChangeSummary {
  /** Sender. */
  readonly i: string;
  /** Its stable checkpoint and the state digest there. */
  readonly h: number;
  readonly hd: Uint8Array;
  /** The signed checkpoints proving `h`. */
  readonly proof: readonly Signed[];
  /** Latest prepared `(digest, view)` per sequence number. */
  readonly P: ReadonlyMap<number, readonly [Uint8Array, number]>;
  /** Latest pre-prepared `(digest, view)` per sequence number. */
  readonly Q: ReadonlyMap<number, readonly [Uint8Array, number]>;
  /** Batches by digest hex. */
  readonly batches: ReadonlyMap<string, readonly BatchItem[]>;
}

/** The new view's starting point, decided from a set of view changes. */
export interface NewViewDecision {
  /** Stable checkpoint the new view starts from, its digest and proof. */
  readonly h: number;
  readonly hd: Uint8Array;
  readonly proof: readonly Signed[];
  /** For every `n` in `(h, maxN]`, the digest and batch to re-propose (the null digest and `[]` for a gap). */
  readonly slots: readonly { readonly n: number; readonly d: Uint8Array; readonly batch: readonly BatchItem[] }[];
}

/**
 * The new-view decision of Castro's thesis (§3.2.4, the MAC-based view
 * change), over signed view-change messages. Every replica runs it on the
 * same set (the one the new-view message carries), so all reach the same
 * result without trusting the new primary.
 *
 * - Start from the highest stable checkpoint any view change proves (the
 *   proofs were verified: 2f+1 signed checkpoints each).
 * - For each `n` above it, choose digest `d` of view `v` when (A1) 2f+1
 *   view changes prepared nothing at `n` in a view above `v` and nothing
 *   else in `v`, (A2) f+1 pre-prepared `d` at `n` in view `v` or later,
 *   and (A3) the batch is known; among several, the highest view (then
 *   the smallest digest) wins. Otherwise choose the null request when (B)
 *   2f+1 prepared nothing at `n`.
 * - When some `n` satisfies neither, return `undefined`: the new primary
 *   waits for more view changes.
 *
 * @param vcs view changes from distinct replicas (at least 2f+1).
 */
export function decideNewView(vcs: readonly ViewChangeSummary[], f: number): NewViewDecision | undefined {
  if (vcs.length < 2 * f + 1) return undefined;
  let best = vcs[0]!;
  for (const vc of vcs) if (vc.h > best.h) best = vc;
  const h = best.h;
  let maxN = h;
  for (const vc of vcs) {
    for (const n of vc.P.keys()) if (n > maxN) maxN = n;
    for (const n of vc.Q.keys()) if (n > maxN) maxN = n;
  }
  const slots: { n: number; d: Uint8Array; batch: readonly BatchItem[] }[] = [];
  for (let n = h + 1; n <= maxN; n++) {
    // Candidates are the pre-prepared entries at n (A2 needs one anyway).
    const candidates = new Map<string, { d: Uint8Array; v: number }>();
    for (const vc of vcs) {
      const q = vc.Q.get(n);
      if (!q) continue;
      const key = `${q[1]}:${hexOf(q[0])}`;
      if (!candidates.has(key)) candidates.set(key, { d: q[0], v: q[1] });
    }
    let chosen: { d: Uint8Array; v: number; batch: readonly BatchItem[] } | undefined;
    for (const c of candidates.values()) {
      const dh = hexOf(c.d);
      let a1 = 0;
      let a2 = 0;
      let batch: readonly BatchItem[] | undefined;
      for (const vc of vcs) {
        const p = vc.P.get(n);
        if (!p || p[1] < c.v || (p[1] === c.v && hexOf(p[0]) === dh)) a1++;
        const q = vc.Q.get(n);
        if (q && q[1] >= c.v && hexOf(q[0]) === dh) a2++;
        batch ??= vc.batches.get(dh);
      }
      if (dh === hexOf(NULL_DIGEST)) batch = [];
      if (a1 < 2 * f + 1 || a2 < f + 1 || batch === undefined) continue;
      if (!chosen || c.v > chosen.v || (c.v === chosen.v && dh < hexOf(chosen.d))) chosen = { d: c.d, v: c.v, batch };
    }
    if (chosen) {
      slots.push({ n, d: chosen.d, batch: chosen.batch });
      continue;
    }
    let none = 0;
    for (const vc of vcs) if (!vc.P.has(n)) none++;
    if (none < 2 * f + 1) return undefined;
    slots.push({ n, d: NULL_DIGEST, batch: [] });
  }
  return { h, hd: best.hd, proof: best.proof, slots };
}
