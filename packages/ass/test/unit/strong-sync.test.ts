import { MemoryDurableLog } from '@novacron/core';
import { RaftGroup } from '@novacron/acp';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';
import { stateSyncCompliance } from '@novacron/testkit/compliance/state-sync';
import { StrongSync, SyncStateMachine } from '../../src/index.js';

/** A 3-member Raft cluster on a lossy simulated network, one StrongSync per member. */
export function strongCluster(seed: string) {
  const world = new SimWorld({ seed });
  const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 2, loss: 0.01 } });
  const ids = ['a', 'b', 'c'];
  const replicas = ids.map((id) => {
    const node = world.addNode(id);
    const machine = new SyncStateMachine();
    const group = new RaftGroup({
      id,
      voters: ids,
      network: net.endpoint(id),
      log: new MemoryDurableLog(),
      clock: node.clock,
      rng: node.rng.fork('raft'),
      stateMachine: machine,
      tickMs: 10,
    });
    return new StrongSync({
      group,
      stateMachine: machine,
      network: net.endpoint(id),
      clock: node.clock,
      rng: node.rng.fork('sync'),
    });
  });
  return { world, replicas };
}

stateSyncCompliance('StrongSync over RaftGroup (simulated)', {
  setup() {
    const { world, replicas } = strongCluster('strong-compliance');
    return {
      replicas,
      strategy: 'strong',
      level: 'strong',
      run: <T>(p: Promise<T>) => simRun(world, p, 30_000),
      settle: () => simRun(world, world.clock.sleep(500), 1_000),
    };
  },
});
