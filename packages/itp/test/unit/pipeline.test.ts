import { CoreErrorCode, ManualClock, type PlacementHost, type PlacementRequest } from '@novacron/core';
import {
  geographicProfile,
  hybridChooser,
  ItpErrorCode,
  ledgerBinding,
  MemoryCapacityLedger,
  PlacementPipeline,
  type PlacementProfile,
  resourceProfile,
} from '@novacron/itp';
import { describe, expect, it } from 'vitest';

const host = (id: string, cpu: number, extra: Partial<PlacementHost> = {}): PlacementHost => ({
  id,
  region: 'r',
  zone: 'z',
  capacity: { cpuMillis: cpu, memoryBytes: cpu * 1e6 },
  ...extra,
});
const vm = (id: string, cpu: number, extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  id,
  resources: { cpuMillis: cpu, memoryBytes: cpu * 1e6 },
  ...extra,
});

describe('built-in resource policies', () => {
  const hosts = [host('small', 2000), host('big', 8000)];
  it('most-allocated packs onto the fuller host; least-allocated spreads', async () => {
    const pack = new PlacementPipeline({ hosts, profiles: [resourceProfile('most-allocated')] });
    expect((await pack.place(vm('a', 1000))).hostId).toBe('small');
    expect((await pack.place(vm('b', 1000))).hostId).toBe('small');
    expect((await pack.place(vm('c', 1000))).hostId).toBe('big');
    const spread = new PlacementPipeline({ hosts, profiles: [resourceProfile('least-allocated')] });
    expect((await spread.place(vm('a', 1000))).hostId).toBe('big');
  });

  it('alignment scorers prefer the host whose free shape matches the demand', async () => {
    // Equal hosts, loaded differently: one has CPU left, the other memory.
    const shaped: PlacementHost[] = [
      { id: 'mem-free', capacity: { cpuMillis: 8000, memoryBytes: 8e9 } },
      { id: 'cpu-free', capacity: { cpuMillis: 8000, memoryBytes: 8e9 } },
    ];
    const cpuHeavy: PlacementRequest = { id: 'x', resources: { cpuMillis: 1500, memoryBytes: 0.2e9 } };
    for (const policy of ['dot-product', 'l2-alignment'] as const) {
      const p = new PlacementPipeline({ hosts: shaped, profiles: [resourceProfile(policy)] });
      p.snapshot.assign(
        { id: 'load-a', resources: { cpuMillis: 6000, memoryBytes: 1e9 } },
        Float64Array.of(6000, 1e9, 0, 0),
        0,
      );
      p.snapshot.assign(
        { id: 'load-b', resources: { cpuMillis: 1000, memoryBytes: 6e9 } },
        Float64Array.of(1000, 6e9, 0, 0),
        1,
      );
      expect((await p.place(cpuHeavy)).hostId, policy).toBe('cpu-free');
    }
  });

  it('preferred affinity and anti-affinity shift the choice without overriding capacity', async () => {
    const p = new PlacementPipeline({
      hosts: [host('h1', 4000), host('h2', 4000)],
      profiles: [resourceProfile('least-allocated', { affinityWeight: 100 })],
    });
    await p.place(vm('web', 100, { group: 'web' }));
    const d = await p.place(
      vm('cache', 100, { affinity: { preferred: [{ scope: 'host', group: 'web', weight: 50 }] } }),
      { explain: true },
    );
    expect(d.hostId).toBe('h1');
    expect(d.explanation.scores![0]!.byPlugin['preferred-affinity']).toBe(100);
    const e = await p.place(
      vm('far', 100, { antiAffinity: { preferred: [{ scope: 'host', group: 'web', weight: 50 }] } }),
    );
    expect(e.hostId).toBe('h2');
  });

  it('constraints filter by latency, uptime, cost, region and host labels, and say why', async () => {
    const hs: PlacementHost[] = [
      host('slow', 4000, { latencyMs: { paris: 80 }, uptime: { ratio: 0.999 }, costPerHour: 1 }),
      host('flaky', 4000, { latencyMs: { paris: 10 }, uptime: { ratio: 0.9 }, costPerHour: 1 }),
      host('pricey', 4000, { latencyMs: { paris: 10 }, uptime: { ratio: 0.999 }, costPerHour: 9 }),
      host('ok', 4000, { latencyMs: { paris: 10 }, uptime: { ratio: 0.999 }, costPerHour: 1, labels: { disk: 'ssd' } }),
      host('nolabel', 4000, { latencyMs: { paris: 10 }, uptime: { ratio: 0.999 }, costPerHour: 1 }),
    ];
    const p = new PlacementPipeline({ hosts: hs, profiles: [resourceProfile('most-allocated')] });
    const d = await p.place(
      vm('v', 100, {
        constraints: {
          maxLatencyMs: { paris: 20 },
          minUptime: 0.99,
          maxCostPerHour: 2,
          hostSelector: { matchLabels: { disk: 'ssd' } },
        },
      }),
      { explain: true },
    );
    expect(d.hostId).toBe('ok');
    const why = Object.fromEntries(d.explanation.filtered!.map((f) => [f.hostId, f.reason]));
    expect(why).toEqual({
      slow: 'latency to paris above limit',
      flaky: 'uptime below minimum',
      pricey: 'cost above budget',
      nolabel: 'host labels do not match',
    });
  });
});

