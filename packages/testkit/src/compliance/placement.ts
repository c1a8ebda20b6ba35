import { type PlacementHost, type PlacementRequest, type Placer, TOPOLOGY_SCOPES } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link placerCompliance} tests: a placer built over the given inventory. */
export interface PlacerFixture {
  /** Builds the placer under test over `hosts` (empty of VMs). */
  build(hosts: readonly PlacementHost[]): Placer | Promise<Placer>;
}

const GiB = 2 ** 30;

function inventory(): PlacementHost[] {
  const hosts: PlacementHost[] = [];
  for (const region of ['r1', 'r2'])
    for (const zone of ['a', 'b'])
      for (let i = 0; i < 3; i++)
        hosts.push({
          id: `${region}-${zone}-${i}`,
          region,
          zone,
          rack: `k${i % 2}`,
          capacity: { cpuMillis: 8000, memoryBytes: 32 * GiB },
          labels: { tier: i === 0 ? 'ssd' : 'hdd' },
        });
  return hosts;
}

function vm(id: string, cpu: number, extra: Partial<PlacementRequest> = {}): PlacementRequest {
  return { id, resources: { cpuMillis: cpu, memoryBytes: cpu * 4 * 2 ** 20 }, ...extra };
}

/** Recomputes a placer's used capacity from its snapshot and checks nothing is overcommitted. */
function assertNoOvercommit(p: Placer): void {
  const s = p.snapshot;
  for (let h = 0; h < s.hosts.length; h++)
    for (let d = 0; d < s.dimensions.length; d++) expect(s.used(h, d)).toBeLessThanOrEqual(s.capacity(h, d));
}

/**
 * The `Placer` contract as a vitest suite: decisions name known hosts and
 * respect capacity; required anti-affinity (host and zone scope, by group
 * and by selector, both halves) and required affinity hold; a VM that fits
 * nowhere gets no host and changes nothing; the explanation agrees with the
 * decision (the chosen host is the best scored, filtered hosts are not
 * chosen); removing a VM frees its capacity; bad requests are rejected with
 * a NovacronError, never a crash.
 *
 * ```ts
 * import { placerCompliance } from '@novacron/testkit/compliance/placement';
 * placerCompliance('my placer', { setup: () => ({ build: (hosts) => myPlacer(hosts) }) });
 * ```
 */
