import { CoreErrorCode, checksum32, ManualClock, seededRng } from '@novacron/core';
import { EscrowSite, ItpErrorCode, MemoryCapacityLedger } from '@novacron/itp';
import { CrashConsistentFileIO } from '@novacron/testkit';
import { describe, expect, it } from 'vitest';

const cpu = (cpuMillis: number) => ({ cpuMillis, memoryBytes: 0 });

async function setup() {
  const io = new CrashConsistentFileIO(seededRng(5));
  await io.mkdir('/site');
  io.syncAll();
  const ledger = new MemoryCapacityLedger({ clock: new ManualClock() });
  await ledger.addHost('h1', cpu(10_000));
  await ledger.grantEscrow('edge', { hostId: 'h1', resources: cpu(4000) });
  const site = await EscrowSite.open({ site: 'edge', io, path: '/site/escrow.log' });
  await site.recordGrant('h1', cpu(4000));
  return { io, ledger, site };
}

describe('escrow journal', () => {
  it('consumption survives a crash (with torn writes) and reconciles into the ledger exactly once', async () => {
    for (let round = 0; round < 20; round++) {
      const { io, ledger, site } = await setup();
      // Cut off from the log: place onto escrow only.
      await site.consume('a', 'h1', cpu(1000));
      await site.consume('b', 'h1', cpu(2000));
      await site.release('a');
      await expect(site.consume('c', 'h1', cpu(3500))).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      // An append in flight when the power goes (not awaited).
      const inflight = site.consume('d', 'h1', cpu(500)).catch(() => undefined);
      io.crash({ tear: true });
      await inflight;
      const again = await EscrowSite.open({ site: 'edge', io, path: '/site/escrow.log' });
      // Everything acknowledged before the crash is there; the in-flight record is either whole or gone.
      const left = again.remaining('h1').cpuMillis;
      expect([2000, 1500]).toContain(left);
      // The log is back: reconcile.
      const n = await again.reconcile(ledger);
      expect(n).toBe(left === 2000 ? 3 : 4);
      expect(await again.reconcile(ledger)).toBe(0);
      expect((await ledger.escrowAvailable('edge', 'h1')).cpuMillis).toBe(left);
      // Shared capacity was never touched.
      expect((await ledger.available('h1')).cpuMillis).toBe(6000);
      await again.close();
    }
  });

  it('a reopened journal keeps acknowledgements: nothing is replayed twice', async () => {
    const { io, ledger, site } = await setup();
    await site.consume('a', 'h1', cpu(1000));
    await site.reconcile(ledger);
    await site.close();
    const again = await EscrowSite.open({ site: 'edge', io, path: '/site/escrow.log' });
    expect(again.pending).toBe(0);
    expect(again.remaining('h1').cpuMillis).toBe(3000);
    await expect(again.release('nope')).rejects.toMatchObject({ code: 'ITP_UNKNOWN_VM' });
    await expect(again.consume('a', 'h1', cpu(1))).rejects.toMatchObject({ code: 'ITP_DUPLICATE_ID' });
  });

  it('a corrupt tail is truncated; garbage with a valid checksum is a typed error', async () => {
    const { io, site } = await setup();
    await site.consume('a', 'h1', cpu(1000));
    await site.close();
    const fh = await io.open('/site/escrow.log', 'a');
    await fh.write(new TextEncoder().encode('deadbeef\t{"half'));
    await fh.sync();
    await fh.close();
    const again = await EscrowSite.open({ site: 'edge', io, path: '/site/escrow.log' });
    expect(again.remaining('h1').cpuMillis).toBe(3000);
    await again.close();
    const body = new TextEncoder().encode('not json');
    const bad = await io.open('/site/escrow.log', 'a');
    await bad.write(new TextEncoder().encode(`${checksum32(body).toString(16).padStart(8, '0')}\tnot json\n`));
    await bad.sync();
    await bad.close();
    await expect(EscrowSite.open({ site: 'edge', io, path: '/site/escrow.log' })).rejects.toMatchObject({
      code: ItpErrorCode.ESCROW_JOURNAL_CORRUPT,
    });
  });

  it('reads the example of docs/protocol/itp-escrow-journal.md', async () => {
    const io = new CrashConsistentFileIO(seededRng(1));
    await io.mkdir('/s');
    const text = [
      'dbfb2211\t{"seq":1,"op":"grant","hostId":"h1","resources":{"cpuMillis":4000,"memoryBytes":0}}',
      '4eb6511c\t{"seq":2,"op":"consume","vmId":"a","hostId":"h1","resources":{"cpuMillis":1000,"memoryBytes":0}}',
      'ecc22264\t{"seq":3,"op":"ack","of":2}',
      '',
    ].join('\n');
    const fh = await io.open('/s/j.log', 'w');
    await fh.write(new TextEncoder().encode(text));
    await fh.close();
    const site = await EscrowSite.open({ site: 'edge', io, path: '/s/j.log' });
    expect(site.remaining('h1').cpuMillis).toBe(3000);
    expect(site.pending).toBe(0);
    await site.close();
  });
});
