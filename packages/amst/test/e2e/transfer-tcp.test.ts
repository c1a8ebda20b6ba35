import { createHash, randomBytes } from 'node:crypto';
import { AmstReceiver, TcpTransport, type TransferProgress, memorySink, sendTransfer } from '@novacron/amst';
import type { Duplex, StreamTransport } from '@novacron/core';
import { afterEach, describe, expect, it } from 'vitest';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('transfers over loopback TCP', () => {
  let receiver: AmstReceiver | undefined;
  afterEach(async () => {
    await receiver?.stop();
    receiver = undefined;
  });

  async function start(transport: StreamTransport) {
    const sinks: ReturnType<typeof memorySink>[] = [];
    receiver = new AmstReceiver({
      transport,
      listenAddress: '127.0.0.1:0',
      onTransfer: () => {
        const s = memorySink();
        sinks.push(s);
        return s;
      },
    });
    await receiver.start();
    return { sinks, address: receiver.address! };
  }

  it('moves 32 MiB over 4 lanes byte-identical (SHA-256) from an async iterable', async () => {
    const tcp = new TcpTransport();
    const { sinks, address } = await start(tcp);
    const data = new Uint8Array(randomBytes(32 * 1024 * 1024 + 5));
    async function* pieces() {
      for (let off = 0; off < data.length; off += 100_000) yield data.subarray(off, off + 100_000);
    }
    const r = await sendTransfer({ transport: tcp, address, source: pieces(), totalSize: data.length, lanes: 4 });
    expect(r.bytes).toBe(data.length);
    expect(r.maxLanes).toBe(4);
    expect(sha(sinks[0]!.bytes())).toBe(sha(data));
  });

  it('survives a lane reset mid-transfer and, when every lane is reset, resumes', async () => {
    const tcp = new TcpTransport();
    const lanes: Duplex[] = [];
    const tapped: StreamTransport = {
      name: 'tcp',
      dial: async (a, o) => {
        const s = await tcp.dial(a, o);
        lanes.push(s);
        return s;
      },
      listen: (a, h) => tcp.listen(a, h),
    };
    const { sinks, address } = await start(tcp);
    const data = new Uint8Array(randomBytes(48 * 1024 * 1024));
    let stage = 0;
    const r = await sendTransfer({
      transport: tapped,
      address,
      source: data,
      lanes: 3,
      chunkSize: 128 * 1024,
      progressIntervalMs: 5,
      onProgress: (p: TransferProgress) => {
        if (stage === 0 && p.bytesAcked > 8e6) {
          stage = 1;
          lanes[0]!.abort(new Error('one lane reset by test'));
        } else if (stage === 1 && p.bytesAcked > 24e6) {
          stage = 2;
          for (const l of lanes) l.abort(new Error('all lanes reset by test'));
        }
      },
    });
    expect(stage).toBe(2);
    expect(r.laneFailures).toBeGreaterThanOrEqual(2);
    expect(r.resumes).toBeGreaterThanOrEqual(1);
    expect(sha(sinks[0]!.bytes())).toBe(sha(data));
  });
});
