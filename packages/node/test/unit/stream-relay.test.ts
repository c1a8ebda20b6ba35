import { MemoryNetwork, MemoryTransport, noneCodec, sendTransfer } from '@novacron/amst';
import { CoreErrorCode, type Duplex, type StreamTransport, isNovacronError, seededRng } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  STREAM_RELAY_MAX_BODY,
  StreamRelayErrorCode,
  StreamRelayHeaderReader,
  encodeStreamRelayHeader,
  openStreamRelayReceive,
  openStreamRelaySend,
} from '../../src/index.js';

/** Lets in-process pipes run until nothing moves any more (macrotask turns, no wall-clock timing). */
async function settle(progress: () => number, quietTurns = 50): Promise<void> {
  let last = -1;
  let quiet = 0;
  for (let i = 0; i < 20_000 && quiet < quietTurns; i++) {
    await new Promise<void>((r) => setImmediate(r));
    const now = progress();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

async function drain(stream: Duplex): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return Buffer.concat(parts);
}

function pair() {
  const network = new MemoryNetwork();
  return { a: new MemoryTransport({ network, host: 'a' }), b: new MemoryTransport({ network, host: 'b' }) };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = seededRng(seed);
  return rng.bytes(n);
}

describe('stream relay', () => {
  it('carries a backend stream in order, written in uneven pieces, over several lanes with hde', async () => {
    const { a, b } = pair();
    const data = randomBytes(3 * 1024 * 1024 + 12_345, 7);
    // Half compressible, half not, so hde's selector has something to choose between.
    data.fill(0x41, 0, 1024 * 1024);
    const rx = await openStreamRelayReceive({
      transport: b,
      listenAddress: 'b:0',
      migrationId: 'm-1',
      mode: 'internet',
    });
    const tx = await openStreamRelaySend({
      transport: a,
      address: rx.address,
      migrationId: 'm-1',
      vmId: 'vm-1',
      lanes: 3,
      chunkSize: 64 * 1024,
      mode: 'internet',
    });
    const received = drain(rx.stream);
    const rng = seededRng(3);
    for (let off = 0; off < data.length; ) {
      const n = Math.min(data.length - off, rng.int(1, 200_000));
      await tx.stream.write(data.subarray(off, off + n));
      off += n;
    }
    await tx.stream.closeWrite();
    const [sent, got, out] = await Promise.all([tx.done, rx.done, received]);
    expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
    expect(sent.bytes).toBe(data.length);
    expect(got).toMatchObject({ bytes: data.length, vmId: 'vm-1' });
    expect(sent.transfer.maxLanes).toBe(3);
    // On an internet link hde compresses the compressible megabyte.
    expect(sent.wireBytes).toBeLessThan(data.length);
  });

  it('holds the backend back within the bounded buffers while the destination does not read', async () => {
    const { a, b } = pair();
    const bufferBytes = 64 * 1024;
    const windowBytes = 512 * 1024;
    const chunkSize = 32 * 1024;
    const rx = await openStreamRelayReceive({
      transport: b,
      listenAddress: 'b:0',
      migrationId: 'm',
      bufferBytes,
      windowBytes,
      codec: noneCodec(),
    });
    const tx = await openStreamRelaySend({
      transport: a,
      address: rx.address,
      migrationId: 'm',
      vmId: 'v',
      bufferBytes,
      windowBytes,
      chunkSize,
      lanes: 2,
      codec: noneCodec(),
    });
    const piece = new Uint8Array(16 * 1024).fill(9);
    const total = 8 * 1024 * 1024;
    let accepted = 0;
    const writer = (async () => {
      while (accepted < total) {
        await tx.stream.write(piece);
        accepted += piece.length;
      }
      await tx.stream.closeWrite();
    })();
    await settle(() => accepted);
    // Two pipes, the amst window, a chunk being cut and a piece in the writer's hand.
    const bound = 2 * bufferBytes + windowBytes + 2 * chunkSize + 2 * piece.length;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(bound);
    expect(accepted).toBeLessThan(total);
    // Reading releases the rest, all of it, in order.
    const out = await drain(rx.stream);
    await writer;
    expect(out.length).toBe(total);
    await Promise.all([tx.done, rx.done]);
  });

  it('refuses a stream without the relay header with a typed error, and resets the provider end', async () => {
    const { a, b } = pair();
    const rx = await openStreamRelayReceive({
      transport: b,
      listenAddress: 'b:0',
      migrationId: 'm',
      codec: noneCodec(),
    });
    const reading = drain(rx.stream);
    const sent = sendTransfer({ transport: a, address: rx.address, source: new Uint8Array(4096).fill(1) });
    await expect(rx.done).rejects.toMatchObject({ code: StreamRelayErrorCode.HEADER_CORRUPT });
    await expect(reading).rejects.toMatchObject({ code: CoreErrorCode.STREAM_CLOSED });
    await expect(sent).rejects.toSatisfy(isNovacronError);
  });

  it("refuses another migration's stream", async () => {
    const { a, b } = pair();
    const rx = await openStreamRelayReceive({
      transport: b,
      listenAddress: 'b:0',
      migrationId: 'mine',
      codec: noneCodec(),
    });
    const tx = await openStreamRelaySend({
      transport: a,
      address: rx.address,
      migrationId: 'theirs',
      vmId: 'v',
      codec: noneCodec(),
    });
    void tx.stream.write(new Uint8Array(1000)).catch(() => undefined);
    void tx.stream.closeWrite().catch(() => undefined);
    await expect(rx.done).rejects.toMatchObject({
      code: StreamRelayErrorCode.MIGRATION_MISMATCH,
      details: { expected: 'mine', got: 'theirs' },
    });
    await expect(tx.done).rejects.toSatisfy(isNovacronError);
  });

  it('cancels: the sender rejects ABORTED and the provider end fails; the receiver closes cleanly', async () => {
    const { a, b } = pair();
    const rx = await openStreamRelayReceive({
      transport: b,
      listenAddress: 'b:0',
      migrationId: 'm',
      codec: noneCodec(),
    });
    const ac = new AbortController();
    const tx = await openStreamRelaySend({
      transport: a,
      address: rx.address,
      migrationId: 'm',
      vmId: 'v',
      codec: noneCodec(),
      signal: ac.signal,
    });
    await tx.stream.write(new Uint8Array(100_000));
    ac.abort(new Error('operator cancelled'));
    await expect(tx.done).rejects.toMatchObject({ code: StreamRelayErrorCode.ABORTED });
    // The backend's next write fails, so QEMU's migration fails instead of hanging.
    let writeError: unknown;
    try {
      for (let i = 0; i < 1000; i++) await tx.stream.write(new Uint8Array(65_536));
    } catch (err) {
      writeError = err;
    }
    expect(writeError).toMatchObject({ code: CoreErrorCode.STREAM_CLOSED });
    await rx.close();
    await expect(rx.done).rejects.toMatchObject({ code: StreamRelayErrorCode.ABORTED });
  });

  it('cancels the receiver by its signal: the provider end is reset', async () => {
    const { b } = pair();
    const ac = new AbortController();
    const rx = await openStreamRelayReceive({
      transport: b,
      listenAddress: 'b:0',
      migrationId: 'm',
      signal: ac.signal,
    });
    const reading = drain(rx.stream);
    ac.abort();
    await expect(rx.done).rejects.toMatchObject({ code: StreamRelayErrorCode.ABORTED });
    await expect(reading).rejects.toMatchObject({ code: CoreErrorCode.STREAM_CLOSED });
  });

  it('rejects invalid options with a typed error', async () => {
    const { a } = pair();
    await expect(
      openStreamRelaySend({ transport: a, address: 'b:1', migrationId: '', vmId: 'v' }),
    ).rejects.toMatchObject({ code: StreamRelayErrorCode.INVALID_OPTIONS });
    await expect(
      openStreamRelaySend({ transport: a, address: 'b:1', migrationId: 'm', vmId: 'v', bufferBytes: 0 }),
    ).rejects.toMatchObject({ code: StreamRelayErrorCode.INVALID_OPTIONS });
  });
});

describe('stream relay header', () => {
  it('round-trips when fed in any split', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.uint8Array({ maxLength: 50 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (migrationId, vmId, tail, cuts) => {
          const bytes = Buffer.concat([encodeStreamRelayHeader({ migrationId, vmId }), tail]);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
          const reader = new StreamRelayHeaderReader();
          let got: ReturnType<StreamRelayHeaderReader['push']>;
          let prev = 0;
          for (const p of [...points, bytes.length]) {
            if (got) break;
            got = reader.push(bytes.subarray(prev, p));
            prev = p;
          }
          expect(got?.header).toEqual({ migrationId, vmId });
          const rest = Buffer.concat([got!.rest, bytes.subarray(prev)]);
          expect(rest.equals(Buffer.from(tail))).toBe(true);
        },
      ),
    );
  });

  it('fails arbitrary bytes only with HEADER_CORRUPT and never buffers past the bound', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.boolean(), (junk, keepMagic) => {
        const bytes = keepMagic ? Buffer.concat([Uint8Array.of(0x4e, 0x43, 0x53, 0x52, 1), junk]) : junk;
        const reader = new StreamRelayHeaderReader();
        try {
          for (let i = 0; i < bytes.length; i += 97) if (reader.push(bytes.subarray(i, i + 97))) return;
        } catch (err) {
          expect(err).toMatchObject({ code: StreamRelayErrorCode.HEADER_CORRUPT });
          return;
        }
        // Still waiting: only possible while the claimed body is within the bound.
        expect(bytes.length).toBeLessThan(7 + STREAM_RELAY_MAX_BODY);
      }),
    );
  });

  it('rejects flipped bytes in a valid header with HEADER_CORRUPT or reads other valid ids', () => {
    const good = encodeStreamRelayHeader({ migrationId: 'migration-1', vmId: 'vm-1' });
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bad = good.slice();
        bad[at]! ^= xor;
        try {
          const r = new StreamRelayHeaderReader().push(bad);
          if (r) expect(typeof r.header.migrationId).toBe('string');
        } catch (err) {
          expect(err).toMatchObject({ code: StreamRelayErrorCode.HEADER_CORRUPT });
        }
      }),
    );
  });
});