describe('affinity', () => {
  const zoned = ['a', 'b', 'c'].flatMap((z) =>
    [0, 1].map((i) => host(`${z}${i}`, 4000, { zone: z, rack: `${z}-k${i}` })),
  );

  it('required affinity to peers that do not exist yet fails fast unless the VM is its own peer', async () => {
    const p = new PlacementPipeline({ hosts: zoned, profiles: [resourceProfile('most-allocated')] });
    const d = await p.place(vm('x', 100, { affinity: { required: [{ scope: 'zone', group: 'db' }] } }));
    expect(d.hostId).toBeUndefined();
    expect(d.explanation.rejectedBy?.plugin).toBe('required-affinity');
    const first = await p.place(
      vm('db0', 100, { group: 'db', affinity: { required: [{ scope: 'zone', group: 'db' }] } }),
    );
    expect(first.hostId).toBeDefined();
  });

  it('selector terms see VMs placed before the selector was first used', async () => {
    const p = new PlacementPipeline({ hosts: zoned, profiles: [resourceProfile('most-allocated')] });
    const a = await p.place(vm('a', 100, { labels: { app: 'kafka', tier: 'data' } }));
    const zone = p.snapshot.domainOf(p.snapshot.indexOf(a.hostId!), 'zone');
    const d = await p.place(
      vm('b', 100, {
        antiAffinity: {
          required: [
            {
              scope: 'zone',
              selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['kafka', 'zk'] }] },
            },
          ],
        },
      }),
    );
    expect(p.snapshot.domainOf(p.snapshot.indexOf(d.hostId!), 'zone')).not.toBe(zone);
    // And the index follows later arrivals and departures.
    p.remove('a');
    const c = await p.place(vm('c', 100, { labels: { app: 'zk' } }));
    expect(p.snapshot.domainOf(p.snapshot.indexOf(c.hostId!), 'zone')).not.toBe(
      p.snapshot.domainOf(p.snapshot.indexOf(d.hostId!), 'zone'),
    );
  });

  it('rack-scoped anti-affinity distinguishes racks of the same name in different zones', async () => {
    const hs = ['a', 'b'].map((z) => host(`${z}`, 4000, { zone: z, rack: 'k1' }));
    const p = new PlacementPipeline({ hosts: hs, profiles: [resourceProfile('most-allocated')] });
    const rule = { antiAffinity: { required: [{ scope: 'rack' as const, group: 'g' }] }, group: 'g' };
    expect((await p.place(vm('1', 100, rule))).hostId).toBeDefined();
    expect((await p.place(vm('2', 100, rule))).hostId).toBeDefined();
    expect((await p.place(vm('3', 100, rule))).hostId).toBeUndefined();
  });
});

