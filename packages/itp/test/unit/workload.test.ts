import { seededRng } from '@novacron/core';
import {
  AZURE_2019,
  arrivalRateFor,
  generateWorkload,
  HUAWEI_EAST_1,
  ItpErrorCode,
  meanLifetimeSeconds,
  meanVcpus,
  WORKLOAD_PRESETS,
} from '@novacron/itp';
import { describe, expect, it } from 'vitest';

describe('workload generator', () => {
  it('the same seed gives the same stream; another seed a different one', () => {
    const make = (seed: number) =>
      generateWorkload({ preset: HUAWEI_EAST_1, rng: seededRng(seed), arrivals: 500, ratePerSecond: 1 });
    expect(make(1)).toEqual(make(1));
    expect(make(1)).not.toEqual(make(2));
  });

  it('follows the preset: over two thirds 1 vCPU with at most 2 GiB, Poisson rate, departures after arrivals', () => {
    const events = generateWorkload({ preset: HUAWEI_EAST_1, rng: seededRng(1), arrivals: 50_000, ratePerSecond: 2 });
    const arrivals = events.filter((e) => e.kind === 'arrive');
    expect(arrivals).toHaveLength(50_000);
    const small = arrivals.filter(
      (e) => e.request.resources.cpuMillis === 1000 && e.request.resources.memoryBytes <= 2 * 2 ** 30,
    ).length;
    expect(small / 50_000).toBeGreaterThan(2 / 3);
    expect(small / 50_000).toBeCloseTo(0.7, 1);
    // Poisson: 50,000 arrivals at 2/s take about 25,000 s (±1% is > 4 standard deviations).
    const last = arrivals[arrivals.length - 1]!.time;
    expect(last).toBeGreaterThan(24_750);
    expect(last).toBeLessThan(25_250);
    const arrived = new Set<string>();
    let orphanDepartures = 0;
    let outOfOrder = 0;
    for (const [i, e] of events.entries()) {
      if (e.kind === 'arrive') arrived.add(e.request.id);
      else if (!arrived.has(e.vmId)) orphanDepartures++;
      if (i > 0 && e.time < events[i - 1]!.time) outOfOrder++;
    }
    expect(orphanDepartures).toBe(0);
    expect(outOfOrder).toBe(0);
  });

  it('lifetimes are heavy-tailed: the mean far exceeds the median', () => {
    const events = generateWorkload({ preset: AZURE_2019, rng: seededRng(3), arrivals: 20_000, ratePerSecond: 1 });
    const start = new Map<string, number>();
    const lives: number[] = [];
    for (const e of events) {
      if (e.kind === 'arrive') start.set(e.request.id, e.time);
      else lives.push(e.time - start.get(e.vmId)!);
    }
    lives.sort((a, b) => a - b);
    const median = lives[lives.length >> 1]!;
    const mean = lives.reduce((a, b) => a + b, 0) / lives.length;
    expect(median).toBeGreaterThan(3000);
    expect(median).toBeLessThan(4200);
    expect(mean / median).toBeGreaterThan(4);
    expect(mean / meanLifetimeSeconds(AZURE_2019)).toBeGreaterThan(0.85);
    expect(mean / meanLifetimeSeconds(AZURE_2019)).toBeLessThan(1.15);
  });

  it('sizes arrivals for a target utilisation by Little’s law', () => {
    const rate = arrivalRateFor(HUAWEI_EAST_1, 64_000, 0.7);
    expect(rate * meanVcpus(HUAWEI_EAST_1) * meanLifetimeSeconds(HUAWEI_EAST_1)).toBeCloseTo(44_800, 6);
    for (const p of Object.values(WORKLOAD_PRESETS))
      expect(p.types.reduce((a, t) => a + t.share, 0)).toBeCloseTo(1, 12);
  });

  it('rejects bad parameters with typed errors', () => {
    expect(() =>
      generateWorkload({ preset: { ...HUAWEI_EAST_1, types: [] }, rng: seededRng(1), arrivals: 1, ratePerSecond: 1 }),
    ).toThrow(expect.objectContaining({ code: ItpErrorCode.INVALID_CONFIG }));
    expect(() =>
      generateWorkload({ preset: HUAWEI_EAST_1, rng: seededRng(1), arrivals: -1, ratePerSecond: 1 }),
    ).toThrow(expect.objectContaining({ name: 'NovacronError' }));
    expect(() => arrivalRateFor(HUAWEI_EAST_1, 100, 1.5)).toThrow(expect.objectContaining({ name: 'NovacronError' }));
  });
});

describe('steady-state start', () => {
  it('starts at the Little-law utilisation with survivors of a stream run for the lifetime cap', () => {
    const totalVcpus = 20_000;
    const rate = arrivalRateFor(HUAWEI_EAST_1, totalVcpus, 0.7);
    const events = generateWorkload({
      preset: HUAWEI_EAST_1,
      rng: seededRng(7),
      arrivals: 10,
      ratePerSecond: rate,
      steadyStart: true,
    });
    const initial = events.filter((e) => e.kind === 'arrive' && e.initial === true);
    const regular = events.filter((e) => e.kind === 'arrive' && e.initial !== true);
    expect(regular).toHaveLength(10);
    let vcpus = 0;
    for (const e of initial) {
      if (e.kind !== 'arrive') continue;
      expect(e.time).toBe(0);
      expect(e.request.id).toMatch(/^vminit\d+$/);
      vcpus += e.request.resources.cpuMillis / 1000;
    }
    expect(vcpus / totalVcpus).toBeGreaterThan(0.66);
    expect(vcpus / totalVcpus).toBeLessThan(0.74);
    // Every initial VM departs, after time 0 and within the cap.
    const departs = new Map(events.filter((e) => e.kind === 'depart').map((e) => [e.vmId, e.time]));
    for (const e of initial)
      if (e.kind === 'arrive') {
        const t = departs.get(e.request.id)!;
        expect(t).toBeGreaterThan(0);
        expect(t).toBeLessThanOrEqual(HUAWEI_EAST_1.lifetime.maxSeconds);
      }
  });

  it('refuses a start that would draw an unbounded number of past arrivals', () => {
    expect(() =>
      generateWorkload({
        preset: HUAWEI_EAST_1,
        rng: seededRng(1),
        arrivals: 1,
        ratePerSecond: 1e6,
        steadyStart: true,
      }),
    ).toThrow(expect.objectContaining({ code: 'ITP_INVALID_CONFIG' }));
  });
});
