/**
 * Simulated leader failover for the Raft benchmark: three `RaftGroup`s in a
 * testkit `SimWorld` (virtual time, loopback-like links), the leader
 * crashed at a random moment, then the virtual time until a survivor leads
 * and until a proposal through it commits. Same tick and election settings
 * as the real cluster, so the two distributions can be compared.
 */
import { encodeKvCommand, KvStateMachine, RaftGroup } from '@novacron/acp';
import { MemoryDurableLog } from '@novacron/core';
import { SimNetwork, SimWorld, simRun } from '@novacron/testkit';

const put = (key: string) => encodeKvCommand({ op: 'put', key, value: new Uint8Array(256) });

/** One failover: milliseconds from the crash to a new leader and to the first commit. */
export interface FailoverSample {
  readonly leaderMs: number;
  readonly commitMs: number;
}

/** Runs one simulated failover trial for `seed`. */
export async function simFailover(seed: number, tickMs: number, electionTicks: number): Promise<FailoverSample> {
  const world = new SimWorld({ seed: `raft-failover-${seed}` });
  // Loopback: ~0.05 ms one way with a little jitter.
  const net = new SimNetwork(world, { defaults: { latencyMs: 0.05, jitterMs: 0.1 } });
  const ids = ['a', 'b', 'c'];
  const groups = ids.map((id) => {
    const node = world.addNode(id);
    return new RaftGroup({
      id,
      voters: ids,
      network: net.endpoint(id),
      log: new MemoryDurableLog(),
      clock: node.clock,
      rng: node.rng.fork('raft'),
      stateMachine: new KvStateMachine(),
      tickMs,
      electionTicks,
    });
  });
  await simRun(world, Promise.all(groups.map((g) => g.start())), 1_000);
  const leaderOf = (gs: readonly RaftGroup[]) => gs.find((g) => g.status().role === 'leader');
  if (!(await world.runUntil(() => leaderOf(groups) !== undefined, 60_000))) throw new Error('no first leader');
  const old = leaderOf(groups)!;
  await simRun(world, old.propose(put('before')), 10_000);
  // Crash at a random phase of the tick and heartbeat cycle.
  await world.runFor(world.rng.int(0, electionTicks * tickMs - 1));
  const oldTerm = old.status().term;
  world.crash(old.status().id);
  const t0 = world.now();
  const survivors = groups.filter((g) => g !== old);
  const next = () => survivors.find((g) => g.status().role === 'leader' && g.status().term > oldTerm);
  if (!(await world.runUntil(() => next() !== undefined, 60_000))) throw new Error('no new leader');
  const leaderMs = world.now() - t0;
  await simRun(world, next()!.propose(put('after')), 10_000);
  const commitMs = world.now() - t0;
  await Promise.all(survivors.map((g) => g.stop()));
  return { leaderMs, commitMs };
}
