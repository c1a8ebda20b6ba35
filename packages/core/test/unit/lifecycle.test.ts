import { isStartable, type Startable, startAll, stopAll } from '@novacron/core';
import { describe, expect, it } from 'vitest';

type Hook = 'beforeStart' | 'start' | 'afterStart' | 'beforeStop' | 'stop' | 'afterStop';

/** A component that logs its hooks into `log` and can be told to fail one of them. */
function component(name: string, log: string[], failOn?: Hook, opts: { async?: boolean } = {}): Startable {
  const hook = (h: Hook) => () => {
    const run = () => {
      log.push(`${name}.${h}`);
      if (failOn === h) throw new Error(`${name}.${h} failed`);
    };
    if (opts.async) return Promise.resolve().then(run);
    run();
  };
  return {
    beforeStart: hook('beforeStart'),
    start: hook('start'),
    afterStart: hook('afterStart'),
    beforeStop: hook('beforeStop'),
    stop: hook('stop'),
    afterStop: hook('afterStop'),
  };
}

describe('isStartable', () => {
  it('needs both start and stop functions', () => {
    expect(isStartable({ start() {}, stop() {} })).toBe(true);
    expect(isStartable({ start() {} })).toBe(false);
    expect(isStartable({ start: 1, stop() {} })).toBe(false);
    for (const v of [null, undefined, 5, 'x', () => {}]) expect(isStartable(v)).toBe(false);
  });
});

describe('startAll', () => {
  it('runs each phase across all components in order, skipping non-startables', async () => {
    const log: string[] = [];
    await startAll([component('a', log), 'not a component', component('b', log, undefined, { async: true })]);
    expect(log).toEqual(['a.beforeStart', 'b.beforeStart', 'a.start', 'b.start', 'a.afterStart', 'b.afterStart']);
  });

  it('works with components that have no optional hooks', async () => {
    const log: string[] = [];
    await startAll([{ start: () => log.push('start'), stop: () => log.push('stop') }]);
    await stopAll([{ start: () => log.push('start'), stop: () => log.push('stop') }]);
    expect(log).toEqual(['start', 'stop']);
  });

  it('when a start fails, stops the components already started in reverse order and rethrows', async () => {
    const log: string[] = [];
    const parts = [
      component('a', log),
      component('b', log, undefined, { async: true }),
      component('c', log, 'start'),
      component('d', log),
    ];
    await expect(startAll(parts)).rejects.toThrow('c.start failed');
    expect(log).toEqual([
      'a.beforeStart',
      'b.beforeStart',
      'c.beforeStart',
      'd.beforeStart',
      'a.start',
      'b.start',
      'c.start',
      'b.beforeStop',
      'a.beforeStop',
      'b.stop',
      'a.stop',
      'b.afterStop',
      'a.afterStop',
    ]);
  });

  it('when an afterStart fails, stops every component in reverse order', async () => {
    const log: string[] = [];
    await expect(startAll([component('a', log), component('b', log, 'afterStart')])).rejects.toThrow(
      'b.afterStart failed',
    );
    expect(log.slice(log.indexOf('b.afterStart') + 1)).toEqual([
      'b.beforeStop',
      'a.beforeStop',
      'b.stop',
      'a.stop',
      'b.afterStop',
      'a.afterStop',
    ]);
  });

  it('rethrows the start error even when the rollback fails too', async () => {
    const log: string[] = [];
    await expect(startAll([component('a', log, 'stop'), component('b', log, 'start')])).rejects.toThrow(
      'b.start failed',
    );
    expect(log).toContain('a.stop');
  });

  it('when a beforeStart fails, starts nothing', async () => {
    const log: string[] = [];
    await expect(startAll([component('a', log), component('b', log, 'beforeStart')])).rejects.toThrow(
      'b.beforeStart failed',
    );
    expect(log.filter((l) => l.endsWith('.start'))).toEqual([]);
  });
});

describe('stopAll', () => {
  it('runs each phase in reverse order', async () => {
    const log: string[] = [];
    await stopAll([component('a', log), component('b', log, undefined, { async: true }), component('c', log)]);
    expect(log).toEqual([
      'c.beforeStop',
      'b.beforeStop',
      'a.beforeStop',
      'c.stop',
      'b.stop',
      'a.stop',
      'c.afterStop',
      'b.afterStop',
      'a.afterStop',
    ]);
  });

  it('carries on past failures and rethrows the first one', async () => {
    const log: string[] = [];
    const parts = [component('a', log, 'stop'), component('b', log, 'beforeStop'), component('c', log, 'stop')];
    await expect(stopAll(parts)).rejects.toThrow('b.beforeStop failed');
    expect(log.filter((l) => l.endsWith('.stop'))).toEqual(['c.stop', 'b.stop', 'a.stop']);
    expect(log.filter((l) => l.endsWith('.afterStop'))).toEqual(['c.afterStop', 'b.afterStop', 'a.afterStop']);
  });

  it('does not reorder the caller array', async () => {
    const log: string[] = [];
    const parts = [component('a', log), component('b', log)];
    const copy = [...parts];
    await stopAll(parts);
    expect(parts.every((p, i) => p === copy[i])).toBe(true);
  });
});
