import { execFileSync } from 'node:child_process';
import { asNodeId } from '@novacron/core';
import { Nemesis, SimNetwork, SimWorld, parseSeed, replayCommand, runSeeds, seedsToRun } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';
import { simTest } from '@novacron/testkit/vitest';

/** Five chatty nodes on a lossy, jittery, duplicating, reordering network with a nemesis. */
async function chatter(seed: number | string, ms = 2000) {
  const world = new SimWorld({ seed });
  const ids = ['n0', 'n1', 'n2', 'n3', 'n4'];
  for (const id of ids) world.addNode(id);
  const net = new SimNetwork(world, {
    defaults: { latencyMs: 3, jitterMs: 4, loss: 0.05, duplicate: 0.05, reorder: 0.05, bytesPerSecond: 1_000_000 },
  });
  const received = new Map<string, number>();
  const boot = (id: string) => {
    const node = world.node(id);
    const ep = net.endpoint(id);
    ep.handle('chat', (from, data) => {
      received.set(id, (received.get(id) ?? 0) + data.byteLength);
      // Reply asynchronously, after a simulated processing delay.
      void node.clock.sleep(1).then(() => ep.send(from, 'ack', data.subarray(0, 1)));
    });
    ep.handle('ack', () => {});
    node.clock.setInterval(() => {
      const peers = ids.filter((p) => p !== id);
      for (const p of node.rng.shuffle(peers).slice(0, 2)) {
        ep.send(asNodeId(p), 'chat', node.rng.bytes(node.rng.int(1, 200)));
      }
    }, 10);
  };
  for (const id of ids) boot(id);
  world.onRestart((n) => boot(n.id));
  const nemesis = new Nemesis(world, { gapMs: { min: 20, max: 100 }, durationMs: { min: 20, max: 200 } });
  nemesis.start();
  await world.runFor(ms);
  return { hash: world.trace.hash(), count: world.trace.count, received: [...received], stats: net.stats };
}

describe('determinism', () => {
  it('the same seed gives the same trace hash, byte for byte, across two runs', async () => {
    const first = await chatter(12345);
    const second = await chatter(12345);
    expect(first.count).toBeGreaterThan(1000);
    expect(first.stats.dropped).toBeGreaterThan(0);
    expect(first.stats.duplicated).toBeGreaterThan(0);
    expect(second).toEqual(first);
  });

  it('different seeds give different traces', async () => {
    const hashes = new Set<string>();
    for (const seed of [1, 2, 3, 'three']) hashes.add((await chatter(seed, 500)).hash);
    expect(hashes.size).toBe(4);
  });

  it('string and number seeds are distinct but each reproducible', async () => {
    expect((await chatter('7', 300)).hash).toBe((await chatter('7', 300)).hash);
  });
});

describe('async code under SimWorld', () => {
  it('promise continuations run before the next event, even at the same instant', async () => {
    const world = new SimWorld({ seed: 1 });
    const node = world.addNode('a');
    const order: string[] = [];
    const task = async () => {
      await node.clock.sleep(10);
      order.push(`continuation@${world.now()}`);
      await Promise.resolve();
      order.push(`second-await@${world.now()}`);
    };
    void task();
    node.clock.setTimeout(() => order.push(`timer@${world.now()}`), 10);
    await world.runFor(20);
    expect(order).toEqual(['continuation@10', 'second-await@10', 'timer@10']);
  });

  it('a request/response over the network completes at the expected virtual time', async () => {
    const world = new SimWorld({ seed: 1 });
    world.addNode('client');
    world.addNode('server');
    const net = new SimNetwork(world, { defaults: { latencyMs: 5 } });
    const server = net.endpoint('server');
    const client = net.endpoint('client');
    server.handle('rpc', (from, data) => {
      void world
        .node('server')
        .clock.sleep(2)
        .then(() => server.send(from, 'rpc', Uint8Array.of(data[0]! + 1)));
    });
    const call = (x: number) =>
      new Promise<number>((resolve) => {
        client.handle('rpc', (_f, d) => resolve(d[0]!));
        client.send(asNodeId('server'), 'rpc', Uint8Array.of(x));
      });
    const results: [number, number][] = [];
    void (async () => {
      let x = 0;
      for (let i = 0; i < 3; i++) {
        x = await call(x);
        results.push([x, world.now()]);
      }
    })();
    const done = await world.runUntil(() => results.length === 3, 1000);
    expect(done).toBe(true);
    expect(results).toEqual([
      [1, 12],
      [2, 24],
      [3, 36],
    ]);
  });

  it('runUntil stops at the limit when the predicate never holds', async () => {
    const world = new SimWorld({ seed: 1 });
    const n = world.addNode('a');
    let ticks = 0;
    n.clock.setInterval(() => ticks++, 10);
    expect(await world.runUntil(() => false, 95)).toBe(false);
    expect(world.now()).toBe(95);
    expect(ticks).toBe(9);
  });
});

