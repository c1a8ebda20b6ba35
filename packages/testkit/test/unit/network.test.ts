import { CoreErrorCode, asNodeId } from '@novacron/core';
import { type LinkConfig, SimNetwork, type SimNetworkOptions, SimWorld } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';

const A = asNodeId('a');
const B = asNodeId('b');

/** A world with nodes a, b, c and a network; `got` collects [time, seq] of deliveries at b on channel `t`. */
function setup(options: SimNetworkOptions = {}, seed: number | string = 1) {
  const world = new SimWorld({ seed, keepTrace: 100_000 });
  for (const id of ['a', 'b', 'c']) world.addNode(id);
  const net = new SimNetwork(world, options);
  const a = net.endpoint('a');
  const b = net.endpoint('b');
  const got: { at: number; seq: number; from: string }[] = [];
  b.handle('t', (from, data) => got.push({ at: world.now(), seq: seqOf(data), from }));
  return { world, net, a, b, got };
}

const msg = (seq: number, size = 4) => {
  const d = new Uint8Array(Math.max(4, size));
  new DataView(d.buffer).setUint32(0, seq);
  return d;
};
const seqOf = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset).getUint32(0);
const drops = (world: SimWorld, reason: string) =>
  world.trace.events.filter((e) => e.kind === 'drop' && e.fields.reason === reason).length;

describe('SimNetwork delivery and latency', () => {
  it('delivers after exactly the base latency when there is no jitter', async () => {
    const { world, a, got } = setup({ defaults: { latencyMs: 7 } });
    await world.runFor(3);
    a.send(B, 't', msg(1));
    await world.runFor(100);
    expect(got).toEqual([{ at: 10, seq: 1, from: 'a' }]);
  });

  it('records send and deliver with from, to, channel and size', async () => {
    const { world, a } = setup();
    a.send(B, 't', msg(1, 33));
    await world.runFor(10);
    const ev = world.trace.events.filter((e) => e.kind === 'send' || e.kind === 'deliver');
    expect(ev.map((e) => [e.kind, e.fields.from, e.fields.to, e.fields.channel, e.fields.size])).toEqual([
      ['send', 'a', 'b', 't', 33],
      ['deliver', 'a', 'b', 't', 33],
    ]);
  });

  for (const dist of ['uniform', 'normal', 'exponential'] as const) {
    it(`${dist} jitter stays within [latency, latency + jitter] and spreads out`, async () => {
      const { world, a, got } = setup({ defaults: { latencyMs: 20, jitterMs: 30, jitterDistribution: dist } });
      const sentAt = new Map<number, number>();
      for (let i = 0; i < 2000; i++) {
        sentAt.set(i, world.now());
        a.send(B, 't', msg(i));
        await world.runFor(1);
      }
      await world.runFor(100);
      expect(got).toHaveLength(2000);
      const delays = got.map((g) => g.at - sentAt.get(g.seq)!);
      const min = Math.min(...delays);
      const max = Math.max(...delays);
      const mean = delays.reduce((s, d) => s + d, 0) / delays.length;
      expect(min).toBeGreaterThanOrEqual(20);
      expect(max).toBeLessThanOrEqual(50);
      expect(max - min).toBeGreaterThan(10);
      // Each shape has its own centre: uniform ~35, normal ~35 (tight), exponential ~26.
      if (dist === 'exponential') expect(mean).toBeLessThan(30);
      else expect(Math.abs(mean - 35)).toBeLessThan(2);
    });
  }

  it('serialises messages at the link rate: each queues behind the previous one', async () => {
    // 1000 bytes at 100 kB/s = 10 ms on the wire each, plus 5 ms propagation.
    const { world, a, got } = setup({ defaults: { latencyMs: 5, bytesPerSecond: 100_000 } });
    for (let i = 0; i < 5; i++) a.send(B, 't', msg(i, 1000));
    await world.runFor(200);
    expect(got.map((g) => g.at)).toEqual([15, 25, 35, 45, 55]);
  });

  it('a link that was idle starts serialising at once', async () => {
    const { world, a, got } = setup({ defaults: { latencyMs: 0, bytesPerSecond: 1000 } });
    a.send(B, 't', msg(1, 10));
    await world.runFor(500);
    a.send(B, 't', msg(2, 10));
    await world.runFor(500);
    expect(got.map((g) => g.at)).toEqual([10, 510]);
  });

  it('each direction has its own serialisation queue', async () => {
    const { world, net, a, got } = setup({ defaults: { latencyMs: 0, bytesPerSecond: 1000 } });
    const atA: number[] = [];
    net.endpoint('a').handle('t', () => atA.push(world.now()));
    a.send(B, 't', msg(1, 100));
    net.endpoint('b').send(A, 't', msg(2, 100));
    await world.runFor(1000);
    expect(got.map((g) => g.at)).toEqual([100]);
    expect(atA).toEqual([100]);
  });
});

