import { type DurableLog, MemoryDurableLog } from '@novacron/core';
import { RaftGroup } from '@novacron/acp';
import { SimNetwork, type SimWorld } from '@novacron/testkit';
import { CrdtSync, HybridSync, StrongSync, SyncStateMachine } from '../../src/index.js';

/** One node of a simulated hybrid cluster. */
export interface HybridMember {
  readonly id: string;
  readonly sync: HybridSync;
  readonly machine: SyncStateMachine;
  readonly group: RaftGroup;
}

/** Options of {@link hybridCluster}. */
export interface HybridClusterOptions {
  readonly ids?: readonly string[];
  readonly deadlineMs?: number;
  readonly fallbackLeadMs?: number;
  readonly strongOnly?: readonly string[];
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly loss?: number;
  /** Storage per node and purpose (default a fresh MemoryDurableLog each start). */
  readonly log?: (id: string, purpose: 'raft' | 'crdt' | 'journal') => DurableLog;
}

/**
 * A simulated cluster where every node runs Raft, a StrongSync over it, a
 * CrdtSync and a HybridSync on top, on one lossy SimNetwork. `build(id)`
 * makes a node's components afresh (after a restart).
 */
export function hybridCluster(world: SimWorld, o: HybridClusterOptions = {}) {
  const ids = o.ids ?? ['a', 'b', 'c'];
  const net = new SimNetwork(world, {
    defaults: { latencyMs: o.latencyMs ?? 5, jitterMs: o.jitterMs ?? 3, loss: o.loss ?? 0 },
  });
  for (const id of ids) world.addNode(id);
  const members = new Map<string, HybridMember>();
  const build = (id: string): HybridMember => {
    const node = world.node(id);
    const machine = new SyncStateMachine();
    const log = o.log ?? (() => new MemoryDurableLog());
    const group = new RaftGroup({
      id,
      voters: ids,
      network: net.endpoint(id),
      log: log(id, 'raft'),
      clock: node.clock,
      rng: node.rng.fork(`raft-${node.incarnation}`),
      stateMachine: machine,
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: 2,
      proposeTimeoutMs: 1_000,
    });
    const strong = new StrongSync({
      group,
      stateMachine: machine,
      network: net.endpoint(id),
      clock: node.clock,
      rng: node.rng.fork(`strong-${node.incarnation}`),
      retryMs: 10,
    });
    const crdt = new CrdtSync({
      network: net.endpoint(id),
      peers: ids.filter((p) => p !== id),
      clock: node.clock,
      rng: node.rng.fork(`crdt-${node.incarnation}`),
      log: log(id, 'crdt'),
      antiEntropyMs: 100,
    });
    const sync = new HybridSync({
      strong,
      crdt,
      journal: log(id, 'journal'),
      clock: node.clock,
      ...(o.deadlineMs !== undefined ? { deadlineMs: o.deadlineMs } : {}),
      ...(o.fallbackLeadMs !== undefined ? { fallbackLeadMs: o.fallbackLeadMs } : {}),
      ...(o.strongOnly ? { strongOnly: o.strongOnly } : {}),
      replayRetryMs: 20,
      replayTimeoutMs: 500,
    });
    const m = { id, sync, machine, group };
    members.set(id, m);
    return m;
  };
  for (const id of ids) build(id);
  const leader = () => [...members.values()].find((m) => world.node(m.id).alive && m.group.status().role === 'leader');
  return { net, ids, members, build, leader };
}
