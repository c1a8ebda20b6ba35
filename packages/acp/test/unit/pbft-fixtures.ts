import { MemoryDurableLog, NodeIdentity, type DurableLog, type ReplicatedStateMachine, type Rng } from '@novacron/core';
import type { SimNetwork, SimWorld } from '@novacron/testkit';
import { PbftGroup, type PbftOptions, type PbftReplicaInfo } from '../../src/index.js';

/** Deterministic identities from a seeded stream (tests only: real nodes use `NodeIdentity.generate`). */
export function identities(rng: Rng, n: number): NodeIdentity[] {
  return Array.from({ length: n }, () => NodeIdentity.fromSecretKey(rng.bytes(32)));
}

/** The replica list of a set of identities. */
export function roster(ids: readonly NodeIdentity[]): PbftReplicaInfo[] {
  return ids.map((i) => ({ id: i.nodeId, publicKey: i.publicKey }));
}

/** Builds one PBFT group member per identity on a simulated network (nodes must exist in the world). */
export function pbftMembers(
  world: SimWorld,
  net: SimNetwork,
  ids: readonly NodeIdentity[],
  machines: readonly ReplicatedStateMachine[],
  options: PbftOptions & { tickMs?: number; logs?: readonly DurableLog[] } = {},
): PbftGroup[] {
  const replicas = roster(ids);
  return ids.map(
    (identity, i) =>
      new PbftGroup({
        identity,
        replicas,
        network: net.endpoint(identity.nodeId),
        log: options.logs?.[i] ?? new MemoryDurableLog(),
        clock: world.node(identity.nodeId).clock,
        stateMachine: machines[i]!,
        tickMs: options.tickMs ?? 10,
        checkpointInterval: options.checkpointInterval ?? 8,
        viewChangeTicks: options.viewChangeTicks ?? 20,
        statusTicks: options.statusTicks ?? 4,
        ...options,
      }),
  );
}
