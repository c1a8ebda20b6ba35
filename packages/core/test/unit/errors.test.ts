import { CoreErrorCode, isNovacronError, NovacronError } from '@novacron/core';
import { describe, expect, it } from 'vitest';

describe('NovacronError', () => {
  it('carries code, message, details and name, and is an Error', () => {
    const err = new NovacronError(CoreErrorCode.FRAME_OVERSIZED, 'frame too big', { details: { size: 10, limit: 5 } });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(NovacronError);
    expect(err.name).toBe('NovacronError');
    expect(err.code).toBe('CORE_FRAME_OVERSIZED');
    expect(err.message).toBe('frame too big');
    expect(err.details).toEqual({ size: 10, limit: 5 });
    expect(err.stack).toContain('frame too big');
  });

  it('defaults details to an empty object and has no cause unless given', () => {
    const err = new NovacronError('X_CODE', 'm');
    expect(err.details).toEqual({});
    expect('cause' in err).toBe(false);
  });

  it('keeps the cause', () => {
    const root = new Error('ENOENT');
    const err = new NovacronError(CoreErrorCode.FILE_NOT_FOUND, 'missing', { cause: root });
    expect(err.cause).toBe(root);
    const falsy = new NovacronError(CoreErrorCode.ABORTED, 'aborted', { cause: 0 });
    expect(falsy.cause).toBe(0);
  });

  it('toJSON summarises for logs and API responses', () => {
    const err = new NovacronError(CoreErrorCode.FILE_IO, 'write failed', {
      details: { path: '/x' },
      cause: new Error('EIO'),
    });
    expect(err.toJSON()).toEqual({
      name: 'NovacronError',
      code: 'CORE_FILE_IO',
      message: 'write failed',
      details: { path: '/x' },
      cause: 'EIO',
    });
    expect(JSON.parse(JSON.stringify(err))).toEqual(err.toJSON());
    expect(new NovacronError('A', 'b', { cause: 'text reason' }).toJSON().cause).toBe('text reason');
    expect(new NovacronError('A', 'b', { cause: 42 }).toJSON().cause).toBe('42');
    expect(new NovacronError('A', 'b').toJSON()).not.toHaveProperty('cause');
  });
});

describe('isNovacronError', () => {
  it('recognises instances, optionally by code', () => {
    const err = new NovacronError(CoreErrorCode.TIMEOUT, 't');
    expect(isNovacronError(err)).toBe(true);
    expect(isNovacronError(err, CoreErrorCode.TIMEOUT)).toBe(true);
    expect(isNovacronError(err, CoreErrorCode.ABORTED)).toBe(false);
  });

  it('recognises a copy from another bundle by shape', () => {
    const foreign = Object.assign(new Error('x'), { name: 'NovacronError', code: 'CORE_TIMEOUT', details: {} });
    expect(isNovacronError(foreign, CoreErrorCode.TIMEOUT)).toBe(true);
  });

  it('rejects everything else', () => {
    expect(isNovacronError(new Error('x'))).toBe(false);
    expect(isNovacronError(Object.assign(new Error('x'), { name: 'NovacronError' }))).toBe(false);
    expect(isNovacronError(Object.assign(new Error('x'), { name: 'NovacronError', code: 5 }))).toBe(false);
    expect(isNovacronError({ name: 'NovacronError', code: 'CORE_TIMEOUT', message: 'plain object' })).toBe(false);
    for (const v of [null, undefined, 'CORE_TIMEOUT', 0]) expect(isNovacronError(v)).toBe(false);
  });
});

describe('CoreErrorCode', () => {
  it('maps each key to CORE_<key>, with no duplicates', () => {
    const entries = Object.entries(CoreErrorCode);
    expect(entries.length).toBeGreaterThan(10);
    for (const [key, value] of entries) expect(value).toBe(`CORE_${key}`);
    expect(new Set(Object.values(CoreErrorCode)).size).toBe(entries.length);
  });
});