export function placerCompliance(name: string, fixtures: ComplianceFixtures<PlacerFixture>): void {
  describe(`Placer compliance: ${name}`, () => {
    let f: PlacerFixture;
    beforeEach(async () => {
      f = await fixtures.setup();
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    it('places onto a known host and never overcommits', async () => {
      const p = await f.build(inventory());
      let placed = 0;
      for (let i = 0; i < 40; i++) {
        const d = await p.place(vm(`v${i}`, 1000 + (i % 3) * 500));
        if (d.hostId !== undefined) {
          expect(p.snapshot.indexOf(d.hostId)).toBeGreaterThanOrEqual(0);
          placed++;
        }
        assertNoOvercommit(p);
      }
      // 12 hosts x 8 cores hold at least the 96/2.5 = 38 largest VMs' worth.
      expect(placed).toBeGreaterThanOrEqual(38);
    });

    it('a VM that fits nowhere gets no host and changes nothing', async () => {
      const p = await f.build(inventory());
      const d = await p.place(vm('huge', 9000));
      expect(d.hostId).toBeUndefined();
      expect(d.feasible).toBe(0);
      for (let h = 0; h < p.snapshot.hosts.length; h++) expect(p.snapshot.used(h, 0)).toBe(0);
      // The id stays free for a later, smaller request.
      expect((await p.place(vm('huge', 1000))).hostId).toBeDefined();
    });

    it('required anti-affinity by group keeps members in different zones', async () => {
      const p = await f.build(inventory());
      const zones = new Set<string | undefined>();
      for (let i = 0; i < 4; i++) {
        const d = await p.place(
          vm(`db${i}`, 500, { group: 'db', antiAffinity: { required: [{ scope: 'zone', group: 'db' }] } }),
        );
        expect(d.hostId).toBeDefined();
        zones.add(p.snapshot.domainOf(p.snapshot.indexOf(d.hostId!), 'zone'));
      }
      expect(zones.size).toBe(4);
      const fifth = await p.place(
        vm('db4', 500, { group: 'db', antiAffinity: { required: [{ scope: 'zone', group: 'db' }] } }),
      );
      expect(fifth.hostId).toBeUndefined();
    });

    it('required anti-affinity is symmetric: a newcomer stays out of a holder’s domain', async () => {
      const p = await f.build(inventory());
      const holder = await p.place(
        vm('loner', 500, {
          antiAffinity: { required: [{ scope: 'host', selector: { matchLabels: { app: 'noisy' } } }] },
        }),
      );
      for (let i = 0; i < 20; i++) {
        const d = await p.place(vm(`noisy${i}`, 300, { labels: { app: 'noisy' } }));
        expect(d.hostId).not.toBe(holder.hostId);
      }
    });

    it('required affinity co-locates with placed peers in the same scope', async () => {
      const p = await f.build(inventory());
      const first = await p.place(vm('web0', 500, { group: 'web' }));
      const region = p.snapshot.domainOf(p.snapshot.indexOf(first.hostId!), 'region');
      for (let i = 1; i < 6; i++) {
        const d = await p.place(vm(`cache${i}`, 500, { affinity: { required: [{ scope: 'region', group: 'web' }] } }));
        expect(p.snapshot.domainOf(p.snapshot.indexOf(d.hostId!), 'region')).toBe(region);
      }
    });

    it('an explained decision agrees with itself', async () => {
      const p = await f.build(inventory());
      for (let i = 0; i < 10; i++) await p.place(vm(`bg${i}`, 2000));
      const d = await p.place(vm('x', 5000, { group: 'x' }), { explain: true });
      const e = d.explanation;
      expect(e.filtered).toBeDefined();
      expect(e.scores).toBeDefined();
      expect(e.scores!.length).toBe(d.feasible);
      expect(e.filtered!.length + d.feasible).toBe(e.considered);
      if (d.hostId !== undefined) {
        expect(e.scores![0]!.hostId).toBe(d.hostId);
        for (const s of e.scores!) expect(s.total).toBeLessThanOrEqual(e.scores![0]!.total);
      }
      const filteredIds = new Set(e.filtered!.map((x) => x.hostId));
      expect(filteredIds.has(d.hostId ?? '')).toBe(false);
      const summed = Object.values(e.filteredSummary).reduce((a, b) => a + b, 0);
      expect(summed).toBe(e.filtered!.length);
    });

    it('removing a VM frees its capacity; removing an unknown VM throws a NovacronError', async () => {
      const p = await f.build(inventory());
      const d = await p.place(vm('a', 8000));
      const h = p.snapshot.indexOf(d.hostId!);
      expect(p.snapshot.used(h, 0)).toBe(8000);
      p.remove('a');
      expect(p.snapshot.used(h, 0)).toBe(0);
      expect(() => p.remove('a')).toThrow(expect.objectContaining({ name: 'NovacronError' }));
    });

    it('rejects bad requests with a NovacronError', async () => {
      const p = await f.build(inventory());
      const bad: unknown[] = [
        null,
        { id: 'n', resources: { cpuMillis: -1, memoryBytes: 0 } },
        { id: 'nan', resources: { cpuMillis: Number.NaN, memoryBytes: 0 } },
        { id: '', resources: { cpuMillis: 1, memoryBytes: 0 } },
        {
          id: 't',
          resources: { cpuMillis: 1, memoryBytes: 0 },
          antiAffinity: { required: [{ scope: 'galaxy', group: 'g' }] },
        },
      ];
      for (const r of bad)
        await expect(p.place(r as PlacementRequest)).rejects.toMatchObject({ name: 'NovacronError' });
      for (let h = 0; h < p.snapshot.hosts.length; h++) expect(p.snapshot.used(h, 0)).toBe(0);
      expect(TOPOLOGY_SCOPES).toContain('zone');
    });
  });
}