describe('stream relay codecs', () => {
  it('sends raw chunks in datacenter mode and hde elsewhere; the destination decodes both', async () => {
    for (const mode of ['datacenter', 'internet'] as const) {
      const { a, b } = pair();
      const data = new Uint8Array(512 * 1024).fill(7);
      const rx = await openStreamRelayReceive({ transport: b, listenAddress: 'b:0', migrationId: 'c' });
      const tx = await openStreamRelaySend({ transport: a, address: rx.address, migrationId: 'c', vmId: 'v', mode });
      const reading = drain(rx.stream);
      await tx.stream.write(data);
      await tx.stream.closeWrite();
      const [sent, , out] = await Promise.all([tx.done, rx.done, reading]);
      expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
      if (mode === 'datacenter') expect(sent.wireBytes).toBeGreaterThan(data.length);
      else expect(sent.wireBytes).toBeLessThan(data.length / 10);
    }
  });
});

/** Dials through `inner` and flips one byte of each chunk payload (writes ≥ 4 KiB) while `corrupt()` says so. */
function corrupting(inner: StreamTransport, corrupt: () => boolean): StreamTransport {
  return {
    name: 'corrupting',
    listen: (address, handler) => inner.listen(address, handler),
    async dial(address, options) {
      const d = await inner.dial(address, options);
      return Object.assign(Object.create(d) as Duplex, {
        write(data: Uint8Array) {
          if (data.length < 4096 || !corrupt()) return d.write(data);
          const bad = data.slice();
          bad[bad.length - 1]! ^= 0x5a;
          return d.write(bad);
        },
        [Symbol.asyncIterator]: () => d[Symbol.asyncIterator](),
      });
    },
  };
}

