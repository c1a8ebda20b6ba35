import { SimWorld } from '@novacron/testkit';
import type { GossipConfig } from '../../src/index.js';
import { type ClusterOptions, percentile, startCluster } from './gossip-sim-harness.js';

/** Prints what a failing or interesting run needs to be replayed. */
function note(label: string, seed: number | string): void {
  if (process.env.GOSSIP_SIM_LOG) console.log(`${label} seed=${seed}`);
}

/** One crash-detection run: times (ms) from the crash, and from the first suspicion, until every member has the victim dead. */
export async function crashDetection(
  seed: number | string,
  n: number,
  config?: Partial<GossipConfig>,
): Promise<{ fromCrash: number; fromFirstSuspicion: number; falseDead: number }> {
  note(`crash n=${n}`, seed);
  const world = new SimWorld({ seed });
  const { members } = await startCluster(world, config ? { n, config } : { n });
  await world.runFor(world.rng.int(1000, 10_000));
  const victim = members[world.rng.int(0, n - 1)]!;
  const before = members.map((m) => m.events.length);
  const crashAt = world.now();
  world.crash(victim.id);
  const others = members.filter((m) => m !== victim);
  const ok = await world.runUntil(() => others.every((m) => m.gossip.member(victim.id)?.status === 'dead'), 120_000);
  if (!ok) throw new Error(`seed ${seed}: crash of ${victim.id} not detected everywhere within 120 s`);
  const after = members.flatMap((m, i) => m.events.slice(before[i]));
  const deadAt = Math.max(
    ...others.map((m) => m.events.findLast((e) => e.kind === 'dead' && e.member.id === victim.id)!.at),
  );
  const firstSuspect = Math.min(
    ...after.filter((e) => e.kind === 'suspect' && e.member.id === victim.id).map((e) => e.at),
  );
  const falseDead = after.filter(
    (e) => (e.kind === 'dead' || e.kind === 'suspect') && e.member.id !== victim.id,
  ).length;
  return { fromCrash: deadAt - crashAt, fromFirstSuspicion: deadAt - firstSuspect, falseDead };
}

/** Detection over `seeds` seeds, N cycling through 3..10. */
export async function crashDetectionSweep(seeds: number, first = 1, config?: Partial<GossipConfig>) {
  const fromCrash: number[] = [];
  const fromSuspicion: number[] = [];
  let falseDead = 0;
  // NOVACRON_SEED=<n> replays one seed of the sweep (N is derived from it).
  const only = process.env.NOVACRON_SEED;
  const list = only ? [Number(only)] : Array.from({ length: seeds }, (_, i) => first + i);
  for (const s of list) {
    const r = await crashDetection(s, 3 + (s % 8), config);
    if (process.env.GOSSIP_SIM_LOG) console.log(`crash seed=${s}: ${JSON.stringify(r)}`);
    fromCrash.push(r.fromCrash);
    fromSuspicion.push(r.fromFirstSuspicion);
    falseDead += r.falseDead;
  }
  return {
    fromCrash: { p50: percentile(fromCrash, 50), p99: percentile(fromCrash, 99), min: Math.min(...fromCrash) },
    fromSuspicion: { p50: percentile(fromSuspicion, 50), p99: percentile(fromSuspicion, 99) },
    falseDead,
  };
}

/** Time (ms) until 99 of 100 members have a user event, and a metadata update, broadcast by one member. */
export async function spread(
  seed: number | string,
  o: Partial<ClusterOptions> = {},
): Promise<{ event: number; update: number }> {
  note('spread', seed);
  const world = new SimWorld({ seed });
  const n = o.n ?? 100;
  const { members } = await startCluster(world, { n, link: { loss: 0.01 }, convergeMs: 120_000, ...o });
  await world.runFor(world.rng.int(1000, 5000));
  const origin = members[world.rng.int(0, n - 1)]!;
  const need = Math.ceil(n * 0.99);
  const got = new Map<string, number>();
  const updated = new Map<string, number>();
  for (const m of members) {
    m.gossip.onUserEvent((e) => {
      if (e.name === 'update') got.set(m.id, world.now());
    });
    m.gossip.onMember((e) => {
      if (e.kind === 'update' && e.member.id === origin.id) updated.set(m.id, world.now());
    });
  }
  updated.set(origin.id, world.now());
  const start = world.now();
  origin.gossip.broadcastEvent('update', new Uint8Array([1, 2, 3]));
  origin.gossip.updateMeta(new Uint8Array([9]));
  await world.runUntil(() => got.size >= need && updated.size >= need, 30_000);
  const at = (m: Map<string, number>) =>
    ([...m.values()].sort((a, b) => a - b)[need - 1] ?? Number.POSITIVE_INFINITY) - start;
  return { event: at(got), update: at(updated) };
}

/**
 * One member's event loop stalls for `stallMs` every 5 s for `durationMs`.
 * `inboundOnly` holds back only its message processing (timers keep
 * firing): Lifeguard's "slow message processing". Returns suspicions of
 * healthy members (everyone but the slow one), suspicions of the slow one
 * and dead declarations, summed over every member's view.
 */
export async function stallRun(
  seed: number | string,
  lifeguard: boolean,
  stallMs: number,
  inboundOnly: boolean,
  durationMs: number,
): Promise<{ healthySuspected: number; slowSuspected: number; dead: number }> {
  note(`stall lifeguard=${lifeguard} ${stallMs}ms inbound=${inboundOnly}`, seed);
  const world = new SimWorld({ seed });
  const { members } = await startCluster(world, { n: 10, config: { lifeguard } });
  const slow = members[world.rng.int(0, 9)]!;
  const every = 5000;
  const stall = () => {
    slow.loop.stall(stallMs, inboundOnly);
    world.schedule(every, stall);
  };
  world.schedule(world.rng.int(0, every), stall);
  const base = members.map((m) => m.events.length);
  await world.runFor(durationMs);
  let healthySuspected = 0;
  let slowSuspected = 0;
  let dead = 0;
  members.forEach((m, i) => {
    for (const e of m.events.slice(base[i])) {
      if (e.kind === 'suspect') {
        if (e.member.id === slow.id) slowSuspected++;
        else healthySuspected++;
      }
      if (e.kind === 'dead') dead++;
    }
  });
  return { healthySuspected, slowSuspected, dead };
}
