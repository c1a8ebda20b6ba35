import { LOG_LEVELS, type LogLevel, type LogRecord, memoryLogger, noopLogger, sinkLogger } from '@novacron/core';
import { describe, expect, it } from 'vitest';

const LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

describe('LOG_LEVELS', () => {
  it('ranks levels from trace to error', () => {
    const ranks = LEVELS.map((l) => LOG_LEVELS[l]);
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
    expect(new Set(ranks).size).toBe(5);
  });
});

describe('sinkLogger', () => {
  it('keeps records at or above its level and reports enabled() to match', () => {
    for (const level of LEVELS) {
      const records: LogRecord[] = [];
      const log = sinkLogger((r) => records.push(r), level, 'amst');
      for (const l of LEVELS) log[l](`m-${l}`, { l });
      const kept = LEVELS.filter((l) => LOG_LEVELS[l] >= LOG_LEVELS[level]);
      expect(records.map((r) => r.level)).toEqual(kept);
      for (const l of LEVELS) expect(log.enabled(l)).toBe(kept.includes(l));
      expect(records[0]).toEqual({ level: kept[0], scope: 'amst', message: `m-${kept[0]}`, fields: { l: kept[0] } });
    }
  });

  it('defaults to info, an empty scope and empty fields', () => {
    const records: LogRecord[] = [];
    const log = sinkLogger((r) => records.push(r));
    log.debug('hidden');
    log.info('shown');
    expect(records).toEqual([{ level: 'info', scope: '', message: 'shown', fields: {} }]);
    expect(log.scope).toBe('');
  });

  it('children extend the scope with dots and share the sink and level', () => {
    const records: LogRecord[] = [];
    const root = sinkLogger((r) => records.push(r), 'warn');
    const lane = root.child('amst').child('lane');
    expect(lane.scope).toBe('amst.lane');
    lane.info('dropped');
    lane.warn('kept');
    expect(records).toEqual([{ level: 'warn', scope: 'amst.lane', message: 'kept', fields: {} }]);
    expect(lane.enabled('info')).toBe(false);
  });
});

describe('memoryLogger', () => {
  it('keeps every record from trace by default, in order', () => {
    const log = memoryLogger();
    log.trace('a');
    log.child('x').error('b', { code: 1 });
    expect(log.records).toEqual([
      { level: 'trace', scope: '', message: 'a', fields: {} },
      { level: 'error', scope: 'x', message: 'b', fields: { code: 1 } },
    ]);
  });

  it('honours a level', () => {
    const log = memoryLogger('error');
    log.warn('no');
    log.error('yes');
    expect(log.records.map((r) => r.message)).toEqual(['yes']);
  });
});

describe('noopLogger', () => {
  it('is disabled at every level, drops everything and keeps scoping', () => {
    const log = noopLogger('svc');
    for (const l of LEVELS) {
      expect(log.enabled(l)).toBe(false);
      expect(() => log[l]('x', { a: 1 })).not.toThrow();
    }
    expect(log.child('sub').scope).toBe('svc.sub');
    expect(noopLogger().child('sub').scope).toBe('sub');
  });
});
