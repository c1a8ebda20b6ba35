import { ManualClock } from '@novacron/core';
import { MemoryCapacityLedger, PlacementPipeline, resourceProfile } from '@novacron/itp';
import { capacityLedgerCompliance } from '@novacron/testkit/compliance/capacity-ledger';
import { placerCompliance } from '@novacron/testkit/compliance/placement';

for (const policy of ['most-allocated', 'least-allocated', 'dot-product', 'l2-alignment'] as const)
  placerCompliance(`pipeline (${policy})`, {
    setup: () => ({ build: (hosts) => new PlacementPipeline({ hosts, profiles: [resourceProfile(policy)] }) }),
  });

capacityLedgerCompliance('MemoryCapacityLedger', {
  setup: () => {
    const clock = new ManualClock();
    return { ledger: new MemoryCapacityLedger({ clock }), advance: (ms) => clock.advance(ms) };
  },
});
