import { CoreErrorCode, isNovacronError, MemoryDurableLog, type ReplicatedStateMachine } from '@novacron/core';
import {
  checkLinearizability,
  History,
  type KvInput,
  type KvOutput,
  kvModel,
  SimNetwork,
  simRun,
} from '@novacron/testkit';
import { simTest } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';
import {
  type ConsensusProtocol,
  decodeKvCommand,
  encodeKvCommand,
  KvStateMachine,
  PbftErrorCode,
  PbftGroup,
  RaftGroup,
  SwitchingConsensusGroup,
  selectProtocol,
  tuneTimeouts,
} from '../../src/index.js';
import { identities, roster } from './pbft-fixtures.js';

describe('selectProtocol', () => {
  const m = (id: string, operator: string, exposed = false) => ({ id, operator, exposed });
  it('chooses Raft for one operator and PBFT across operators or with exposed members', () => {
    expect(selectProtocol({ members: [m('a', 'x'), m('b', 'x'), m('c', 'x')] }).protocol).toBe('raft');
    expect(selectProtocol({ members: [m('a', 'x'), m('b', 'y'), m('c', 'x'), m('d', 'x')] }).protocol).toBe('pbft');
    expect(selectProtocol({ members: [m('a', 'x'), m('b', 'x'), m('c', 'x'), m('d', 'x', true)] }).protocol).toBe(
      'pbft',
    );
    expect(
      selectProtocol({ members: [m('a', 'x'), m('b', 'y'), m('c', 'z'), m('d', 'w')], override: 'raft' }).protocol,
    ).toBe('raft');
  });

  it('refuses PBFT below four members and empty or duplicate member lists', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(err(() => selectProtocol({ members: [m('a', 'x'), m('b', 'y'), m('c', 'x')] }))).toMatchObject({
      code: PbftErrorCode.SELECTOR_INVALID,
    });
    expect(err(() => selectProtocol({ members: [] }))).toMatchObject({ code: PbftErrorCode.SELECTOR_INVALID });
    expect(err(() => selectProtocol({ members: [m('a', 'x'), m('a', 'x')] }))).toMatchObject({
      code: PbftErrorCode.SELECTOR_INVALID,
    });
  });

  it('tunes timeouts to measured latency (election ≥ 10 p99 RTT, view change ≥ 20 p99 RTT)', () => {
    for (const [p50, p99] of [
      [0.3, 1],
      [2, 8],
      [40, 120],
      [150, 600],
    ] as const) {
      const t = tuneTimeouts({ p50Ms: p50, p99Ms: p99 });
      expect(t.raft.electionTicks * t.raft.tickMs).toBeGreaterThanOrEqual(10 * p99);
      expect(t.raft.heartbeatTicks * t.raft.tickMs).toBeLessThan(t.raft.electionTicks * t.raft.tickMs);
      expect(t.pbft.viewChangeTicks * t.pbft.tickMs).toBeGreaterThanOrEqual(20 * p99);
    }
    const wan = tuneTimeouts({ p50Ms: 80, p99Ms: 200 });
    const lan = tuneTimeouts({ p50Ms: 0.5, p99Ms: 2 });
    expect(wan.raft.electionTicks * wan.raft.tickMs).toBeGreaterThan(lan.raft.electionTicks * lan.raft.tickMs);
  });
});

/** Counts how often each command reaches the user state machine (a duplicate apply is a bug). */
class CountingKv implements ReplicatedStateMachine {
  readonly kv = new KvStateMachine();
  readonly applied = new Map<string, number>();
  apply(command: Uint8Array, index: number): Uint8Array {
    const c = decodeKvCommand(command);
    if (c.op === 'put' || c.op === 'cas') {
      const key = new TextDecoder().decode(c.value);
      this.applied.set(key, (this.applied.get(key) ?? 0) + 1);
    }
    void index;
    return this.kv.apply(command);
  }
  snapshot(): Uint8Array {
    return this.kv.snapshot();
  }
  restore(s: Uint8Array): void {
    this.kv.restore(s);
  }
}

const enc = (n: number) => new TextEncoder().encode(String(n));
const dec = (b: Uint8Array | null): number | null => (b === null ? null : Number(new TextDecoder().decode(b)));

