import { fileURLToPath } from 'node:url';
import { type WanLink, type WanLinkOptions, startWanLink, wanSupport } from '@novacron/testkit/wan';
import { describe, expect, it } from 'vitest';

/**
 * Real amst transfers between two network namespaces through the userspace
 * WAN emulator (real kernel TCP, CUBIC, delay and loss). Skipped, with the
 * reason printed, where namespaces or TUN devices are not available (not
 * root, no iproute2 or gcc).
 */
const support = wanSupport();
if (!support.ok) console.log(`amst WAN e2e skipped: ${support.reason}`);
const slow = process.env.NOVACRON_SLOW === '1';

const peer = fileURLToPath(new URL('./wan-peer.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../../', import.meta.url));

async function transfer(profile: WanLinkOptions, bytes: number, lanes: number | 'adaptive') {
  const link: WanLink = await startWanLink(profile);
  try {
    const listen = `${link.b.address}:9400`;
    // The peers run TypeScript from source through tsx, resolving @novacron/* with the root tsconfig.
    const node = [process.execPath, '--import', 'tsx'];
    const receiver = link.spawn(link.b, node[0]!, [...node.slice(1), peer, 'recv', listen], { cwd: root });
    let out = '';
    const finished = new Promise<string>((resolve, reject) => {
      receiver.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(line);
      });
      receiver.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
    });
    await new Promise<void>((resolve) => {
      const check = () => (out.includes('listening') ? resolve() : setTimeout(check, 50));
      check();
    });
    const r = await link.run(link.a, node[0]!, [...node.slice(1), peer, 'send', listen, String(bytes), String(lanes)], {
      timeoutMs: 150_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const sent = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      sha256: string;
      result: { bytes: number; maxLanes: number };
    };
    const got = JSON.parse(await finished) as { sha256: string; duplicateChunks: number };
    return { sent, got, stats: await link.stats() };
  } finally {
    await link.close();
  }
}

describe.skipIf(!support.ok)('amst through the WAN emulator', () => {
  it('moves 8 MiB byte-identical over a lossy 40 ms path with CUBIC senders', { timeout: 120_000 }, async () => {
    const { sent, got, stats } = await transfer(
      { rttMs: 40, loss: 0.01, rateMbit: 100, congestionControl: 'cubic' },
      8 * 1024 * 1024,
      'adaptive',
    );
    expect(got.sha256).toBe(sent.sha256);
    expect(sent.result.bytes).toBe(8 * 1024 * 1024);
    expect(stats.aToB.lost).toBeGreaterThan(0); // the path really dropped packets
  });

  it.skipIf(!slow)(
    'moves 64 MiB over the intercontinental profile (150 ms, 0.5%, 200 Mbit/s)',
    { timeout: 300_000 },
    async () => {
      const { sent, got } = await transfer(
        { rttMs: 150, loss: 0.005, rateMbit: 200, congestionControl: 'cubic' },
        64 * 1024 * 1024,
        'adaptive',
      );
      expect(got.sha256).toBe(sent.sha256);
      expect(sent.result.maxLanes).toBeGreaterThan(2);
    },
  );
});
