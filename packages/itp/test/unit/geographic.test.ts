import { type PlacementHost, seededRng } from '@novacron/core';
import {
  comparePoints,
  dominates,
  type GeoPreference,
  geographicProfile,
  geoPoint,
  ItpErrorCode,
  PlacementPipeline,
  paretoFront,
} from '@novacron/itp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const USER_REGIONS = ['paris', 'virginia', 'tokyo', 'sydney'];

function inventory(seed: number, regions: number, perRegion: number): PlacementHost[] {
  const rng = seededRng(seed);
  const hosts: PlacementHost[] = [];
  for (let r = 0; r < regions; r++) {
    const base = Object.fromEntries(USER_REGIONS.map((u) => [u, rng.int(5, 250)]));
    for (let i = 0; i < perRegion; i++)
      hosts.push({
        id: `r${r}-h${i}`,
        region: `r${r}`,
        zone: `r${r}-z${i % 3}`,
        capacity: { cpuMillis: rng.int(1, 16) * 1000, memoryBytes: 64e9 },
        latencyMs: Object.fromEntries(USER_REGIONS.map((u) => [u, base[u]! + rng.int(0, 20)])),
        uptime: { ratio: 0.95 + rng.int(0, 500) / 10_000 },
        costPerHour: rng.int(10, 300) / 100,
      });
  }
  return hosts;
}

const prefArb: fc.Arbitrary<GeoPreference> = fc.oneof(
  fc.record({
    mode: fc.constant('weighted' as const),
    weights: fc.record({
      latency: fc.integer({ min: 0, max: 5 }),
      unavailability: fc.integer({ min: 0, max: 5 }),
      cost: fc.integer({ min: 1, max: 5 }),
    }),
    scales: fc.constant({ latency: 100, unavailability: 0.01, cost: 1 }),
  }),
  fc.record({
    mode: fc.constant('lexicographic' as const),
    order: fc.shuffledSubarray(['latency', 'unavailability', 'cost'] as const, { minLength: 3 }),
  }),
);

describe('geographic multi-objective placement', () => {
  it('the chosen host is the exhaustive optimum of the preference and lies on the Pareto front (≤ 8 regions × 50 hosts)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 50 }),
        fc.nat(),
        prefArb,
        fc.record({ paris: fc.integer({ min: 1, max: 9 }), tokyo: fc.integer({ min: 1, max: 9 }) }),
        fc.integer({ min: 1, max: 16 }),
        (regions, perRegion, seed, pref, users, cpu) => {
          const hosts = inventory(seed, regions, perRegion);
          const p = new PlacementPipeline({ hosts, profiles: [geographicProfile(pref)] });
          const request = { id: 'v', resources: { cpuMillis: cpu * 1000, memoryBytes: 1e9 }, userRegions: users };
          const d = p.decide(request, { explain: true });
          const fits = hosts.filter((h) => h.capacity.cpuMillis >= cpu * 1000);
          if (fits.length === 0) {
            expect(d.hostId).toBeUndefined();
            return;
          }
          const points = fits.map((h) => geoPoint(request, h));
          let best = 0;
          for (let i = 1; i < fits.length; i++) if (comparePoints(pref, points[i]!, points[best]!) < 0) best = i;
          const chosen = fits.findIndex((h) => h.id === d.hostId);
          expect(chosen).toBeGreaterThanOrEqual(0);
          expect(comparePoints(pref, points[chosen]!, points[best]!)).toBe(0);
          expect(points.some((q) => dominates(q, points[chosen]!))).toBe(false);
          // The explanation's order agrees with the choice.
          expect(d.explanation.scores![0]!.hostId).toBe(d.hostId);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('paretoFront returns exactly the non-dominated points', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            latency: fc.integer({ max: 5, min: 0 }),
            unavailability: fc.integer({ max: 5, min: 0 }),
            cost: fc.integer({ max: 5, min: 0 }),
          }),
          { maxLength: 60 },
        ),
        (pts) => {
          const front = new Set(paretoFront(pts));
          for (const [i, p] of pts.entries()) expect(front.has(i)).toBe(!pts.some((q) => dominates(q, p)));
        },
      ),
    );
  });

  it('rejects bad preferences with ITP_INVALID_CONFIG', () => {
    expect(() => geographicProfile({ mode: 'weighted', weights: { latency: 0, unavailability: 0, cost: 0 } })).toThrow(
      expect.objectContaining({ code: ItpErrorCode.INVALID_CONFIG }),
    );
    expect(() => geographicProfile({ mode: 'lexicographic', order: [] })).toThrow(
      expect.objectContaining({ code: ItpErrorCode.INVALID_CONFIG }),
    );
    expect(() =>
      geographicProfile({
        mode: 'weighted',
        weights: { latency: 1, unavailability: 0, cost: 0 },
        scales: { latency: 0 },
      }),
    ).toThrow(expect.objectContaining({ code: ItpErrorCode.INVALID_CONFIG }));
  });
});