describe('SimNetwork loss, duplication, reordering', () => {
  it('loses roughly the configured fraction (fixed seed)', async () => {
    const { world, net, a, got } = setup({ defaults: { loss: 0.3 } }, 'loss');
    for (let i = 0; i < 10_000; i++) a.send(B, 't', msg(i));
    await world.runFor(10);
    expect(got.length / 10_000).toBeGreaterThan(0.67);
    expect(got.length / 10_000).toBeLessThan(0.73);
    expect(drops(world, 'loss')).toBe(10_000 - got.length);
    expect(net.stats).toMatchObject({ sent: 10_000, delivered: got.length, dropped: 10_000 - got.length });
  });

  it('with loss 0 nothing is lost', async () => {
    const { world, a, got } = setup();
    for (let i = 0; i < 1000; i++) a.send(B, 't', msg(i));
    await world.runFor(10);
    expect(got).toHaveLength(1000);
  });

  it('duplicates roughly the configured fraction, each copy delivered', async () => {
    const { world, net, a, got } = setup({ defaults: { duplicate: 0.2, jitterMs: 5 } }, 'dup');
    for (let i = 0; i < 5000; i++) a.send(B, 't', msg(i));
    await world.runFor(50);
    const counts = new Map<number, number>();
    for (const g of got) counts.set(g.seq, (counts.get(g.seq) ?? 0) + 1);
    expect(counts.size).toBe(5000);
    const twice = [...counts.values()].filter((c) => c === 2).length;
    expect([...counts.values()].every((c) => c === 1 || c === 2)).toBe(true);
    expect(twice / 5000).toBeGreaterThan(0.18);
    expect(twice / 5000).toBeLessThan(0.22);
    expect(net.stats.duplicated).toBe(twice);
  });

  it('reorders: held-back messages are overtaken, and without reordering order is kept', async () => {
    const inversions = async (reorder: number) => {
      const { world, a, got } = setup({ defaults: { latencyMs: 5, reorder, reorderDelayMs: 20 } }, 'reorder');
      for (let i = 0; i < 1000; i++) {
        a.send(B, 't', msg(i));
        await world.runFor(1);
      }
      await world.runFor(100);
      expect(got).toHaveLength(1000);
      let n = 0;
      for (let i = 1; i < got.length; i++) if (got[i]!.seq < got[i - 1]!.seq) n++;
      return n;
    };
    expect(await inversions(0)).toBe(0);
    const n = await inversions(0.1);
    // ~100 held back, each overtaken by later messages; each shows as at least one descent.
    expect(n).toBeGreaterThan(50);
    expect(n).toBeLessThan(150);
  });
});