simTest(
  'switching Raft → PBFT → Raft under load loses and duplicates nothing (client history)',
  { seeds: 4, timeout: 300_000 },
  async (world) => {
    const rng = world.rng.fork('scenario');
    const net = new SimNetwork(world, { defaults: { latencyMs: 2, jitterMs: 3, loss: 0.01, duplicate: 0.01 } });
    const ids = identities(world.rng.fork('ids'), 4);
    const names = ids.map((i) => i.nodeId as string);
    const replicas = roster(ids);
    const machines = names.map(() => new CountingKv());
    const indexOf = new Map<number, string>();
    const members = names.map((name, k) => {
      const node = world.addNode(name);
      const g = new SwitchingConsensusGroup({
        id: name,
        network: net.endpoint(name),
        clock: node.clock,
        stateMachine: machines[k]!,
        initial: 'raft',
        retireMs: 2_000,
        factory: ({ epoch, protocol, network, stateMachine }) =>
          protocol === 'raft'
            ? new RaftGroup({
                id: name,
                voters: names,
                network,
                log: new MemoryDurableLog(),
                clock: node.clock,
                rng: node.rng.fork(`raft-${epoch}`),
                stateMachine,
                tickMs: 10,
              })
            : new PbftGroup({
                identity: ids[k]!,
                replicas,
                network,
                log: new MemoryDurableLog(),
                clock: node.clock,
                stateMachine,
                tickMs: 10,
                checkpointInterval: 8,
              }),
      });
      g.onCommitted((c) => {
        const h = Buffer.from(c.command).toString('hex');
        const prev = indexOf.get(c.index);
        if (prev !== undefined && prev !== h) throw new Error(`index ${c.index} differs on ${name}`);
        indexOf.set(c.index, h);
      });
      return g;
    });
    await simRun(world, Promise.all(members.map((m) => m.start())), 2_000);

    const history = new History<KvInput, KvOutput>(world.clock);
    const acked: { index: number; command: string }[] = [];
    let counter = 0;
    let stop = false;
    const client = async (c: number) => {
      const crng = rng.fork(`client-${c}`);
      let seq = 0;
      let target = 0;
      while (!stop) {
        const key = `k${crng.int(0, 2)}`;
        const input: KvInput = crng.chance(0.3) ? { op: 'get', key } : { op: 'put', key, value: ++counter };
        const session = { client: `c${c}`, seq: ++seq };
        const id = history.invoke(c, input);
        const deadline = world.now() + 3_000;
        let done = false;
        // Retry the same session until it answers: across a switch it must apply once.
        while (!done && world.now() < deadline) {
          const m = members[target]!;
          try {
            if (input.op === 'get') {
              await m.read({ timeoutMs: 500 });
              history.ok(id, dec(machines[target]!.kv.get(key)));
            } else {
              const cmd = encodeKvCommand({ op: 'put', key, value: enc(input.value as number) });
              const r = await m.propose(cmd, { session, timeoutMs: 500 });
              acked.push({ index: r.index, command: Buffer.from(cmd).toString('hex') });
              history.ok(id, undefined);
            }
            done = true;
          } catch (err) {
            if (isNovacronError(err, CoreErrorCode.NOT_LEADER)) {
              const leader = (err.details as { leader?: string | null }).leader;
              target = leader ? names.indexOf(leader) : crng.int(0, 3);
            } else target = crng.int(0, 3);
            await world.clock.sleep(crng.int(5, 20));
          }
        }
        if (!done) {
          if (input.op === 'get') history.fail(id);
          else history.unknown(id);
        }
        await world.clock.sleep(crng.int(0, 10));
      }
    };
    const clients = Array.from({ length: 3 }, (_, c) => client(c));

    const switcher = async (to: ConsensusProtocol) => {
      for (;;) {
        const leader = members.find((m) => m.status().leader === m.status().id) ?? members[0]!;
        try {
          return await leader.switchTo(to, { timeoutMs: 1_000 });
        } catch {
          await world.clock.sleep(20);
        }
      }
    };
    await simRun(world, world.clock.sleep(rng.int(200, 400)), 1_000);
    const first = await simRun(world, switcher('pbft'), 20_000);
    expect(first.epoch).toBe(1);
    await simRun(world, world.clock.sleep(rng.int(300, 600)), 1_000);
    const second = await simRun(world, switcher('raft'), 20_000);
    expect(second.epoch).toBe(2);
    await simRun(world, world.clock.sleep(rng.int(300, 600)), 1_000);
    stop = true;
    await simRun(world, Promise.all(clients), 20_000);
    await simRun(
      world,
      (async () => {
        while (new Set(members.map((m) => m.status().appliedIndex)).size > 1 || members.some((m) => m.epoch !== 2))
          await world.clock.sleep(20);
      })(),
      20_000,
    );
    for (const m of members) expect(m.protocol).toBe('raft');
    // Nothing lost: every acknowledged write is at its index; nothing applied twice on any member.
    for (const a of acked) expect(indexOf.get(a.index), `acknowledged write at ${a.index}`).toBe(a.command);
    for (const mc of machines) for (const [v, n] of mc.applied) expect(n, `value ${v} applied ${n} times`).toBe(1);
    const snaps = machines.map((mc) => Buffer.from(mc.snapshot()).toString('hex'));
    for (const s of snaps) expect(s).toBe(snaps[0]);
    expect(acked.length).toBeGreaterThan(10);
    const result = checkLinearizability(kvModel, history);
    if (!result.ok) throw new Error(`not linearizable: ${result.explanation.message}`);
    await Promise.all(members.map((m) => m.stop()));
  },
);
