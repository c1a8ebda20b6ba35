import type { PlacementHost, PlacementRequest } from '@novacron/core';
import { ItpErrorCode, PlacementPipeline, resourceProfile } from '@novacron/itp';
import { describe, expect, it } from 'vitest';

const hosts: PlacementHost[] = [
  {
    id: 'a',
    region: 'eu',
    zone: 'eu-1',
    capacity: { cpuMillis: 4000, memoryBytes: 8e9, extended: { gpu: 1 } },
    latencyMs: { paris: 5 },
  },
  { id: 'b', region: 'us', zone: 'us-1', capacity: { cpuMillis: 4000, memoryBytes: 8e9 }, latencyMs: { paris: 90 } },
];
const pipeline = () => new PlacementPipeline({ hosts, profiles: [resourceProfile('most-allocated')] });
const base: PlacementRequest = { id: 'v', resources: { cpuMillis: 1000, memoryBytes: 1e9 } };

async function rejects(request: unknown, code: string) {
  const p = pipeline();
  await expect(p.place(request as PlacementRequest)).rejects.toMatchObject({ name: 'NovacronError', code });
  expect(() => p.decide(request as PlacementRequest)).toThrow(expect.objectContaining({ code }));
}

describe('request validation', () => {
  it('negative, non-finite or missing demand is ITP_INVALID_REQUEST naming the field', async () => {
    await rejects({ ...base, resources: { cpuMillis: -1, memoryBytes: 0 } }, ItpErrorCode.INVALID_REQUEST);
    await rejects(
      { ...base, resources: { cpuMillis: 1, memoryBytes: Number.POSITIVE_INFINITY } },
      ItpErrorCode.INVALID_REQUEST,
    );
    await rejects(
      { ...base, resources: { cpuMillis: 1, memoryBytes: 1, extended: { gpu: -1 } } },
      ItpErrorCode.INVALID_REQUEST,
    );
    await rejects({ id: 'x' }, ItpErrorCode.INVALID_REQUEST);
    const err = await pipeline()
      .place({ ...base, resources: { cpuMillis: -1, memoryBytes: 0 } })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ details: { argument: 'request.resources.cpuMillis' } });
  });

  it('malformed shapes are ITP_INVALID_REQUEST', async () => {
    await rejects(null, ItpErrorCode.INVALID_REQUEST);
    await rejects('vm', ItpErrorCode.INVALID_REQUEST);
    await rejects({ ...base, id: '' }, ItpErrorCode.INVALID_REQUEST);
    await rejects({ ...base, antiAffinity: { required: [{ scope: 'zone' }] } }, ItpErrorCode.INVALID_REQUEST);
    await rejects(
      { ...base, antiAffinity: { required: [{ scope: 'zone', group: 'g', selector: { matchLabels: { a: 'b' } } }] } },
      ItpErrorCode.INVALID_REQUEST,
    );
    await rejects(
      { ...base, antiAffinity: { required: [{ scope: 'zone', selector: {} }] } },
      ItpErrorCode.INVALID_REQUEST,
    );
    await rejects(
      { ...base, affinity: { preferred: [{ scope: 'zone', group: 'g', weight: 0 }] } },
      ItpErrorCode.INVALID_REQUEST,
    );
    await rejects(
      { ...base, affinity: { required: [{ scope: 'zone', group: 'g', weight: 5 }] } },
      ItpErrorCode.INVALID_REQUEST,
    );
    await rejects(
      {
        ...base,
        affinity: {
          required: [{ scope: 'zone', selector: { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] } }],
        },
      },
      ItpErrorCode.INVALID_REQUEST,
    );
    await rejects({ ...base, constraints: { maxCostPerHour: -1 } }, ItpErrorCode.INVALID_REQUEST);
    await rejects({ ...base, userRegions: { paris: 0 } }, ItpErrorCode.INVALID_REQUEST);
  });

  it('unknown topology keys are ITP_UNKNOWN_TOPOLOGY_KEY', async () => {
    await rejects(
      { ...base, antiAffinity: { required: [{ scope: 'datacenter', group: 'g' }] } },
      ItpErrorCode.UNKNOWN_TOPOLOGY_KEY,
    );
    // No host has a rack.
    await rejects(
      { ...base, antiAffinity: { required: [{ scope: 'rack', group: 'g' }] } },
      ItpErrorCode.UNKNOWN_TOPOLOGY_KEY,
    );
    await rejects({ ...base, constraints: { maxLatencyMs: { tokyo: 50 } } }, ItpErrorCode.UNKNOWN_TOPOLOGY_KEY);
    await rejects({ ...base, constraints: { regions: ['mars'] } }, ItpErrorCode.UNKNOWN_TOPOLOGY_KEY);
    await rejects({ ...base, userRegions: { tokyo: 1 } }, ItpErrorCode.UNKNOWN_TOPOLOGY_KEY);
    await rejects(
      { ...base, resources: { cpuMillis: 1, memoryBytes: 1, extended: { fpga: 1 } } },
      ItpErrorCode.UNKNOWN_TOPOLOGY_KEY,
    );
  });

  it('self-contradictory rules are ITP_IMPOSSIBLE_CONSTRAINTS', async () => {
    await rejects(
      {
        ...base,
        affinity: { required: [{ scope: 'host', group: 'g' }] },
        antiAffinity: { required: [{ scope: 'zone', group: 'g' }] },
      },
      ItpErrorCode.IMPOSSIBLE_CONSTRAINTS,
    );
    await rejects({ ...base, constraints: { regions: [] } }, ItpErrorCode.IMPOSSIBLE_CONSTRAINTS);
    await rejects({ ...base, constraints: { minUptime: 1.5 } }, ItpErrorCode.IMPOSSIBLE_CONSTRAINTS);
    // Same zone but a different host is satisfiable, so it is accepted.
    const d = await pipeline().place({
      ...base,
      group: 'g',
      affinity: { required: [{ scope: 'zone', group: 'g' }] },
      antiAffinity: { required: [{ scope: 'host', group: 'g' }] },
    });
    expect(d.hostId).toBeDefined();
  });

  it('a duplicate VM id is ITP_DUPLICATE_ID; bad inventories and configs are refused', async () => {
    const p = pipeline();
    await p.place(base);
    await expect(p.place(base)).rejects.toMatchObject({ code: ItpErrorCode.DUPLICATE_ID });
    expect(
      () => new PlacementPipeline({ hosts: [hosts[0]!, hosts[0]!], profiles: [resourceProfile('most-allocated')] }),
    ).toThrow(expect.objectContaining({ code: ItpErrorCode.DUPLICATE_ID }));
    expect(
      () =>
        new PlacementPipeline({
          hosts: [{ id: 'x', capacity: { cpuMillis: -5, memoryBytes: 0 } }],
          profiles: [resourceProfile('most-allocated')],
        }),
    ).toThrow(expect.objectContaining({ code: ItpErrorCode.INVALID_REQUEST }));
    expect(() => new PlacementPipeline({ hosts, profiles: [] })).toThrow(
      expect.objectContaining({ code: ItpErrorCode.INVALID_CONFIG }),
    );
    const chooser = new PlacementPipeline({
      hosts,
      profiles: [resourceProfile('most-allocated')],
      chooseProfile: () => 'nope',
    });
    await expect(chooser.place(base)).rejects.toMatchObject({ code: ItpErrorCode.INVALID_CONFIG });
  });
});