describe('SimNetwork links and validation', () => {
  it('per-direction overrides apply to one direction, merge, and reset with null', async () => {
    const { world, net } = setup({ defaults: { latencyMs: 1 } });
    net.link('a', 'b', { latencyMs: 40 }, { oneWay: true });
    net.link('a', 'b', { loss: 0.5 }, { oneWay: true });
    expect(net.linkConfig('a', 'b')).toMatchObject({ latencyMs: 40, loss: 0.5 });
    expect(net.linkConfig('b', 'a').latencyMs).toBe(1);
    net.link('a', 'b', { jitterMs: 3 });
    expect(net.linkConfig('b', 'a')).toMatchObject({ latencyMs: 1, jitterMs: 3 });
    net.link('a', 'b', null);
    expect(net.linkConfig('a', 'b')).toEqual(net.linkConfig('a', 'c'));
    net.setDefaults({ latencyMs: 9 });
    expect(net.linkConfig('a', 'b').latencyMs).toBe(9);
    void world;
  });

  it('a link fault changes the link on every network of the world', async () => {
    const { world, a, got } = setup({ defaults: { latencyMs: 1 } });
    world.faults.inject({ kind: 'link', a: 'a', b: 'b', config: { latencyMs: 30 } });
    a.send(B, 't', msg(1));
    await world.runFor(100);
    expect(got[0]!.at).toBe(30);
  });

  it('rejects oversize payloads and bad arguments with CORE_INVALID_ARGUMENT', () => {
    const { a, net } = setup({ maxMessageSize: 16 });
    const invalid = expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT });
    expect(() => a.send(B, 't', new Uint8Array(17))).toThrow(invalid);
    expect(() => a.send(B, 't', new Uint8Array(16))).not.toThrow();
    expect(() => a.send(B, '', new Uint8Array(1))).toThrow(invalid);
    expect(() => a.send(B, 't', 'text' as never)).toThrow(invalid);
    expect(() => a.handle('t', 'nope' as never)).toThrow(invalid);
    expect(() => net.link('a', 'b', { loss: 2 })).toThrow(invalid);
    expect(() => net.link('a', 'b', { latencyMs: -1 })).toThrow(invalid);
    expect(() => net.link('a', 'b', { jitterDistribution: 'pareto' as never })).toThrow(invalid);
    expect(() => net.endpoint('nobody')).toThrow(invalid);
    const cfg: Partial<LinkConfig> = { bytesPerSecond: 0 };
    expect(() => net.setDefaults(cfg)).toThrow(invalid);
  });

  it('sends to unknown peers and unhandled channels are silent, traced drops', async () => {
    const { world, a } = setup();
    a.send(asNodeId('ghost'), 't', msg(1));
    a.send(B, 'unhandled', msg(2));
    await world.runFor(10);
    expect(drops(world, 'unknown-peer')).toBe(1);
    expect(drops(world, 'no-handler')).toBe(1);
  });
});

