import { AmstErrorCode, type TransferProgress, sendTransfer } from '@novacron/amst';
import { isNovacronError } from '@novacron/core';
import { SimWorld, simRun } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';
import { simPair } from './sim-harness.js';

/**
 * One long-lived competing TCP flow from a to b, and an amst transfer on the
 * same bottleneck for 10 s of virtual time; returns both flows' bytes.
 */
async function share(seed: number, polite: boolean) {
  const world = new SimWorld({ seed });
  const pair = simPair(world, { latencyMs: 20, bytesPerSecond: 12.5e6, queueBytes: 1e6, loss: 0.0005 });
  let competing = 0;
  let amstBytes = 0;
  await simRun(
    world,
    (async () => {
      await pair.receiver.start();
      await pair.streams.transport('b').listen('b:9000', (s) => {
        void (async () => {
          for await (const c of s) competing += c.length;
        })().catch(() => {});
      });
      const flow = await pair.streams.transport('a').dial('b:9000');
      let stop = false;
      void (async () => {
        const block = new Uint8Array(256 * 1024);
        while (!stop) await flow.write(block);
      })().catch(() => {});
      const ac = new AbortController();
      world.clock.setTimeout(() => {
        stop = true;
        ac.abort(new Error('measurement over'));
      }, 10_000);
      const err = await sendTransfer({
        transport: pair.streams.transport('a'),
        address: pair.receiver.address!,
        clock: world.node('a').clock,
        source: new Uint8Array(200e6),
        mode: 'internet',
        polite,
        signal: ac.signal,
        onProgress: (p: TransferProgress) => {
          amstBytes = p.bytesAcked;
        },
      }).catch((e: unknown) => e);
      expect(isNovacronError(err, AmstErrorCode.ABORTED)).toBe(true);
      flow.abort();
      await pair.receiver.stop();
    })(),
    60_000,
  );
  return { amst: amstBytes, competing };
}

describe('polite mode against one competing CUBIC flow (simulated 100 Mbit/s, 40 ms RTT)', () => {
  it('takes a smaller share than the default adaptive sender', async () => {
    const normal = await share(1, false);
    const polite = await share(1, true);
    const pct = (s: { amst: number; competing: number }) => ((100 * s.amst) / (s.amst + s.competing)).toFixed(0);
    console.log(
      `amst share: default ${pct(normal)}% (${normal.amst} vs ${normal.competing} B), polite ${pct(polite)}% (${polite.amst} vs ${polite.competing} B)`,
    );
    expect(polite.amst / (polite.amst + polite.competing)).toBeLessThan(normal.amst / (normal.amst + normal.competing));
    // One lane against one flow: about an even split, never most of the link.
    expect(polite.amst / (polite.amst + polite.competing)).toBeLessThan(0.6);
  });
});
