import type { AffinityTerm, PlacementHost, PlacementRequest, TopologyScope } from '@novacron/core';
import { type ItpPlacementDecision, matchesSelector, PlacementPipeline, resourceProfile } from '@novacron/itp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const SCOPES: TopologyScope[] = ['host', 'zone'];
const GROUPS = ['g0', 'g1'];

function cluster(n: number, cpu = 4): PlacementHost[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `h${i}`,
    region: 'r',
    zone: `z${i % 2}`,
    capacity: { cpuMillis: cpu * 1000, memoryBytes: cpu * 1000 },
  }));
}
const pipeline = (hosts: PlacementHost[]) =>
  new PlacementPipeline({ hosts, profiles: [resourceProfile('most-allocated', { minFeasible: 0 })] });
const vm = (id: string, cpu: number, priority?: number, extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  id,
  resources: { cpuMillis: cpu * 1000, memoryBytes: cpu * 1000 },
  ...(priority === undefined ? {} : { priority }),
  ...extra,
});

describe('preemption', () => {
  it('proposes the cheapest victims, evicts only when asked, and explains itself', async () => {
    const p = pipeline(cluster(2));
    await p.place(vm('a', 3, 5)); // h0
    await p.place(vm('b', 1, 1)); // h0 (best fit)
    await p.place(vm('c', 2, 2)); // h1
    await p.place(vm('d', 2, 0)); // h1
    const big = vm('big', 3, 4);
    const proposal = p.decide(big);
    expect(proposal.hostId).toBeUndefined();
    // h1: evicting d (priority 0) and c (2) leaves 4 free; h0 would need a (5 >= 4): not allowed.
    expect(proposal.preemption?.hostId).toBe('h1');
    expect(proposal.preemption?.victims).toEqual([
      { vmId: 'd', priority: 0 },
      { vmId: 'c', priority: 2 },
    ]);
    expect(proposal.preemption?.reason).toContain('evicting 2 VM(s) of priority <= 2 on h1');
    // Without preempt: nothing evicted, nothing placed.
    const dry = await p.place(big);
    expect(dry.hostId).toBeUndefined();
    expect(dry.preempted).toBeUndefined();
    expect(p.snapshot.vms.size).toBe(4);
    const done = await p.place(big, { preempt: true });
    expect(done.hostId).toBe('h1');
    expect(done.preempted).toEqual(['d', 'c']);
    expect([...p.snapshot.vms.keys()].sort()).toEqual(['a', 'b', 'big']);
  });

  it('prefers the host whose highest victim has the lowest priority, then fewer victims', () => {
    const p = pipeline(cluster(3));
    // h0: one VM of priority 3; h1: two of priority 1; h2: one of priority 1 and one of 2.
    p.snapshot.assign(vm('x', 4, 3), new Float64Array([4000, 4000]), 0);
    p.snapshot.assign(vm('y1', 2, 1), new Float64Array([2000, 2000]), 1);
    p.snapshot.assign(vm('y2', 2, 1), new Float64Array([2000, 2000]), 1);
    p.snapshot.assign(vm('z1', 2, 1), new Float64Array([2000, 2000]), 2);
    p.snapshot.assign(vm('z2', 2, 2), new Float64Array([2000, 2000]), 2);
    const d = p.decide(vm('n', 2, 9));
    // h1 and h2 each need one victim of priority 1; h1 has the lower index. h0 needs priority 3.
    expect(d.preemption?.hostId).toBe('h1');
    expect(d.preemption?.victims).toHaveLength(1);
    expect(d.preemption?.candidateHosts).toBe(3);
  });

  it('never proposes equal- or higher-priority victims, nor any when nothing is lower', () => {
    const p = pipeline(cluster(1));
    p.snapshot.assign(vm('a', 4, 2), new Float64Array([4000, 4000]), 0);
    expect(p.decide(vm('n', 1, 2)).preemption).toBeUndefined();
    expect(p.decide(vm('n', 1)).preemption).toBeUndefined();
  });

  it('respects required affinity: no eviction that strands a remaining VM, no landing next to an anti-affine peer', async () => {
    const p = pipeline(cluster(2));
    await p.place(vm('leader', 2, 0, { group: 'db' })); // h0
    await p.place(vm('follower', 2, 5, { affinity: { required: [{ scope: 'host', group: 'db' }] } })); // h0
    await p.place(vm('other', 4, 0, { group: 'web' })); // h1
    // The newcomer refuses hosts with a web VM, so h1 only works by evicting `other`;
    // h0 would need `leader` gone, which strands `follower`.
    const d = await p.place(vm('n', 2, 3, { antiAffinity: { required: [{ scope: 'host', group: 'web' }] } }), {
      preempt: true,
    });
    expect(d.hostId).toBe('h1');
    expect(d.preempted).toEqual(['other']);
  });

  it('gang members are placed highest priority first and preemptions are undone when the gang fails', async () => {
    const p = pipeline(cluster(1));
    await p.place(vm('low', 2, 0));
    // Only 2 free: the priority-5 member must come first (and gets the room), the 1-priority one last.
    const gang = [vm('g-low', 2, 1), vm('g-high', 2, 5)];
    const ds = await p.placeGang(gang, { preempt: true });
    expect(ds.map((d) => d.vmId)).toEqual(['g-low', 'g-high']);
    // g-high took the free room; g-low (priority 1) preempted `low` (0).
    expect(ds[0]!.preempted).toEqual(['low']);
    expect(ds[1]!.preempted).toBeUndefined();
    // A gang that cannot fit whole puts its victims back.
    const q = pipeline(cluster(1));
    await q.place(vm('v', 4, 0));
    await expect(q.placeGang([vm('m1', 4, 3), vm('m2', 1, 3)], { preempt: true })).rejects.toMatchObject({
      code: 'ITP_GANG_UNSCHEDULABLE',
    });
    expect([...q.snapshot.vms.keys()]).toEqual(['v']);
    expect(q.snapshot.used(0, 0)).toBe(4000);
  });
});

