import { CoreErrorCode, asNodeId } from '@novacron/core';
import { type Fault, Nemesis, SimNetwork, SimWorld, describeFault } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';

const invalid = expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT });

function world5(seed: number | string = 1) {
  const world = new SimWorld({ seed, keepTrace: 100_000 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) world.addNode(id);
  return world;
}

describe('fault schedule', () => {
  it('fires each fault at its virtual time, in list order for equal times', async () => {
    const world = world5();
    const net = new SimNetwork(world, { defaults: { latencyMs: 1 } });
    const got: number[] = [];
    net.endpoint('b').handle('t', () => got.push(world.now()));
    world.faults.schedule([
      { at: 100, fault: { kind: 'partition', groups: [['a'], ['b']] } },
      { at: 200, fault: { kind: 'heal' } },
      { at: 300, fault: { kind: 'crash', node: 'c' } },
      { at: 300, fault: { kind: 'restart', node: 'c' } },
      { at: 400, fault: { kind: 'crash', node: 'd' } },
    ]);
    const a = net.endpoint('a');
    for (const t of [50, 150, 250]) {
      await world.runFor(t - world.now());
      a.send(asNodeId('b'), 't', new Uint8Array(1));
    }
    await world.runFor(399 - world.now());
    expect(world.node('d').alive).toBe(true);
    await world.runFor(1);
    expect(world.node('d').alive).toBe(false);
    expect(got).toEqual([51, 251]);
    const faults = world.trace.events.filter((e) => e.kind === 'fault').map((e) => `${e.at}:${e.fields.kind}`);
    expect(faults).toEqual(['100:partition', '200:heal', '300:crash', '300:restart', '400:crash']);
    expect(world.node('c').alive).toBe(true);
    expect(world.node('c').incarnation).toBe(1);
  });

  it('the returned timer cancels faults not yet fired', async () => {
    const world = world5();
    const t = world.faults.schedule([
      { at: 10, fault: { kind: 'crash', node: 'a' } },
      { at: 20, fault: { kind: 'crash', node: 'b' } },
    ]);
    await world.runFor(15);
    t.cancel();
    await world.runFor(20);
    expect(world.node('a').alive).toBe(false);
    expect(world.node('b').alive).toBe(true);
  });

  it('rejects entries in the past and malformed faults', async () => {
    const world = world5();
    await world.runFor(50);
    expect(() => world.faults.schedule([{ at: 10, fault: { kind: 'heal' } }])).toThrow(invalid);
    expect(() => world.faults.schedule([{ at: 60, fault: null as never }])).toThrow(invalid);
    expect(() => world.faults.schedule('x' as never)).toThrow(invalid);
  });

  it('injecting a kind nobody handles fails loudly instead of doing nothing', () => {
    const world = world5();
    expect(() => world.faults.inject({ kind: 'reset-streams', a: 'a' })).toThrow(invalid);
    expect(() => world.faults.inject({ kind: 'link', a: 'a', b: 'b', config: { loss: 1 } })).toThrow(invalid);
    expect(() => world.faults.inject({ kind: 'crash', node: 'zz' })).toThrow(invalid);
  });
});

describe('fault handler registry', () => {
  it('runs every handler for a kind in registration order, until unregistered', () => {
    const world = world5();
    const calls: string[] = [];
    const off1 = world.faults.on('reset-streams', (f) => calls.push(`1:${f.a}-${f.b}`));
    world.faults.on('reset-streams', (f) => calls.push(`2:${f.a}-${f.b}`));
    expect(world.faults.handles('reset-streams')).toBe(true);
    world.faults.inject({ kind: 'reset-streams', a: 'a', b: 'b' });
    off1();
    world.faults.inject({ kind: 'reset-streams', a: 'c', b: 'd' });
    expect(calls).toEqual(['1:a-b', '2:a-b', '2:c-d']);
  });

  it('records each fault once in the trace with canonical fields', () => {
    const world = world5();
    const fault: Fault = {
      kind: 'partition',
      groups: [
        ['a', 'b', 'c'],
        ['d', 'e'],
      ],
    };
    world.faults.inject(fault);
    const ev = world.trace.events.filter((e) => e.kind === 'fault');
    expect(ev).toHaveLength(1);
    expect(ev[0]!.fields).toEqual({ kind: 'partition', groups: '[[a,b,c],[d,e]]' });
    expect(describeFault({ kind: 'link', a: 'a', b: 'b', config: { loss: 0.5, latencyMs: 3 } })).toBe(
      'kind=link a=a b=b config={latencyMs:3,loss:0.5}',
    );
  });

  it('isolate cuts the node off from every other node of the world', () => {
    const world = world5();
    world.faults.inject({ kind: 'isolate', node: 'c' });
    expect(world.reachable('c', 'a')).toBe(false);
    expect(world.reachable('e', 'c')).toBe(false);
    expect(world.reachable('a', 'e')).toBe(true);
  });
});

describe('Nemesis', () => {
  const run = async (seed: number | string, withNet = true) => {
    const world = world5(seed);
    if (withNet) new SimNetwork(world);
    const nemesis = new Nemesis(world, { gapMs: { min: 10, max: 50 }, durationMs: { min: 20, max: 80 } });
    nemesis.start();
    await world.runFor(5000);
    nemesis.stop();
    return { world, nemesis, log: nemesis.log.map((e) => `${e.at.toFixed(3)} ${describeFault(e.fault)}`) };
  };

  it('is deterministic per seed: same seed, same faults at the same times', async () => {
    const x = await run(42);
    const y = await run(42);
    expect(x.log.length).toBeGreaterThan(20);
    expect(x.log).toEqual(y.log);
    expect(x.world.trace.hash()).toBe(y.world.trace.hash());
  });

  it('draws different faults for different seeds', async () => {
    const x = await run(1);
    const y = await run(2);
    expect(x.log).not.toEqual(y.log);
  });

  it('draws every default kind it can, and link faults only when a network handles them', async () => {
    const { log } = await run(7);
    const kinds = new Set(log.map((l) => l.split(' ')[1]));
    for (const k of ['partition', 'one-way', 'bridge', 'isolate', 'crash', 'restart', 'heal', 'link']) {
      expect(kinds).toContain(`kind=${k}`);
    }
    const bare = await run(7, false);
    expect(bare.log.some((l) => l.includes('kind=link'))).toBe(false);
  });

  it('holds one fault at a time and undoes it: stop() leaves the world healed and up', async () => {
    const { world, nemesis } = await run(3);
    let open = 0;
    for (const e of nemesis.log) {
      const undo =
        e.fault.kind === 'heal' || e.fault.kind === 'restart' || (e.fault.kind === 'link' && e.fault.config === null);
      open += undo ? -1 : 1;
      expect(open === 0 || open === 1).toBe(true);
    }
    expect(open).toBe(0);
    expect(nemesis.active).toBeUndefined();
    expect(world.partitions.partitioned).toBe(false);
    expect(world.nodes.every((n) => n.alive)).toBe(true);
  });

  it('respects the chosen kinds and nodes', async () => {
    const world = world5(9);
    const nemesis = new Nemesis(world, { kinds: ['crash'], nodes: ['a', 'b'], gapMs: { min: 1, max: 5 } });
    nemesis.start();
    await world.runFor(3000);
    nemesis.stop();
    const nodes = new Set(nemesis.log.map((e) => (e.fault.kind === 'crash' ? e.fault.node : '')));
    expect(nemesis.log.every((e) => e.fault.kind === 'crash' || e.fault.kind === 'restart')).toBe(true);
    expect([...nodes].filter(Boolean).sort()).toEqual(['a', 'b']);
  });

  it('rejects bad options', () => {
    const world = world5();
    expect(() => new Nemesis(world, { kinds: ['meteor' as never] })).toThrow(invalid);
    expect(() => new Nemesis(world, { kinds: [] })).toThrow(invalid);
    expect(() => new Nemesis(world, { gapMs: { min: 5, max: 1 } })).toThrow(invalid);
    expect(() => new Nemesis(world, { kinds: ['bridge'], nodes: ['a', 'b'] }).start()).toThrow(invalid);
  });
});
