import { CoreErrorCode } from '@novacron/core';
import { socketPipe } from '@novacron/testkit';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

describe('socketPipe', () => {
  it('carries 8 MiB over loopback TCP intact, counting bytes, and half-closes', async () => {
    const pipe = await socketPipe();
    const data = new Uint8Array(8 * 2 ** 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const reading = (async () => {
      const parts: Uint8Array[] = [];
      for await (const c of pipe.b) parts.push(c.slice());
      return Buffer.concat(parts);
    })();
    for (let off = 0; off < data.length; off += 256 * 1024) await pipe.a.write(data.subarray(off, off + 256 * 1024));
    await pipe.a.closeWrite();
    const got = await reading;
    expect(Buffer.compare(got, data)).toBe(0);
    expect(pipe.b.received).toBe(data.length);
    expect(pipe.a.sent.written).toBe(data.length);
    await pipe.close();
  });

  it('an aborted end rejects further writes', async () => {
    const pipe = await socketPipe();
    pipe.a.abort(new Error('boom'));
    await expectNovacronRejection(pipe.a.write(new Uint8Array(1)), CoreErrorCode.STREAM_CLOSED);
    await pipe.close();
  });
});