describe('seed replay', () => {
  it('seedsToRun: counts, lists, NOVACRON_SEEDS and NOVACRON_SEED', () => {
    expect(seedsToRun(3, {})).toEqual([1, 2, 3]);
    expect(seedsToRun([5, 'x'], {})).toEqual([5, 'x']);
    expect(seedsToRun(3, { NOVACRON_SEEDS: '5' })).toEqual([1, 2, 3, 4, 5]);
    expect(seedsToRun(3, { NOVACRON_SEED: '42' })).toEqual([42]);
    expect(seedsToRun([1, 2], { NOVACRON_SEED: 'abc' })).toEqual(['abc']);
    expect(() => seedsToRun(0, {})).toThrow();
    expect(() => seedsToRun(3, { NOVACRON_SEEDS: 'lots' })).toThrow();
    expect(parseSeed('007')).toBe(7);
    expect(parseSeed('99999999999999999999')).toBe('99999999999999999999');
  });

  it('replayCommand prints a one-line command with the name escaped for -t and the shell', () => {
    expect(
      replayCommand(123, { project: 'acp', file: 'packages/acp/test/unit/raft.test.ts', testName: 'elects a leader' }),
    ).toBe('NOVACRON_SEED=123 npx vitest run --project acp packages/acp/test/unit/raft.test.ts -t "elects a leader"');
    // What the shell hands vitest as -t must be a pattern matching exactly the original name.
    const name = 'costs $5 (max) "quoted" `tick` \\ [x]*';
    const cmd = replayCommand('a b', { file: 'x.test.ts', testName: name });
    expect(cmd.startsWith('NOVACRON_SEED="a b" npx vitest run x.test.ts -t "')).toBe(true);
    const arg = execFileSync('sh', ['-c', `printf '%s' ${cmd.slice(cmd.indexOf('-t ') + 3)}`], { encoding: 'utf8' });
    expect(new RegExp(arg).exec(`suite ${name}`)?.[0]).toBe(name);
  });

  it('runSeeds runs a fresh world per seed and, on failure, reports the seed and its replay command', async () => {
    const seen: (number | string)[] = [];
    const lines: string[] = [];
    const target = {
      project: 'testkit',
      file: 'packages/testkit/test/unit/determinism.test.ts',
      testName: 'fails on 3',
    };
    const err = await runSeeds({ seeds: 5, env: {}, report: (l) => lines.push(l) }, target, (world, seed) => {
      seen.push(seed);
      expect(world.seed).toBe(seed);
      expect(world.now()).toBe(0);
      if (seed === 3) throw new Error('boom');
    }).catch((e: Error) => e);
    expect(seen).toEqual([1, 2, 3]);
    expect(lines).toEqual([
      'seed: 3\nreplay: NOVACRON_SEED=3 npx vitest run --project testkit packages/testkit/test/unit/determinism.test.ts -t "fails on 3"',
    ]);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^boom\n\nseed: 3 .*\nreplay: NOVACRON_SEED=3 /);
  });

  it('with NOVACRON_SEED set, exactly that seed runs', async () => {
    const seen: (number | string)[] = [];
    await runSeeds({ seeds: 10, env: { NOVACRON_SEED: '8' } }, { file: 'f', testName: 't' }, (_w, s) => {
      seen.push(s);
    });
    expect(seen).toEqual([8]);
  });

  simTest('simTest gives each seed a fresh, seeded world', { seeds: 3 }, async (world, seed) => {
    expect(world.seed).toBe(seed);
    const n = world.addNode('a');
    let fired = 0;
    n.clock.setTimeout(() => fired++, 5);
    await world.runFor(10);
    expect(fired).toBe(1);
  });
});