describe('gang placement, reservations and binding', () => {
  it('a gang is placed whole or not at all', async () => {
    const p = new PlacementPipeline({
      hosts: [host('h1', 4000), host('h2', 4000)],
      profiles: [resourceProfile('most-allocated')],
    });
    const rule = { group: 'g', antiAffinity: { required: [{ scope: 'host' as const, group: 'g' }] } };
    await expect(p.placeGang([vm('g1', 100, rule), vm('g2', 100, rule), vm('g3', 100, rule)])).rejects.toMatchObject({
      code: ItpErrorCode.GANG_UNSCHEDULABLE,
      details: { vmId: 'g3', placed: 2 },
    });
    expect(p.snapshot.vms.size).toBe(0);
    const ok = await p.placeGang([vm('g1', 100, rule), vm('g2', 100, rule)]);
    expect(new Set(ok.map((d) => d.hostId)).size).toBe(2);
  });

  it('places through a capacity ledger; a ledger refusal undoes the placement', async () => {
    const clock = new ManualClock();
    const ledger = new MemoryCapacityLedger({ clock });
    const hs = [host('h1', 4000), host('h2', 4000)];
    for (const h of hs) await ledger.addHost(h.id, h.capacity);
    const binding = ledgerBinding(ledger, { ttlMs: 1000 });
    const profile: PlacementProfile = {
      ...resourceProfile('most-allocated'),
      reservers: [binding.reserve],
      binders: [binding.bind],
    };
    const p = new PlacementPipeline({ hosts: hs, profiles: [profile] });
    const d = await p.place(vm('a', 1000));
    expect((await ledger.available(d.hostId!)).cpuMillis).toBe(3000);
    expect((await ledger.snapshot()).reservations).toEqual([]);
    // Another placer takes all of h1 behind this pipeline's back.
    await ledger.reserve([{ hostId: 'h1', resources: { cpuMillis: 3000, memoryBytes: 0 } }], { ttlMs: 10_000 });
    await expect(p.place(vm('b', 1000))).rejects.toMatchObject({ code: CoreErrorCode.LEDGER_INSUFFICIENT });
    expect(p.snapshot.vm('b')).toBeUndefined();
    expect(p.snapshot.used(0, 0)).toBe(1000);
  });

  it('a failing bind rolls the ledger reservation back', async () => {
    const clock = new ManualClock();
    const ledger = new MemoryCapacityLedger({ clock });
    await ledger.addHost('h1', { cpuMillis: 4000, memoryBytes: 4e9 });
    const binding = ledgerBinding(ledger, { ttlMs: 1000 });
    const failing = { name: 'provider', bind: () => Promise.reject(new Error('provider down')) };
    const profile: PlacementProfile = {
      ...resourceProfile('most-allocated'),
      reservers: [binding.reserve],
      binders: [failing],
    };
    const p = new PlacementPipeline({ hosts: [host('h1', 4000)], profiles: [profile] });
    const before = await ledger.snapshot();
    await expect(p.place(vm('a', 1000))).rejects.toThrow('provider down');
    expect(await ledger.snapshot()).toEqual(before);
    expect(p.snapshot.vms.size).toBe(0);
  });
});

describe('hybrid chooser', () => {
  it('chooses by class first, then network mode, then the fallback', async () => {
    const hs = [
      host('cheap-far', 8000, { latencyMs: { paris: 120 }, uptime: { ratio: 0.999 }, costPerHour: 0.5 }),
      host('near', 2000, { latencyMs: { paris: 8 }, uptime: { ratio: 0.999 }, costPerHour: 1 }),
    ];
    const p = new PlacementPipeline({
      hosts: hs,
      profiles: [
        resourceProfile('most-allocated', { name: 'pack' }),
        resourceProfile('least-allocated', { name: 'spread' }),
        geographicProfile(),
      ],
      chooseProfile: hybridChooser({
        byClass: { batch: 'pack' },
        byMode: { internet: 'geographic', datacenter: 'spread' },
        fallback: 'pack',
      }),
    });
    const geo = await p.decide(vm('a', 100, { networkMode: 'internet', userRegions: { paris: 1 } }));
    expect(geo.explanation.profile).toBe('geographic');
    expect(geo.hostId).toBe('near');
    const batch = p.decide(vm('b', 100, { networkMode: 'internet', vmClass: 'batch', userRegions: { paris: 1 } }));
    expect(batch.explanation.profile).toBe('pack');
    expect(batch.hostId).toBe('near');
    expect(p.decide(vm('c', 100, { networkMode: 'datacenter' })).explanation.profile).toBe('spread');
    expect(p.decide(vm('d', 100)).explanation.profile).toBe('pack');
  });
});
