import { spawnSync } from 'node:child_process';
import { isNovacronError } from '@novacron/core';
import { defaultQueuePackets, startWanLink, wanSupport } from '@novacron/testkit/wan';
import { describe, expect, it } from 'vitest';

const support = wanSupport();
if (!support.ok) console.log(`wan-link e2e skipped: ${support.reason}`);

// A TCP echo in side B and a client in side A, as plain Node scripts: the connect takes one RTT, the echo another.
const server = `
const net = require('node:net');
net.createServer((s) => s.pipe(s)).listen(7000, '0.0.0.0', () => console.log('listening'));`;
const client = `
const net = require('node:net');
const t0 = performance.now();
const s = net.connect(7000, process.argv[1], () => {
  const connectMs = performance.now() - t0;
  const t1 = performance.now();
  const payload = Buffer.alloc(100000, 7);
  let got = 0;
  s.on('data', (d) => {
    got += d.length;
    if (got === payload.length) {
      console.log(JSON.stringify({ connectMs, echoMs: performance.now() - t1, got }));
      s.destroy();
    }
  });
  s.write(payload);
});`;

describe('wan link', () => {
  it('refuses a bad profile with CORE_INVALID_ARGUMENT', async () => {
    for (const bad of [
      { rttMs: -1, loss: 0, rateMbit: 10 },
      { rttMs: 10, loss: 1.5, rateMbit: 10 },
      { rttMs: 10, loss: 0, rateMbit: 10, queuePackets: 0 },
      { rttMs: 10, loss: 0, rateMbit: 10, mtu: 100 },
    ]) {
      const err = await startWanLink(bad).catch((e: unknown) => e);
      expect(isNovacronError(err, 'CORE_INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('sizes the default queue to one bandwidth-delay product', () => {
    expect(defaultQueuePackets({ rttMs: 150, loss: 0, rateMbit: 200 })).toBe(2500);
    expect(defaultQueuePackets({ rttMs: 1, loss: 0, rateMbit: 10 })).toBe(100);
  });

  it.skipIf(!support.ok)(
    'carries TCP between the namespaces with at least the configured RTT, then tears down',
    async () => {
      const link = await startWanLink({ rttMs: 30, loss: 0, rateMbit: 50, congestionControl: 'cubic' });
      const names = [link.a.ns, link.b.ns];
      try {
        const cc = await link.run(link.a, 'cat', ['/proc/sys/net/ipv4/tcp_congestion_control']);
        expect(cc.stdout.trim()).toBe('cubic');
        const srv = link.spawn(link.b, process.execPath, ['-e', server]);
        await new Promise<void>((resolve) => srv.stdout!.on('data', () => resolve()));
        const r = await link.run(link.a, process.execPath, ['-e', client, link.b.address], { timeoutMs: 20_000 });
        const m = JSON.parse(r.stdout) as { connectMs: number; echoMs: number; got: number };
        expect(m.got).toBe(100_000);
        // Lower bounds only: the emulator can add delay under load but never take it away.
        expect(m.connectMs).toBeGreaterThanOrEqual(29);
        expect(m.echoMs).toBeGreaterThanOrEqual(29);
        const stats = await link.stats();
        expect(stats.aToB.tx).toBeGreaterThan(60); // 100 kB in ~1400-byte packets
        expect(stats.bToA.tx).toBeGreaterThan(60);
      } finally {
        await link.close();
      }
      const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      for (const n of names) expect(left).not.toContain(n);
    },
  );
});