// ------------------------------------------------------------------ properties

const termArb: fc.Arbitrary<AffinityTerm> = fc.oneof(
  fc.record({ scope: fc.constantFrom(...SCOPES), group: fc.constantFrom(...GROUPS) }),
  fc.record({
    scope: fc.constantFrom(...SCOPES),
    selector: fc.record({ matchLabels: fc.record({ app: fc.constant('x') }) }),
  }),
);
const reqArb = fc.record({
  cpu: fc.integer({ min: 1, max: 4 }),
  mem: fc.integer({ min: 0, max: 4 }),
  priority: fc.integer({ min: 0, max: 4 }),
  group: fc.option(fc.constantFrom(...GROUPS), { nil: undefined }),
  app: fc.option(fc.constant('x'), { nil: undefined }),
  anti: fc.array(termArb, { maxLength: 1 }),
  affinity: fc.array(termArb, { maxLength: 1 }),
});
type ReqSpec = typeof reqArb extends fc.Arbitrary<infer T> ? T : never;

function toRequest(id: string, s: ReqSpec): PlacementRequest {
  return {
    id,
    resources: { cpuMillis: s.cpu * 1000, memoryBytes: s.mem * 1000 },
    priority: s.priority,
    ...(s.group === undefined ? {} : { group: s.group }),
    ...(s.app === undefined ? {} : { labels: { app: s.app } }),
    ...(s.anti.length ? { antiAffinity: { required: s.anti } } : {}),
    ...(s.affinity.length ? { affinity: { required: s.affinity } } : {}),
  };
}

const isPeer = (t: AffinityTerm, r: PlacementRequest) =>
  t.group !== undefined ? r.group === t.group : matchesSelector(t.selector!, r.labels);

/** Brute-force validity: capacity everywhere and every required anti-affinity rule (both halves). */
function violations(hosts: PlacementHost[], placed: { r: PlacementRequest; h: number }[]): string[] {
  const out: string[] = [];
  const dom = (h: number, s: TopologyScope) => (s === 'host' ? hosts[h]!.id : hosts[h]!.zone!);
  hosts.forEach((host, h) => {
    const on = placed.filter((p) => p.h === h);
    const cpu = on.reduce((a, p) => a + p.r.resources.cpuMillis, 0);
    const mem = on.reduce((a, p) => a + p.r.resources.memoryBytes, 0);
    if (cpu > host.capacity.cpuMillis || mem > host.capacity.memoryBytes) out.push(`over capacity on ${host.id}`);
  });
  for (const a of placed)
    for (const t of a.r.antiAffinity?.required ?? [])
      for (const b of placed)
        if (b !== a && isPeer(t, b.r) && dom(a.h, t.scope) === dom(b.h, t.scope))
          out.push(`${a.r.id} anti-affine to ${b.r.id}`);
  return out;
}

