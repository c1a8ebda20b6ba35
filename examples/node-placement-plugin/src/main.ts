// A custom placement plugin: a score plugin that prefers hosts labelled
// `disk=nvme` for VMs labelled `io=heavy`, added to itp's bin-packing
// profile and registered with the node as the `io-aware` policy for the
// datacenter mode. The preview explains the decision plugin by plugin.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlacementContext, ScorePlugin } from '@novacron/core';
import { resourceProfile } from '@novacron/itp';
import { createNode } from '@novacron/node';

const preferNvme: ScorePlugin = {
  name: 'prefer-nvme',
  score(ctx: PlacementContext, host: number): number {
    if (ctx.request.labels?.io !== 'heavy') return 0;
    return ctx.snapshot.hosts[host]!.labels?.disk === 'nvme' ? 100 : 0;
  },
};

const ioAware = () => {
  const base = resourceProfile('most-allocated', { name: 'io-aware' });
  return { ...base, scorers: [...base.scorers, { plugin: preferNvme, weight: 3 }] };
};

const dataDir = mkdtempSync(join(tmpdir(), 'novacron-plugin-'));
const node = createNode(
  {
    node: { name: 'rack-a', dataDir, labels: { disk: 'nvme' } },
    network: { listen: '127.0.0.1:0' },
    api: { enabled: false },
    mode: { override: 'datacenter', profiles: { datacenter: { placementPolicy: 'io-aware' } } },
    log: { level: 'warn' },
  },
  { placementProfiles: { 'io-aware': ioAware } },
);
await node.start();
for (let i = 0; i < 100 && (await node.cluster.hosts().catch(() => [])).length === 0; i++)
  await new Promise((r) => setTimeout(r, 50));

const decision = await node.cluster.preview({
  id: 'pg-primary',
  resources: { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30 },
  labels: { io: 'heavy' },
});
console.log(`policy ${decision.explanation.profile}: ${decision.vmId} -> ${decision.hostId}`);
for (const s of decision.explanation.scores ?? [])
  console.log(`  ${s.hostId}: total ${s.total.toFixed(2)}`, s.byPlugin);
await node.stop();
rmSync(dataDir, { recursive: true, force: true });
// Scores are min-max normalised over the feasible hosts, so with one host every plugin's share is 0: the
// check is that the custom plugin took part in the decision.
if (
  decision.explanation.profile !== 'io-aware' ||
  !('prefer-nvme' in (decision.explanation.scores?.[0]?.byPlugin ?? {}))
)
  process.exit(1);
