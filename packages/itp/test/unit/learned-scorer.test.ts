import type { PlacementHost } from '@novacron/core';
import { capacityFit, ItpErrorCode, learnedFeatureNames, learnedScorer, PlacementPipeline } from '@novacron/itp';
import { describe, expect, it } from 'vitest';

const hosts: PlacementHost[] = [
  { id: 'a', capacity: { cpuMillis: 4000, memoryBytes: 4e9 }, costPerHour: 3 },
  { id: 'b', capacity: { cpuMillis: 4000, memoryBytes: 4e9 }, costPerHour: 1 },
];

describe('learned scorer hook', () => {
  it('passes documented features to the model and ranks by its output', async () => {
    const names = learnedFeatureNames(['cpuMillis', 'memoryBytes', 'diskBytes', 'networkBps']);
    const seen: number[][] = [];
    const costIndex = names.indexOf('costPerHour');
    const scorer = learnedScorer({
      model: (f) => {
        seen.push([...f]);
        return -f[costIndex]!; // a "model" that learned to prefer cheap hosts
      },
    });
    const p = new PlacementPipeline({
      hosts,
      profiles: [{ name: 'learned', filters: [capacityFit()], scorers: [{ plugin: scorer }] }],
    });
    const d = await p.place({ id: 'v', resources: { cpuMillis: 1000, memoryBytes: 1e9 } }, { explain: true });
    expect(d.hostId).toBe('b');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toHaveLength(names.length);
    expect(seen[0]![names.indexOf('demand/cpuMillis')]).toBe(0.25);
    expect(seen[0]![names.indexOf('util/cpuMillis')]).toBe(0);
    expect(d.explanation.scores![0]!.byPlugin.learned).toBe(100);
  });

  it('refuses a missing model and non-finite outputs with ITP_INVALID_CONFIG', () => {
    expect(() => learnedScorer({} as never)).toThrow(expect.objectContaining({ code: ItpErrorCode.INVALID_CONFIG }));
    const p = new PlacementPipeline({
      hosts,
      profiles: [{ name: 'nan', filters: [], scorers: [{ plugin: learnedScorer({ model: () => Number.NaN }) }] }],
    });
    expect(() => p.decide({ id: 'v', resources: { cpuMillis: 1, memoryBytes: 1 } })).toThrow(
      expect.objectContaining({ code: ItpErrorCode.INVALID_CONFIG }),
    );
  });
});