/** Placed VMs whose required affinity has no peer in their domain. */
function stranded(hosts: PlacementHost[], placed: { r: PlacementRequest; h: number }[]): Set<string> {
  const dom = (h: number, s: TopologyScope) => (s === 'host' ? hosts[h]!.id : hosts[h]!.zone!);
  const out = new Set<string>();
  for (const a of placed)
    for (const t of a.r.affinity?.required ?? [])
      if (!placed.some((b) => isPeer(t, b.r) && dom(a.h, t.scope) === dom(b.h, t.scope))) out.add(a.r.id);
  return out;
}

describe('preemption properties', () => {
  it('victims are strictly lower priority, the result is valid and minimal, and nothing is evicted when the VM fits', async () => {
    let proposals = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(reqArb, { minLength: 1, maxLength: 25 }),
        reqArb,
        async (n, existing, incoming) => {
          const hosts = cluster(n);
          const p = pipeline(hosts);
          // Self-contradictory requests (same and different host as one's peers) are rejected by validation.
          const valid = (r: PlacementRequest) => {
            try {
              p.decide(r);
              return true;
            } catch {
              return false;
            }
          };
          for (const [i, s] of existing.entries()) {
            const r = toRequest(`v${i}`, s);
            if (valid(r)) await p.place(r);
          }
          const before = [...p.snapshot.vms.values()].map((v) => ({ r: v.request, h: v.host, demand: v.demand }));
          const strandedBefore = stranded(hosts, before);
          const req = toRequest('new', incoming);
          if (!valid(req)) return;
          const proposal: ItpPlacementDecision = p.decide(req);
          const d = await p.place(req, { preempt: true });
          const after = [...p.snapshot.vms.values()].map((v) => ({ r: v.request, h: v.host }));
          expect(violations(hosts, after)).toEqual([]);
          if (proposal.hostId !== undefined) {
            // Fits without preemption: no proposal, no eviction, one more VM.
            expect(proposal.preemption).toBeUndefined();
            expect(d.preempted).toBeUndefined();
            expect(after.length).toBe(before.length + 1);
            return;
          }
          const pre = proposal.preemption;
          if (pre === undefined) {
            expect(d.hostId).toBeUndefined();
            expect(after.length).toBe(before.length);
            return;
          }
          proposals++;
          expect(pre.victims.length).toBeGreaterThan(0);
          const target = hosts.findIndex((h) => h.id === pre.hostId);
          for (const v of pre.victims) {
            expect(v.priority).toBeLessThan(incoming.priority);
            expect(before.find((b) => b.r.id === v.vmId)?.h).toBe(target);
          }
          expect(d.hostId).toBe(pre.hostId);
          expect(d.preempted).toEqual(pre.victims.map((v) => v.vmId));
          expect(after.length).toBe(before.length - pre.victims.length + 1);
          // The newcomer's own required affinity holds, and no remaining VM lost its peer.
          const me = after.find((a) => a.r.id === 'new')!;
          for (const t of req.affinity?.required ?? [])
            expect(
              isPeer(t, req) ||
                after.some(
                  (b) =>
                    b !== me &&
                    isPeer(t, b.r) &&
                    (t.scope === 'host' ? b.h === me.h : hosts[b.h]!.zone === hosts[me.h]!.zone),
                ),
            ).toBe(true);
          for (const id of stranded(hosts, after)) expect(strandedBefore.has(id)).toBe(true);
          // Minimal: keeping any one victim makes the newcomer not fit on the target.
          for (const keep of pre.victims) {
            const q = pipeline(hosts);
            for (const b of before)
              if (b.r.id === keep.vmId || !pre.victims.some((v) => v.vmId === b.r.id))
                q.snapshot.assign(b.r, b.demand, b.h);
            const e = q.decide(req, { explain: true });
            expect(e.explanation.scores?.some((s) => s.hostId === pre.hostId) ?? false).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
    // The generator must actually exercise preemption.
    expect(proposals).toBeGreaterThan(10);
  });
});
