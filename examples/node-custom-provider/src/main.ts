// Runs a node on a custom provider (createNode's `provider` option): the
// audited provider above, wrapping the memory provider. Every VM the node
// starts shows up in the fsync'd audit log.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRng, systemClock } from '@novacron/core';
import { createNode } from '@novacron/node';
import { MemoryProvider } from '@novacron/providers';
import { AuditedProvider } from './audited-provider.js';

const dir = mkdtempSync(join(tmpdir(), 'novacron-custom-provider-'));
const capacity = { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 };
const provider = new AuditedProvider(
  new MemoryProvider({ clock: systemClock(), rng: seededRng(1), hosts: [{ id: 'audit-1', capacity }] }),
  join(dir, 'audit.jsonl'),
);
const node = createNode(
  {
    node: { name: 'audit-1', dataDir: dir, capacity },
    network: { listen: '127.0.0.1:0' },
    api: { enabled: false },
    log: { level: 'warn' },
  },
  { provider },
);
await node.start();
for (let i = 0; i < 100 && (await node.cluster.hosts().catch(() => [])).length === 0; i++)
  await new Promise((r) => setTimeout(r, 50));
await node.cluster.createVm({ id: 'ledger-db', resources: { cpuMillis: 1000, memoryBytes: 2 ** 30 } });
for (let i = 0; i < 100 && (await provider.listVms()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
await node.stop();
provider.close();
const audit = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
console.log(`audit log (${audit.length} records):\n${audit.join('\n')}`);
rmSync(dir, { recursive: true, force: true });
if (!audit.some((l) => l.includes('"op":"create"') && l.includes('ledger-db'))) process.exit(1);
