import { CoreErrorCode, isNovacronError, seededRng } from '@novacron/core';
import {
  CODEC_IDS,
  CodecSelector,
  CodecWorkerPool,
  blockCodec,
  decodeFrames,
  encodeFrames,
  loadCodecs,
} from '@novacron/hde';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

const data = (() => {
  const rng = seededRng('pool');
  const out = new Uint8Array(600_000);
  const text = new TextEncoder().encode('worker threads share the encode across cores\n'.repeat(100));
  for (let o = 0; o < out.length; o += 4096) {
    const k = (o >> 12) % 4;
    if (k === 0) out.set(rng.bytes(Math.min(4096, out.length - o)), o);
    else if (k !== 1) out.set(text.subarray(0, Math.min(4096, out.length - o)), o);
  }
  return out;
})();

describe('codec worker pool', () => {
  const pool = new CodecWorkerPool({ size: 2 });
  beforeAll(async () => {
    await loadCodecs();
    await pool.start();
  });
  afterAll(() => pool.stop());

  it('compresses byte-identically to the main thread for every codec', async () => {
    for (const id of CODEC_IDS) {
      const chunk = data.subarray(0, 100_000);
      const out = await pool.compress(id, chunk);
      expect(Buffer.from(out).equals(Buffer.from(blockCodec(id).compress(chunk))), id).toBe(true);
    }
  });

  it('gives the same frames as the single-threaded stream encode, in order', async () => {
    const opts = { selector: new CodecSelector(), link: { mode: 'internet' as const }, chunkBytes: 65_536 };
    const serial = await collect(encodeFrames([data], opts));
    const parallel = await collect(encodeFrames([data], { ...opts, pool }));
    expect(Buffer.from(parallel).equals(Buffer.from(serial))).toBe(true);
    const back = await collect(decodeFrames([parallel]));
    expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
  });

  it('rejects work before start and after stop with typed errors', async () => {
    const p = new CodecWorkerPool({ size: 1 });
    await expect(p.compress('lz4', data)).rejects.toSatisfy((e) => isNovacronError(e, CoreErrorCode.INVALID_STATE));
    await p.start();
    const pending = expect(p.compress('zstd-19', data)).rejects.toSatisfy((e) =>
      isNovacronError(e, CoreErrorCode.ABORTED),
    );
    await p.stop();
    await pending;
  });
});
