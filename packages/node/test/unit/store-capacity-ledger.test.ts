import { ManualClock } from '@novacron/core';
import { capacityLedgerCompliance } from '@novacron/testkit/compliance/capacity-ledger';
import { describe, expect, it } from 'vitest';
import { MemoryStrongStore, StoreCapacityLedger } from '../../src/index.js';

capacityLedgerCompliance(
  'StoreCapacityLedger over a strong store',
  {
    setup: () => {
      const clock = new ManualClock();
      const ledger = new StoreCapacityLedger({ store: new MemoryStrongStore(), now: () => clock.now(), idPrefix: 't' });
      return { ledger, advance: (ms: number) => clock.advance(ms) };
    },
  },
  { sequences: 300, seed: 12 },
);

describe('StoreCapacityLedger with two placers on one store', () => {
  it('never overcommits when placers race (compare-and-swap retries)', async () => {
    const store = new MemoryStrongStore();
    const a = new StoreCapacityLedger({ store, idPrefix: 'a' });
    const b = new StoreCapacityLedger({ store, idPrefix: 'b' });
    await a.addHost('h', { cpuMillis: 10_000, memoryBytes: 0 });
    const claim = [{ hostId: 'h', resources: { cpuMillis: 1000, memoryBytes: 0 } }];
    const attempts = Array.from({ length: 30 }, (_, i) =>
      (i % 2 ? a : b).reserve(claim, { ttlMs: 60_000 }).then(
        (r) => (i % 2 ? a : b).commit(r.id).then(() => true),
        () => false,
      ),
    );
    const ok = (await Promise.all(attempts)).filter(Boolean).length;
    expect(ok).toBe(10);
    const snap = await a.snapshot();
    expect(snap.hosts[0]!.committed.cpuMillis).toBe(10_000);
  });
});