describe('stream relay over a corrupting path', () => {
  it('corrupt chunks are refused and resent: the backend still gets every byte in order', async () => {
    const { a, b } = pair();
    let flips = 3;
    const data = randomBytes(1024 * 1024, 11);
    const rx = await openStreamRelayReceive({ transport: b, listenAddress: 'b:0', migrationId: 'x', mode: 'internet' });
    const tx = await openStreamRelaySend({
      transport: corrupting(a, () => flips-- > 0),
      address: rx.address,
      migrationId: 'x',
      vmId: 'v',
      mode: 'internet',
    });
    const reading = drain(rx.stream);
    await tx.stream.write(data);
    await tx.stream.closeWrite();
    const [sent, , out] = await Promise.all([tx.done, rx.done, reading]);
    expect(Buffer.from(out).equals(Buffer.from(data))).toBe(true);
    expect(sent.transfer.corruptChunks).toBe(3);
    expect(sent.transfer.retransmittedChunks).toBeGreaterThanOrEqual(3);
  });

  it('a path that corrupts everything fails both halves with a typed error and resets the backend stream', async () => {
    const { a, b } = pair();
    const rx = await openStreamRelayReceive({
      transport: b,
      listenAddress: 'b:0',
      migrationId: 'x',
      resumeWindowMs: 50,
    });
    const tx = await openStreamRelaySend({
      transport: corrupting(a, () => true),
      address: rx.address,
      migrationId: 'x',
      vmId: 'v',
      resumeWindowMs: 50,
    });
    const reading = drain(rx.stream);
    void tx.stream.write(randomBytes(256 * 1024, 5)).catch(() => undefined);
    void tx.stream.closeWrite().catch(() => undefined);
    await expect(tx.done).rejects.toMatchObject({ code: 'AMST_TOO_MANY_CORRUPT_CHUNKS' });
    await expect(rx.done).rejects.toSatisfy(isNovacronError);
    await expect(reading).rejects.toMatchObject({ code: CoreErrorCode.STREAM_CLOSED });
  });
});
