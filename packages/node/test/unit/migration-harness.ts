import { MemoryNetwork, MemoryTransport } from '@novacron/amst';
import { seededRng, systemClock, type VmProvider } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import type { ControlMessage, MigrationControl } from '../../src/migration/control-channel.js';
import { MigrationDestination } from '../../src/migration/migration-destination.js';
import { MigrationRates } from '../../src/migration/migration-rates.js';
import type { StreamHeader } from '../../src/migration/migration-wire.js';
import {
  type MigrationEngineConfig,
  MigrationSource,
  type MigrationSourceInit,
} from '../../src/migration/migration-source.js';

export const MiB = 1024 * 1024;

export const engineConfig = (o: Partial<MigrationEngineConfig> = {}): MigrationEngineConfig => ({
  downtimeBudgetMs: 300,
  maxRounds: 30,
  autoConverge: true,
  throttleSteps: [0.5, 0.25, 0.1, 0.02],
  postCopy: true,
  switchoverCostMs: 5,
  batchPages: 256,
  postCopyStreamPages: 64,
  lanes: 2,
  chunkBytes: 64 * 1024,
  codec: 'lz4',
  verifyDigest: true,
  resumeWindowMs: 2_000,
  ...o,
});

/** Two in-process control endpoints joined to each other. */
export function controlPair(): { a: MigrationControl; b: MigrationControl } {
  const handlers = {
    a: new Set<(f: string, m: ControlMessage) => void>(),
    b: new Set<(f: string, m: ControlMessage) => void>(),
  };
  const end = (me: 'a' | 'b', other: 'a' | 'b'): MigrationControl => ({
    send: (_to, m) =>
      queueMicrotask(() => {
        for (const h of handlers[other]) h(me, m);
      }),
    onMessage: (h) => {
      handlers[me].add(h);
      return () => handlers[me].delete(h);
    },
  });
  return { a: end('a', 'b'), b: end('b', 'a') };
}

/** A source and a destination provider joined by a memory transport, with a destination receiver running. */
export async function twoSides(
  opts: {
    dirtyBytesPerSecond?: number;
    workingSetBytes?: number;
    memoryBytes?: number;
    admit?: (h: StreamHeader) => Promise<void>;
  } = {},
) {
  const clock = systemClock();
  const net = new MemoryNetwork();
  const src = new MemoryProvider({
    clock,
    rng: seededRng('src'),
    hosts: [{ id: 'A', capacity: { cpuMillis: 8000, memoryBytes: 1 << 30 } }],
  });
  const dst = new MemoryProvider({
    clock,
    rng: seededRng('dst'),
    hosts: [{ id: 'B', capacity: { cpuMillis: 8000, memoryBytes: 1 << 30 } }],
  });
  const memoryBytes = opts.memoryBytes ?? 4 * MiB;
  const image = new Uint8Array(memoryBytes / 2);
  const noise = seededRng('image').bytes(image.length / 4);
  // Half the pages hold data that compresses somewhat, the other half are zero.
  for (let i = 0; i < noise.length; i++) image[i * 4] = noise[i]!;
  const config = {
    dirtyBytesPerSecond: opts.dirtyBytesPerSecond ?? 0,
    ...(opts.workingSetBytes !== undefined ? { workingSetBytes: opts.workingSetBytes } : {}),
  };
  await src.createVm({
    spec: { id: 'vm1', resources: { cpuMillis: 1000, memoryBytes } },
    hostId: 'A',
    config: { ...config, image },
  });
  await src.startVm('vm1');
  const control = controlPair();
  const destination = new MigrationDestination({
    transport: new MemoryTransport({ network: net, host: 'b' }),
    listenAddress: 'b:0',
    provider: dst,
    hostId: 'B',
    control: control.b,
    clock,
    ...(opts.admit ? { admit: opts.admit } : {}),
  });
  await destination.start();
  const rates = new MigrationRates({ bytesPerSecond: 0 });
  const source = (o: Partial<MigrationSourceInit> & { config?: MigrationEngineConfig } = {}) =>
    new MigrationSource({
      id: 'm1',
      vmId: 'vm1',
      sourceNode: 'a',
      destinationNode: 'b',
      destinationAddress: destination.address!,
      provider: src,
      vmConfig: config,
      transport: new MemoryTransport({ network: net, host: 'a' }),
      control: control.a,
      rates,
      clock,
      mode: 'datacenter',
      config: engineConfig(),
      commit: async () => {
        await dst.resumeVm('vm1');
        return { committed: true, resumedAt: Date.now() };
      },
      abandon: async () => true,
      ...o,
    });
  return { clock, src, dst, destination, rates, source, control, close: () => destination.stop() };
}

export async function stateOf(p: VmProvider, id: string): Promise<string | undefined> {
  return (await p.getVm(id).catch(() => undefined))?.state;
}
