import { createHash } from 'node:crypto';
import { AmstReceiver, type TransferProgress, memorySink, sendTransfer } from '@novacron/amst';
import { SimStreams, type SimWorld, simRun } from '@novacron/testkit';
import { simTest } from '@novacron/testkit/vitest';
import { expect } from 'vitest';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

simTest('a receiver that restarts with a partial copy resumes the transfer', { seeds: 20 }, async (world: SimWorld) => {
  world.addNode('a');
  world.addNode('b');
  const streams = new SimStreams(world, {
    path: { latencyMs: 10, bytesPerSecond: 12.5e6, queueBytes: 1e6 },
    tcp: { mss: 16 * 1024 },
  });
  const data = world.rng.fork('data').bytes(3_000_000);
  // The "file" survives the restart; a restarted receiver may have lost a tail of unsynced writes.
  const partial = memorySink();
  const lost = world.rng.fork('lost').int(0, 100_000);
  const first = new AmstReceiver({
    transport: streams.transport('b'),
    listenAddress: 'b:7000',
    clock: world.node('b').clock,
    onTransfer: () => partial,
  });
  let second: AmstReceiver | undefined;
  let resumedAt = -1;
  let resumedSink: ReturnType<typeof memorySink> | undefined;
  const result = await simRun(
    world,
    (async () => {
      await first.start();
      let stopped = false;
      return sendTransfer({
        transport: streams.transport('a'),
        address: 'b:7000',
        clock: world.node('a').clock,
        rng: world.node('a').rng.fork('amst'),
        source: data,
        lanes: 3,
        chunkSize: 64 * 1024,
        progressIntervalMs: 20,
        onProgress: (p: TransferProgress) => {
          if (stopped || p.bytesAcked < 1_000_000) return;
          stopped = true;
          void first.stop().then(async () => {
            await world.clock.sleep(500);
            const kept = partial.bytes();
            const offset = Math.max(0, kept.length - lost);
            const sink = memorySink();
            await sink.write(kept.subarray(0, offset));
            resumedSink = sink;
            second = new AmstReceiver({
              transport: streams.transport('b'),
              listenAddress: 'b:7000',
              clock: world.node('b').clock,
              onTransfer: () => {
                throw new Error('a new transfer was not expected');
              },
              onResume: () => {
                resumedAt = offset;
                return { sink, offset };
              },
            });
            await second.start();
          });
        },
      });
    })(),
    600_000,
  );
  expect(resumedAt).toBeGreaterThan(0);
  expect(result.resumes).toBeGreaterThanOrEqual(1);
  expect(resumedSink?.closed).toBe(true);
  expect(sha(resumedSink!.bytes())).toBe(sha(data));
  await simRun(world, second!.stop(), 10_000);
});
