import { isNovacronError } from '@novacron/core';
import { describe, expect, it } from 'vitest';
import { ComponentGraph, component, NodeErrorCode } from '../../src/index.js';

function recorder() {
  const events: string[] = [];
  const make = (name: string, dependsOn: string[] = [], opts: { failStart?: boolean; failStop?: boolean } = {}) =>
    component(name, {
      dependsOn,
      start: async () => {
        events.push(`start ${name}`);
        if (opts.failStart) throw new Error(`${name} broke`);
      },
      stop: async () => {
        events.push(`stop ${name}`);
        if (opts.failStop) throw new Error(`${name} stop broke`);
      },
    });
  return { events, make };
}

describe('ComponentGraph', () => {
  it('starts in dependency order and stops in reverse', async () => {
    const { events, make } = recorder();
    const g = new ComponentGraph([make('api', ['log', 'net']), make('log', ['net']), make('net')]);
    expect(g.levels()).toEqual([['net'], ['log'], ['api']]);
    await g.start();
    expect(events).toEqual(['start net', 'start log', 'start api']);
    expect(g.health().map((h) => [h.name, h.status, h.state])).toEqual([
      ['api', 'ok', 'started'],
      ['log', 'ok', 'started'],
      ['net', 'ok', 'started'],
    ]);
    await g.stop();
    expect(events.slice(3)).toEqual(['stop api', 'stop log', 'stop net']);
    expect(g.health().every((h) => h.status === 'down' && h.state === 'stopped')).toBe(true);
  });

  it('starts independent components in parallel', async () => {
    // Each start waits until the other has begun: a sequential start would never finish.
    let resolveA!: () => void;
    let resolveB!: () => void;
    const aBegun = new Promise<void>((r) => (resolveA = r));
    const bBegun = new Promise<void>((r) => (resolveB = r));
    const g = new ComponentGraph([
      component('a', {
        start: async () => {
          resolveA();
          await bBegun;
        },
      }),
      component('b', {
        start: async () => {
          resolveB();
          await aBegun;
        },
      }),
      component('c', { dependsOn: ['a', 'b'] }),
    ]);
    expect(g.levels()).toEqual([['a', 'b'], ['c']]);
    await g.start();
    expect(g.healthy()).toBe(true);
    await g.stop();
  });

  it('names a missing dependency', () => {
    const g = new ComponentGraph([component('api', { dependsOn: ['control-log'] })]);
    let err: unknown;
    try {
      g.levels();
    } catch (e) {
      err = e;
    }
    expect(isNovacronError(err, NodeErrorCode.COMPONENT_MISSING_DEPENDENCY)).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ component: 'api', missing: 'control-log' });
    expect(String((err as Error).message)).toContain('control-log');
  });

  it('names a cycle', async () => {
    const g = new ComponentGraph([
      component('a', { dependsOn: ['b'] }),
      component('b', { dependsOn: ['c'] }),
      component('c', { dependsOn: ['a'] }),
      component('d'),
    ]);
    await expect(g.start()).rejects.toMatchObject({
      code: NodeErrorCode.COMPONENT_CYCLE,
      details: { cycle: ['a', 'b', 'c', 'a'] },
    });
    expect(g.health().every((h) => h.state === 'new')).toBe(true);
  });

  it('rejects duplicate names', () => {
    expect(() => new ComponentGraph([component('a'), component('a')])).toThrow(
      expect.objectContaining({ code: NodeErrorCode.COMPONENT_DUPLICATE }),
    );
  });

  it('stops what started, in reverse, when a start fails', async () => {
    const { events, make } = recorder();
    const g = new ComponentGraph([
      make('net'),
      make('disk'),
      make('log', ['net', 'disk']),
      make('api', ['log'], { failStart: true }),
      make('cli', ['api']),
    ]);
    const err = await g.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: NodeErrorCode.COMPONENT_START_FAILED, details: { component: 'api' } });
    expect((err as Error).cause).toBeInstanceOf(Error);
    // api's own stop runs (it may hold half its resources), then the started ones in reverse.
    expect(events).toEqual([
      'start net',
      'start disk',
      'start log',
      'start api',
      'stop api',
      'stop log',
      'stop disk',
      'stop net',
    ]);
    expect(events).not.toContain('start cli');
    const states = Object.fromEntries(g.health().map((h) => [h.name, h.state]));
    expect(states).toEqual({ net: 'stopped', disk: 'stopped', log: 'stopped', api: 'failed', cli: 'new' });
  });

  it('stops every component even when one stop fails, then rethrows', async () => {
    const { events, make } = recorder();
    const g = new ComponentGraph([make('a'), make('b', ['a'], { failStop: true }), make('c', ['b'])]);
    await g.start();
    await expect(g.stop()).rejects.toThrow('b stop broke');
    expect(events.slice(3)).toEqual(['stop c', 'stop b', 'stop a']);
  });

  it('reports component health and reconfigures started components', async () => {
    const modes: string[] = [];
    let healthy = true;
    const g = new ComponentGraph([
      component('log', {
        health: () => (healthy ? { status: 'ok' } : { status: 'degraded', detail: 'no leader' }),
        reconfigure: (m) => void modes.push(`log:${m}`),
      }),
      component('api', { dependsOn: ['log'], reconfigure: (m) => void modes.push(`api:${m}`) }),
    ]);
    await g.start();
    healthy = false;
    expect(g.health()[0]).toMatchObject({ name: 'log', status: 'degraded', detail: 'no leader' });
    expect(g.healthy()).toBe(true);
    await g.reconfigure('internet');
    expect(modes.sort()).toEqual(['api:internet', 'log:internet']);
    await g.stop();
    expect(g.healthy()).toBe(false);
  });
  it('runs synchronous reconfigure hooks before returning, and waits only for asynchronous ones', async () => {
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const g = new ComponentGraph([
      component('a', { reconfigure: (m) => void seen.push(`a:${m}`) }),
      component('b', { reconfigure: (m) => void seen.push(`b:${m}`) }),
    ]);
    await g.start();
    expect(g.reconfigure('internet')).toBeUndefined();
    expect(seen).toEqual(['a:internet', 'b:internet']);
    const h = new ComponentGraph([
      component('a', { reconfigure: () => new Promise<void>((r) => (release = r)) }),
      component('b', {
        reconfigure: () => {
          throw new Error('boom');
        },
      }),
    ]);
    await h.start();
    await expect(h.reconfigure('datacenter')).rejects.toThrow('boom');
    release();
    await g.stop();
    await h.stop();
  });
});
