import type { ScorePlugin } from '@novacron/core';

/** Preferred affinity (+weight when a peer shares the domain) and anti-affinity (−weight when one does). */
export function preferredAffinity(): ScorePlugin {
  return {
    name: 'preferred-affinity',
    score(ctx, host) {
      let s = 0;
      for (const t of ctx.request.affinity?.preferred ?? [])
        if (ctx.snapshot.countPeers(t, host) > 0) s += t.weight ?? 1;
      for (const t of ctx.request.antiAffinity?.preferred ?? [])
        if (ctx.snapshot.countPeers(t, host) > 0) s -= t.weight ?? 1;
      return s;
    },
  };
}
