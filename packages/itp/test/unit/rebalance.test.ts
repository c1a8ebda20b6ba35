import { type PlacementHost, seededRng } from '@novacron/core';
import { ItpErrorCode, matchesSelector, PlacementPipeline, planRebalance, resourceProfile } from '@novacron/itp';
import { describe, expect, it } from 'vitest';

const hosts: PlacementHost[] = Array.from({ length: 12 }, (_, i) => ({
  id: `h${i}`,
  zone: `z${i % 3}`,
  capacity: { cpuMillis: 8000, memoryBytes: 8e9 },
}));

describe('rebalancing planner', () => {
  it('frees hosts within the migration budget, every step valid, and leaves the state untouched', async () => {
    const rng = seededRng(7);
    // Spread makes a fragmented cluster: every host a little full.
    const p = new PlacementPipeline({ hosts, profiles: [resourceProfile('least-allocated')] });
    for (let i = 0; i < 30; i++) {
      const anti = i % 5 === 0;
      await p.place({
        id: `v${i}`,
        resources: { cpuMillis: rng.int(1, 3) * 500, memoryBytes: 0.5e9 },
        labels: { app: anti ? 'db' : 'web' },
        ...(anti ? { antiAffinity: { required: [{ scope: 'zone', selector: { matchLabels: { app: 'db' } } }] } } : {}),
      });
    }
    const placement = () => Object.fromEntries([...p.snapshot.vms.entries()].map(([id, v]) => [id, v.host]));
    const before = placement();
    const plan = planRebalance(p.snapshot, { maxMigrations: 15 });
    expect(placement()).toEqual(before);
    expect(plan.migrations.length).toBeLessThanOrEqual(15);
    expect(plan.freedHosts.length).toBeGreaterThanOrEqual(3);

    // Carry the plan out step by step and check every intermediate state.
    for (const m of plan.migrations) {
      const vm = p.snapshot.release(m.vmId);
      expect(p.snapshot.hosts[vm.host]!.id).toBe(m.from);
      const to = p.snapshot.indexOf(m.to);
      expect(p.snapshot.fits(to, vm.demand)).toBe(true);
      p.snapshot.assign(vm.request, vm.demand, to);
      for (const [id, v] of p.snapshot.vms)
        for (const t of v.request.antiAffinity?.required ?? [])
          for (const [id2, u] of p.snapshot.vms)
            if (id2 !== id && matchesSelector(t.selector!, u.request.labels))
              expect(p.snapshot.domainOf(u.host, t.scope)).not.toBe(p.snapshot.domainOf(v.host, t.scope));
    }
    for (const h of plan.freedHosts)
      expect([...p.snapshot.vms.values()].some((v) => p.snapshot.hosts[v.host]!.id === h)).toBe(false);
  });

  it('a zero budget plans nothing; a bad budget is a typed error', () => {
    const p = new PlacementPipeline({ hosts, profiles: [resourceProfile('least-allocated')] });
    expect(planRebalance(p.snapshot, { maxMigrations: 0 })).toEqual({ migrations: [], freedHosts: [] });
    expect(() => planRebalance(p.snapshot, { maxMigrations: -1 })).toThrow(
      expect.objectContaining({ name: 'NovacronError' }),
    );
    expect(ItpErrorCode.INVALID_REQUEST).toBe('ITP_INVALID_REQUEST');
  });
});
