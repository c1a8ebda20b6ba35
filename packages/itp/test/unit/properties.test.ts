import type { AffinityTerm, PlacementHost, PlacementRequest, TopologyScope } from '@novacron/core';
import { matchesSelector, PlacementPipeline, type ResourcePolicy, resourceProfile } from '@novacron/itp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/**
 * Property tests against a brute-force oracle that knows nothing of the
 * indexes: after every step no host is over capacity and every required
 * anti-affinity rule of every placed VM holds (both halves); each placed VM
 * met its required affinity when it arrived; and when the pipeline finds no
 * host, the oracle agrees that none was feasible.
 */

const SCOPES: TopologyScope[] = ['host', 'rack', 'zone', 'region'];
const GROUPS = ['g0', 'g1', 'g2'];
const APPS = ['web', 'db', 'cache'];

const hostArb = fc.record({ cpu: fc.integer({ min: 1, max: 8 }), mem: fc.integer({ min: 1, max: 8 }) });
const termArb: fc.Arbitrary<AffinityTerm> = fc.oneof(
  fc.record({ scope: fc.constantFrom(...SCOPES), group: fc.constantFrom(...GROUPS) }),
  fc.record({
    scope: fc.constantFrom(...SCOPES),
    selector: fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...APPS) }) }),
  }),
);
const arrivalArb = fc.record({
  kind: fc.constant('arrive' as const),
  cpu: fc.integer({ min: 0, max: 4 }),
  mem: fc.integer({ min: 0, max: 4 }),
  group: fc.option(fc.constantFrom(...GROUPS), { nil: undefined }),
  app: fc.option(fc.constantFrom(...APPS), { nil: undefined }),
  anti: fc.array(termArb, { maxLength: 2 }),
  affinity: fc.array(termArb, { maxLength: 1 }),
});
const opArb = fc.oneof(
  { weight: 4, arbitrary: arrivalArb },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('depart' as const), pick: fc.nat() }) },
);

function domain(h: PlacementHost, scope: TopologyScope): string {
  return scope === 'host'
    ? h.id
    : scope === 'rack'
      ? `${h.region}/${h.zone}/${h.rack}`
      : scope === 'zone'
        ? `${h.region}/${h.zone}`
        : h.region!;
}
const isPeer = (t: AffinityTerm, r: PlacementRequest) =>
  t.group !== undefined ? r.group === t.group : matchesSelector(t.selector!, r.labels);

describe('placement properties (brute-force oracle)', () => {
  const variants: [ResourcePolicy, number | undefined][] = [
    ['most-allocated', undefined],
    ['most-allocated', 1],
    ['least-allocated', 2],
    ['l2-alignment', undefined],
  ];
  for (const [policy, minFeasible] of variants)
    it(`${policy}${minFeasible === undefined ? '' : ` (index, minFeasible ${minFeasible})`}: never violates capacity or a required rule, and never misses a feasible host`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(hostArb, { minLength: 1, maxLength: 10 }),
          fc.array(opArb, { maxLength: 40 }),
          async (hs, ops) => {
            const hosts: PlacementHost[] = hs.map((h, i) => ({
              id: `h${i}`,
              region: `r${i % 2}`,
              zone: `z${i % 3}`,
              rack: `k${i % 4}`,
              capacity: { cpuMillis: h.cpu * 1000, memoryBytes: h.mem * 1000 },
            }));
            const p = new PlacementPipeline({
              hosts,
              profiles: [resourceProfile(policy, minFeasible === undefined ? {} : { minFeasible })],
            });
            const placed = new Map<string, { r: PlacementRequest; h: number }>();
            const peersExcept = (id: string) => [...placed.entries()].filter(([k]) => k !== id).map(([, v]) => v);

            /** Can request r go to host h, given the VMs placed (r not among them)? */
            const feasible = (r: PlacementRequest, h: number): boolean => {
              const host = hosts[h]!;
              let cpu = 0;
              let mem = 0;
              for (const v of placed.values())
                if (v.h === h) {
                  cpu += v.r.resources.cpuMillis;
                  mem += v.r.resources.memoryBytes;
                }
              if (r.resources.cpuMillis > 0 && cpu + r.resources.cpuMillis > host.capacity.cpuMillis) return false;
              if (r.resources.memoryBytes > 0 && mem + r.resources.memoryBytes > host.capacity.memoryBytes)
                return false;
              for (const t of r.antiAffinity?.required ?? [])
                if (
                  [...placed.values()].some(
                    (v) => isPeer(t, v.r) && domain(hosts[v.h]!, t.scope) === domain(host, t.scope),
                  )
                )
                  return false;
              for (const v of placed.values())
                for (const t of v.r.antiAffinity?.required ?? [])
                  if (isPeer(t, r) && domain(hosts[v.h]!, t.scope) === domain(host, t.scope)) return false;
              for (const t of r.affinity?.required ?? []) {
                const peers = [...placed.values()].filter((v) => isPeer(t, v.r));
                if (peers.length === 0) {
                  if (!isPeer(t, r)) return false;
                } else if (!peers.some((v) => domain(hosts[v.h]!, t.scope) === domain(host, t.scope))) return false;
              }
              return true;
            };

            let n = 0;
            for (const op of ops) {
              if (op.kind === 'depart') {
                const ids = [...placed.keys()];
                if (ids.length === 0) continue;
                const id = ids[op.pick % ids.length]!;
                p.remove(id);
                placed.delete(id);
                continue;
              }
              const r: PlacementRequest = {
                id: `v${n++}`,
                resources: { cpuMillis: op.cpu * 500, memoryBytes: op.mem * 500 },
                ...(op.group ? { group: op.group } : {}),
                ...(op.app ? { labels: { app: op.app } } : {}),
                antiAffinity: { required: op.anti },
                affinity: { required: op.affinity },
              };
              let d: Awaited<ReturnType<typeof p.place>>;
              try {
                d = await p.place(r);
              } catch (err) {
                // Only self-contradictory requests may be refused.
                expect((err as { code?: string }).code).toBe('ITP_IMPOSSIBLE_CONSTRAINTS');
                continue;
              }
              if (d.hostId === undefined) {
                for (let h = 0; h < hosts.length; h++)
                  expect(feasible(r, h), `oracle finds ${r.id} fits h${h}`).toBe(false);
                continue;
              }
              const h = p.snapshot.indexOf(d.hostId);
              expect(feasible(r, h)).toBe(true);
              placed.set(r.id, { r, h });
              // Global invariants after every placement.
              for (let x = 0; x < hosts.length; x++) {
                let cpu = 0;
                for (const v of placed.values()) if (v.h === x) cpu += v.r.resources.cpuMillis;
                expect(cpu).toBeLessThanOrEqual(hosts[x]!.capacity.cpuMillis);
                expect(p.snapshot.used(x, 0)).toBe(cpu);
              }
              for (const [id, v] of placed)
                for (const t of v.r.antiAffinity?.required ?? [])
                  for (const u of peersExcept(id))
                    if (isPeer(t, u.r)) expect(domain(hosts[u.h]!, t.scope)).not.toBe(domain(hosts[v.h]!, t.scope));
            }
          },
        ),
        { numRuns: 60 },
      );
    });
});