describe('SimNetwork partitions', () => {
  it('an asymmetric partition delivers A→B but not B→A', async () => {
    const { world, net, a, b, got } = setup();
    const atA: number[] = [];
    a.handle('t', (_f, d) => atA.push(seqOf(d)));
    world.faults.inject({ kind: 'one-way', from: ['b'], to: ['a'] });
    a.send(B, 't', msg(1));
    b.send(A, 't', msg(2));
    await world.runFor(10);
    expect(got.map((g) => g.seq)).toEqual([1]);
    expect(atA).toEqual([]);
    expect(drops(world, 'partition')).toBe(1);
    void net;
  });

  it('a symmetric partition blocks both ways until healed', async () => {
    const { world, a, b, got } = setup();
    const atA: number[] = [];
    a.handle('t', (_f, d) => atA.push(seqOf(d)));
    world.faults.inject({ kind: 'partition', groups: [['a'], ['b', 'c']] });
    a.send(B, 't', msg(1));
    b.send(A, 't', msg(2));
    await world.runFor(10);
    expect(got).toEqual([]);
    expect(atA).toEqual([]);
    world.faults.inject({ kind: 'heal' });
    a.send(B, 't', msg(3));
    b.send(A, 't', msg(4));
    await world.runFor(10);
    expect(got.map((g) => g.seq)).toEqual([3]);
    expect(atA).toEqual([4]);
  });

  it('a bridge node reaches both sides while the sides cannot reach each other', async () => {
    const { world, net } = setup();
    const seen: string[] = [];
    for (const id of ['a', 'b', 'c']) net.endpoint(id).handle('x', (from) => seen.push(`${from}>${id}`));
    world.faults.inject({ kind: 'bridge', bridge: 'b', left: ['a'], right: ['c'] });
    for (const from of ['a', 'b', 'c']) {
      for (const to of ['a', 'b', 'c']) if (from !== to) net.endpoint(from).send(asNodeId(to), 'x', msg(0));
    }
    await world.runFor(10);
    expect(seen.sort()).toEqual(['a>b', 'b>a', 'b>c', 'c>b']);
  });

  it('a partition that starts while a message is in flight drops it at delivery', async () => {
    const { world, a, got } = setup({ defaults: { latencyMs: 10 } });
    a.send(B, 't', msg(1));
    await world.runFor(5);
    world.partitions.isolate('b', ['a', 'c']);
    await world.runFor(10);
    expect(got).toEqual([]);
    expect(drops(world, 'partition')).toBe(1);
  });
});

describe('SimNetwork crash and restart', () => {
  it('drops messages in flight to a node that crashes', async () => {
    const { world, a, got } = setup({ defaults: { latencyMs: 10 } });
    a.send(B, 't', msg(1));
    await world.runFor(5);
    world.crash('b');
    await world.runFor(20);
    expect(got).toEqual([]);
    expect(drops(world, 'receiver-down')).toBe(1);
  });

  it('drops messages sent before a restart even if they arrive after it', async () => {
    const { world, net, a, got } = setup({ defaults: { latencyMs: 10 } });
    a.send(B, 't', msg(1));
    await world.runFor(2);
    world.crash('b');
    world.restart('b');
    net.endpoint('b').handle('t', (_f, d) => got.push({ at: world.now(), seq: seqOf(d), from: 'a' }));
    a.send(B, 't', msg(2));
    await world.runFor(20);
    expect(got.map((g) => g.seq)).toEqual([2]);
    expect(drops(world, 'receiver-restarted')).toBe(1);
  });

  it('a crash clears the node’s handlers: the restarted node must register again', async () => {
    const { world, net, a, got } = setup();
    world.crash('b');
    world.restart('b');
    a.send(B, 't', msg(1));
    await world.runFor(5);
    expect(got).toEqual([]);
    expect(drops(world, 'no-handler')).toBe(1);
    let after = 0;
    net.endpoint('b').handle('t', () => after++);
    a.send(B, 't', msg(2));
    await world.runFor(5);
    expect(after).toBe(1);
  });

  it('messages from a node that crashes after sending still arrive; a crashed node sends nothing', async () => {
    const { world, a, got } = setup({ defaults: { latencyMs: 10 } });
    a.send(B, 't', msg(1));
    world.crash('a');
    a.send(B, 't', msg(2));
    await world.runFor(20);
    expect(got.map((g) => g.seq)).toEqual([1]);
    expect(drops(world, 'sender-down')).toBe(1);
  });

  it('a crash stops the node’s timers; a restart does not bring them back', async () => {
    const { world } = setup();
    const node = world.node('b');
    let ticks = 0;
    node.clock.setInterval(() => ticks++, 10);
    let once = 0;
    node.clock.setTimeout(() => once++, 55);
    await world.runFor(35);
    expect(ticks).toBe(3);
    world.crash('b');
    await world.runFor(100);
    world.restart('b');
    await world.runFor(100);
    expect(ticks).toBe(3);
    expect(once).toBe(0);
    node.clock.setTimeout(() => once++, 5);
    await world.runFor(10);
    expect(once).toBe(1);
  });
});
