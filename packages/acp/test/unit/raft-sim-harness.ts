import { CoreErrorCode, decodeMsgpack, FileDurableLog, isNovacronError, type LogEntry } from '@novacron/core';
import {
  CrashConsistentFileIO,
  checkLinearizability,
  History,
  type KvInput,
  type KvOutput,
  kvModel,
  Nemesis,
  type NemesisFaultKind,
  SimNetwork,
  type SimWorld,
} from '@novacron/testkit';
import { expect } from 'vitest';
import { encodeKvCommand, FileSnapshotStore, KvStateMachine, RaftGroup } from '../../src/index.js';

/** Knobs of one simulated run. */
export interface RaftSimOptions {
  readonly nodes: number;
  /** Virtual ms of faulty operation, then a quiet period to converge. */
  readonly durationMs: number;
  readonly clients: number;
  readonly keys: number;
  readonly faults: readonly NemesisFaultKind[];
  /**
   * Add a spare member and keep changing membership during the faults
   * (add learner, promote, remove a voter — the leader included).
   */
  readonly membership?: boolean;
}

/**
 * The soak's knobs (test/slow, 10,000 seeds): longer faulty periods and
 * more clients than the CI suite. Also used to replay seeds the soak found.
 */
export function soakOptions(world: SimWorld): RaftSimOptions {
  return {
    nodes: world.rng.fork('size').pick([3, 5]),
    durationMs: 3_000,
    clients: 4,
    keys: 4,
    membership: world.rng.fork('membership').chance(0.5),
    faults: ['majority-minority', 'one-way', 'bridge', 'isolate', 'crash', 'link'],
  };
}

interface Member {
  group: RaftGroup;
  store: KvStateMachine;
}

const enc = (n: number) => new TextEncoder().encode(String(n));
const dec = (b: Uint8Array | null): number | null => (b === null ? null : Number(new TextDecoder().decode(b)));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * Runs a Raft cluster of `RaftGroup`s over a `SimNetwork` (latency,
 * jitter, loss, duplication, reordering) with crash-consistent disks (torn
 * writes on crash, slow fsync), a nemesis injecting partitions
 * (majority/minority, one-way, bridge, isolation), crashes with restarts
 * and link degradation, and clients doing get/put/cas. After every event
 * it checks Election Safety, Log Matching, Leader Completeness and State
 * Machine Safety; at the end it
 * checks the client history for linearizability and that every
 * acknowledged write is committed at its index on every member.
 */
