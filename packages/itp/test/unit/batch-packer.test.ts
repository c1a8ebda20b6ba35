import { ManualClock, type PlacementHost, type PlacementRequest, seededRng } from '@novacron/core';
import { packBatch } from '@novacron/itp';
import { describe, expect, it } from 'vitest';

const hosts: PlacementHost[] = Array.from({ length: 6 }, (_, i) => ({
  id: `h${i}`,
  capacity: { cpuMillis: 10_000, memoryBytes: 10_000 },
}));
const vm = (id: string, cpu: number, extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  id,
  resources: { cpuMillis: cpu, memoryBytes: 100 },
  ...extra,
});

describe('batch packer', () => {
  it('finds an optimal packing and proves it with the bound', () => {
    // 6+4, 6+4 and 5+5 fill three hosts exactly, which the volume bound proves optimal.
    const reqs = [vm('a', 5000), vm('b', 5000), vm('c', 6000), vm('d', 6000), vm('e', 4000), vm('f', 4000)];
    const r = packBatch(hosts, reqs, { budgetMs: 100, clock: new ManualClock(), rng: seededRng(1), maxAttempts: 200 });
    expect(r.lowerBound).toBe(3);
    expect(r.hostsUsed).toBe(3);
    expect(r.assignment!.size).toBe(6);
  });

  it('respects host anti-affinity and counts it in the bound', () => {
    const rule = { group: 'g', antiAffinity: { required: [{ scope: 'host' as const, group: 'g' }] } };
    const reqs = [vm('a', 100, rule), vm('b', 100, rule), vm('c', 100, rule), vm('d', 100)];
    const r = packBatch(hosts, reqs, { budgetMs: 100, clock: new ManualClock(), rng: seededRng(1) });
    expect(r.lowerBound).toBe(3);
    expect(r.hostsUsed).toBe(3);
    const where = ['a', 'b', 'c'].map((id) => r.assignment!.get(id));
    expect(new Set(where).size).toBe(3);
  });

  it('stops at the attempt cap on a frozen clock and reports an infeasible batch', () => {
    const reqs = Array.from({ length: 7 }, (_, i) => vm(`x${i}`, 9000));
    const r = packBatch(hosts, reqs, { budgetMs: 100, clock: new ManualClock(), rng: seededRng(1), maxAttempts: 10 });
    expect(r.assignment).toBeUndefined();
    expect(r.hostsUsed).toBe(Number.POSITIVE_INFINITY);
    expect(r.attempts).toBe(10);
  });
});
