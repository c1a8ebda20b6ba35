import { CoreErrorCode } from '@novacron/core';
import { boundedPipe } from '@novacron/testkit';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

describe('boundedPipe', () => {
  it('carries bytes in order, holds writers back at capacity and counts', async () => {
    const pipe = boundedPipe({ capacityBytes: 100 });
    await pipe.a.write(new Uint8Array(60).fill(1));
    let second = false;
    const w = pipe.a.write(new Uint8Array(60).fill(2)).then(() => {
      second = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    const it = pipe.b[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual(new Uint8Array(60).fill(1));
    await w;
    expect(second).toBe(true);
    await pipe.a.closeWrite();
    expect((await it.next()).value).toEqual(new Uint8Array(60).fill(2));
    expect((await it.next()).done).toBe(true);
    expect(pipe.aToB).toEqual({ written: 120, read: 120, peakBuffered: 60 });
  });

  it('abort fails both ends', async () => {
    const pipe = boundedPipe();
    pipe.a.abort(new Error('boom'));
    await expectNovacronRejection(pipe.b.write(new Uint8Array(1)), CoreErrorCode.STREAM_CLOSED);
    await expectNovacronRejection(pipe.b[Symbol.asyncIterator]().next(), CoreErrorCode.STREAM_CLOSED);
    await pipe.a.closed;
    await pipe.b.closed;
  });
});