export async function runRaftSimulation(world: SimWorld, o: RaftSimOptions): Promise<{ acked: number; ops: number }> {
  if (process.env.RAFT_SIM_STATS) console.log(`seed start ${world.seed}`);
  const rng = world.rng.fork('scenario');
  const initial = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const ids = o.membership ? [...initial, `n${o.nodes + 1}`] : initial;
  const net = new SimNetwork(world, {
    defaults: {
      latencyMs: rng.int(1, 5),
      jitterMs: rng.int(0, 8),
      loss: rng.pick([0, 0.01, 0.05]),
      duplicate: rng.pick([0, 0.02]),
      reorder: rng.pick([0, 0.05]),
      reorderDelayMs: 10,
    },
  });
  const slowDisk = rng.chance(0.3);
  const members = new Map<string, Member>();
  const disks = new Map<string, CrashConsistentFileIO>();
  const leaderOfTerm = new Map<number, string>();
  const seenLeader = new Set<string>();
  const committedTerm = new Map<number, number>();
  const appliedCmd = new Map<number, string>();
  const checkedCommit = new Map<string, number>();

  let installs = 0;
  const startMember = (id: string) => {
    const node = world.node(id);
    const log = new FileDurableLog({ io: disks.get(id)!, dir: '/raft/wal', segmentBytes: 8192 });
    const store = new KvStateMachine();
    const restore = store.restore.bind(store);
    store.restore = (b) => {
      installs++;
      restore(b);
    };
    const group = new RaftGroup({
      id,
      voters: initial,
      join: !initial.includes(id),
      network: net.endpoint(id),
      log,
      clock: node.clock,
      rng: node.rng.fork('raft'),
      stateMachine: store,
      tickMs: 10,
      electionTicks: 10,
      heartbeatTicks: 2,
      maxInflight: 8,
      proposeTimeoutMs: 2_000,
      // Frequent snapshots in tiny chunks: lagging and restarted members
      // catch up through chunked InstallSnapshot with resume.
      snapshots: new FileSnapshotStore({ io: disks.get(id)!, path: '/raft/snapshot', rng: node.rng.fork('snap') }),
      snapshotEvery: 25,
      snapshotChunkBytes: 64,
    });
    group.onCommitted((c) => {
      // State Machine Safety: no two members apply different commands at one index.
      const h = hex(c.command);
      const prev = appliedCmd.get(c.index);
      if (prev !== undefined && prev !== h) throw new Error(`state machine safety: index ${c.index} differs on ${id}`);
      appliedCmd.set(c.index, h);
    });
    members.set(id, { group, store });
    checkedCommit.set(id, 0);
    void group.start().catch(() => undefined);
  };

  for (const id of ids) {
    const node = world.addNode(id);
    disks.set(
      id,
      CrashConsistentFileIO.forNode(node, {
        tear: true,
        ...(slowDisk ? { latency: { writeMs: 0.05, syncMs: rng.int(1, 8) } } : {}),
      }),
    );
  }
  for (const id of ids) startMember(id);
  world.onRestart((node) => startMember(node.id));

  const live = () => ids.filter((id) => world.node(id).alive).map((id) => [id, members.get(id)!] as const);
  const started = (m: Member) => {
    try {
      return m.group.core;
    } catch {
      return undefined;
    }
  };

  // Log Matching, incrementally: every (index, term) ever held by any
  // member must carry the same data and follow the same previous term
  // (which, by induction, makes whole prefixes equal). A log changes only
  // at its ends (append, truncate a suffix, compact a prefix), so per member
  // only entries that are not the very objects already verified at that
  // position (with the same predecessor term) are looked at.
  const entrySig = new Map<string, string>();
  const verified = new WeakMap<RaftGroup['core']['log'], Map<number, { entry: LogEntry; prev: number | undefined }>>();
  const checkLogMatching = (id: string, log: RaftGroup['core']['log']) => {
    let seen = verified.get(log);
    if (!seen) {
      seen = new Map();
      verified.set(log, seen);
    }
    const first = log.firstIndex();
    const last = log.lastIndex();
    for (const i of seen.keys()) if (i < first || i > last) seen.delete(i);
    const entries = log.slice(first, last + 1);
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k]!;
      const i = first + k;
      const prev = log.term(i - 1);
      const known = seen.get(i);
      if (known !== undefined && known.entry === e && known.prev === prev) continue;
      const sig = `${prev}:${hex(e.data)}`;
      const key = `${i}:${e.term}`;
      const other = entrySig.get(key);
      if (other !== undefined && other !== sig)
        throw new Error(`log matching: entry ${key} on ${id} differs (previous term:data ${sig}, elsewhere ${other})`);
      entrySig.set(key, sig);
      seen.set(i, { entry: e, prev });
    }
  };

  const check = () => {
    const leaders: { id: string; core: RaftGroup['core'] }[] = [];
    for (const [id, m] of live()) {
      const core = started(m);
      if (!core) continue;
      checkLogMatching(id, core.log);
      // Election Safety: at most one leader per term.
      if (core.role === 'leader') {
        leaders.push({ id, core });
        const other = leaderOfTerm.get(core.term);
        if (other !== undefined && other !== id)
          throw new Error(`election safety: ${other} and ${id} lead term ${core.term}`);
        leaderOfTerm.set(core.term, id);
        const key = `${id}@${core.term}`;
        if (!seenLeader.has(key)) {
          seenLeader.add(key);
          // Leader Completeness: a new leader holds every committed entry.
          for (const [index, term] of committedTerm) {
            if (index <= core.log.snapshot().index) continue; // compacted into its snapshot
            if (core.log.term(index) !== term) {
              throw new Error(`leader completeness: ${id} (term ${core.term}) lacks committed entry ${index}/${term}`);
            }
          }
        }
      }
    }
    for (const [id, m] of live()) {
      const core = started(m);
      if (!core) continue;
      // Committed entries never change (a member's commit index covers them).
      const from = checkedCommit.get(id)!;
      for (let i = Math.max(from + 1, core.log.firstIndex()); i <= core.log.committed; i++) {
        const t = core.log.term(i)!;
        const known = committedTerm.get(i);
        if (known !== undefined && known !== t)
          throw new Error(`commit safety: ${id} committed ${i}/${t}, others ${known}`);
        if (known === undefined) {
          committedTerm.set(i, t);
          // Leader Completeness for entries learned committed after a
          // leader was first seen: every leader of its term or later holds it.
          for (const l of leaders) {
            if (l.core.term < t || i <= l.core.log.snapshot().index) continue;
            if (l.core.log.term(i) !== t)
              throw new Error(`leader completeness: ${l.id} (term ${l.core.term}) lacks committed entry ${i}/${t}`);
          }
        }
      }
      checkedCommit.set(id, core.log.committed);
    }
  };

  // Clients.
  const history = new History<KvInput, KvOutput>(world.clock);
  const acked: { index: number; command: string }[] = [];
  let counter = 0;
  let guess = ids[0]!;
  let stopClients = false;
  const lastSeen = new Map<string, number | null>();
  const client = async (c: number) => {
    const crng = rng.fork(`client-${c}`);
    while (!stopClients) {
      const key = `k${crng.int(0, o.keys - 1)}`;
      const r = crng.next();
      const input: KvInput =
        r < 0.4
          ? { op: 'get', key }
          : r < 0.8
            ? { op: 'put', key, value: ++counter }
            : { op: 'cas', key, expected: lastSeen.get(key) ?? null, value: ++counter };
      const target = world.node(guess).alive ? guess : crng.pick(ids);
      const member = members.get(target)!;
      const id = history.invoke(c, input);
      const timeout = world.clock.sleep(2_500).then(() => 'timeout' as const);
      const attempt = (async () => {
        if (!world.node(target).alive) throw new Error('down');
        if (input.op === 'get') {
          await member.group.read({ timeoutMs: 2_000 });
          return dec(member.store.get(key));
        }
        const cmd =
          input.op === 'put'
            ? encodeKvCommand({ op: 'put', key, value: enc(input.value as number) })
            : encodeKvCommand({
                op: 'cas',
                key,
                expected: input.expected === null ? null : enc(input.expected as number),
                value: enc(input.value as number),
              });
        const res = await member.group.propose(cmd, { timeoutMs: 2_000 });
        acked.push({ index: res.index, command: hex(cmd) });
        return input.op === 'put' ? undefined : (decodeMsgpack(res.result) as boolean);
      })();
      let outcome: unknown;
      try {
        outcome = await Promise.race([attempt, timeout]);
      } catch (err) {
        if (isNovacronError(err, CoreErrorCode.NOT_LEADER)) {
          const leader = (err.details as { leader?: string | null }).leader;
          guess = leader ?? crng.pick(ids);
          history.fail(id);
        } else if (
          (err instanceof Error && err.message === 'down') ||
          isNovacronError(err, CoreErrorCode.PROPOSAL_DROPPED) ||
          isNovacronError(err, CoreErrorCode.INVALID_STATE) ||
          input.op === 'get'
        ) {
          history.fail(id);
          guess = crng.pick(ids);
        } else {
          history.unknown(id);
          guess = crng.pick(ids);
        }
        await world.clock.sleep(crng.int(5, 30));
        continue;
      }
      if (outcome === 'timeout') {
        if (input.op === 'get') history.fail(id);
        else history.unknown(id);
        attempt.catch(() => undefined);
        guess = crng.pick(ids);
      } else {
        history.ok(id, outcome as KvOutput);
        if (input.op === 'get') lastSeen.set(key, outcome as number | null);
        if (input.op === 'put') lastSeen.set(key, input.value as number);
      }
      await world.clock.sleep(crng.int(0, 15));
    }
  };
  const clients = Array.from({ length: o.clients }, (_, c) => client(c));

  // Membership changes, one at a time, through whichever member leads.
  let changes = 0;
  let stopChanges = false;
  const reconfigure = async () => {
    const mrng = rng.fork('membership');
    while (!stopChanges) {
      await world.clock.sleep(mrng.int(50, 250));
      const leader = live().find(([, m]) => started(m)?.role === 'leader');
      if (!leader) continue;
      const core = started(leader[1])!;
      const { voters, learners } = core.membership;
      const outsider = ids.find((id) => !voters.includes(id) && !learners.includes(id));
      const change =
        learners.length > 0
          ? ({ type: 'promote', id: learners[0]! } as const)
          : outsider !== undefined
            ? ({ type: 'add-learner', id: outsider } as const)
            : ({ type: 'remove', id: mrng.pick(voters) } as const);
      try {
        await leader[1].group.changeMembership(change, { timeoutMs: 1_000 });
        changes++;
      } catch {
        // Busy, not leader any more, lagging learner, lost leadership: try again later.
      }
    }
  };
  const reconfigurer = o.membership ? reconfigure() : Promise.resolve();

  const nemesis = new Nemesis(world, {
    kinds: o.faults,
    gapMs: { min: 50, max: 400 },
    durationMs: { min: 50, max: 600 },
    degrade: { loss: 0.3, latencyMs: 30 },
  });
  if (o.faults.length > 0) nemesis.start();

  let events = 0;
  await world.runUntil(() => {
    events++;
    check();
    return false;
  }, o.durationMs);
  nemesis.stop();
  stopChanges = true;
  world.partitions.heal();
  for (const id of ids) if (!world.node(id).alive) world.restart(id);
  // Quiet period: faults healed, every member back; let the cluster converge.
  await world.runUntil(() => {
    events++;
    check();
    return false;
  }, 1_000);
  stopClients = true;
  let clientsDone = false;
  void Promise.all(clients).then(() => {
    clientsDone = true;
  });
  let reconfigured = false;
  void reconfigurer.then(() => {
    reconfigured = true;
  });
  await world.runUntil(() => {
    check();
    return clientsDone && reconfigured;
  }, 5_000);
  expect(clientsDone, 'clients finished').toBe(true);
  await world.runUntil(() => {
    check();
    return false;
  }, 1_000);
  if (process.env.RAFT_SIM_STATS) {
    console.log(
      `events ${events} snapshots ${live()
        .map(([id, m]) => `${id}:${started(m)?.snapshot?.index}`)
        .join(' ')} installs ${installs} changes ${changes}`,
    );
  }
  await Promise.all(clients);
  check();

  // A leader exists, everyone caught up, and every acknowledged write is
  // committed at its index on every member.
  const leaders = live().filter(([, m]) => started(m)?.role === 'leader');
  expect(
    leaders.length,
    `a leader after healing: ${JSON.stringify(live().map(([, m]) => ({ ...m.group.status(), voters: undefined, last: started(m)?.log.lastIndex(), alive: true })))}`,
  ).toBe(1);
  const lead = started(leaders[0]![1])!;
  const commit = lead.log.committed;
  const inConfig = new Set([...lead.voters, ...lead.learners]);
  for (const [id, m] of live()) {
    if (!inConfig.has(id)) continue; // removed: no longer replicated to
    const core = started(m)!;
    expect(core.log.committed, `${id} caught up`).toBe(commit);
    expect(m.group.status().appliedIndex, `${id} applied`).toBe(commit);
  }
  for (const a of acked) expect(appliedCmd.get(a.index), `acknowledged write at ${a.index}`).toBe(a.command);
  const result = checkLinearizability(kvModel, history);
  if (!result.ok) throw new Error(`not linearizable: ${result.explanation.message}`);
  return { acked: acked.length, ops: history.length };
}
