import { NodeIdentity, seededRng, toHex } from '@novacron/core';
import { AuditLog, SecurityErrorCode, verifyAuditLog } from '@novacron/node';
import { CrashConsistentFileIO, MemoryFileIO } from '@novacron/testkit';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

const dir = '/audit';
async function fresh(io = new MemoryFileIO()) {
  await io.mkdir(dir);
  const identity = NodeIdentity.generate();
  let t = 1_800_000_000_000;
  const log = await AuditLog.open({ io, dir, identity, wallClock: () => (t += 1000) });
  return { io, log, identity };
}
const ev = (i: number) => ({
  actor: 'ncat_0123',
  action: 'vm.create',
  target: `vm-${i}`,
  outcome: 'ok',
  details: { cpu: i },
});
const readLines = async (io: MemoryFileIO) =>
  new TextDecoder()
    .decode(await io.readFile(`${dir}/audit.log`))
    .trimEnd()
    .split('\n');
const writeLines = async (io: MemoryFileIO, lines: string[]) => {
  const h = await io.open(`${dir}/audit.log`, 'w');
  await h.write(new TextEncoder().encode(`${lines.join('\n')}\n`), 0);
  await h.sync();
  await h.close();
};

describe('AuditLog', () => {
  it('chains records, group-commits concurrent appends, and verifies', async () => {
    const { io, log, identity } = await fresh();
    const records = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(ev(i))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 1; i < records.length; i++) expect(records[i]!.prev).toBe(records[i - 1]!.hash);
    await log.close();
    const report = await verifyAuditLog(io, dir, { expectedSigner: toHex(identity.publicKey) });
    expect(report).toMatchObject({ ok: true, records: 20, headHash: records[19]!.hash });
    // Reopen and continue the chain.
    const again = await AuditLog.open({ io, dir, identity });
    const next = await again.append(ev(99));
    expect(next).toMatchObject({ seq: 21, prev: records[19]!.hash });
    await again.close();
  });

  it('chains appends made while an earlier batch is being written (no duplicate sequence numbers)', async () => {
    const mem = new MemoryFileIO();
    await mem.mkdir(dir);
    // Every fsync of the log waits until the test lets it finish, so later appends arrive mid-write.
    const gates: (() => void)[] = [];
    const io = new Proxy(mem, {
      get(target, prop, receiver) {
        if (prop !== 'open') {
          const v = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? v.bind(target) : v;
        }
        return async (...args: Parameters<MemoryFileIO['open']>) => {
          const h = await target.open(...args);
          if (!String(args[0]).endsWith('audit.log')) return h;
          return new Proxy(h, {
            get(th, p2, r2) {
              if (p2 !== 'datasync') {
                const v = Reflect.get(th, p2, r2);
                return typeof v === 'function' ? v.bind(th) : v;
              }
              return async () => {
                await new Promise<void>((r) => gates.push(r));
                return th.datasync();
              };
            },
          });
        };
      },
    });
    const identity = NodeIdentity.generate();
    const log = await AuditLog.open({ io, dir, identity });
    const first = log.append(ev(0));
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    const later = [log.append(ev(1)), log.append(ev(2))];
    gates.shift()!();
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()!();
    const records = await Promise.all([first, ...later]);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[1]!.prev).toBe(records[0]!.hash);
    expect(records[2]!.prev).toBe(records[1]!.hash);
    const closing = log.close();
    while (gates.length > 0) gates.shift()!();
    await closing;
    expect(await verifyAuditLog(mem, dir, { expectedSigner: toHex(identity.publicKey) })).toMatchObject({
      ok: true,
      records: 3,
    });
  });

  it('catches an edited, a removed, a reordered and a truncated record, and refuses to append to such a log', async () => {
    const base = await fresh();
    for (let i = 0; i < 6; i++) await base.log.append(ev(i));
    await base.log.close();
    const original = await readLines(base.io);
    const head = await base.io.readFile(`${dir}/audit.head`);
    const cases: [string, (l: string[]) => string[], string][] = [
      ['edited', (l) => l.map((x, i) => (i === 2 ? x.replace('vm-2', 'vm-X') : x)), 'hash-mismatch'],
      ['removed', (l) => l.filter((_, i) => i !== 3), 'sequence-gap'],
      ['reordered', (l) => [l[0]!, l[2]!, l[1]!, ...l.slice(3)], 'sequence-gap'],
      ['truncated', (l) => l.slice(0, 4), 'head-mismatch'],
      ['garbage appended', (l) => [...l, '{"not":"a record"}'], 'malformed'],
    ];
    for (const [name, mutate, kind] of cases) {
      await writeLines(base.io, mutate(original));
      const report = await verifyAuditLog(base.io, dir);
      expect(report.ok, name).toBe(false);
      expect(report.problem?.kind, name).toBe(kind);
      await expectNovacronRejection(AuditLog.open({ io: base.io, dir }), SecurityErrorCode.AUDIT_TAMPERED);
    }
    // An edit that also recomputes that record's hash still breaks the next record's link.
    const edited = original.map((x) => JSON.parse(x));
    edited[1].target = 'vm-evil';
    const { hash: _h, sig: _s, ...body } = edited[1];
    const { encodeCanonical, strongHashHex } = await import('@novacron/core');
    edited[1].hash = strongHashHex(encodeCanonical(body));
    await writeLines(
      base.io,
      edited.map((r) => JSON.stringify(r)),
    );
    expect((await verifyAuditLog(base.io, dir)).problem?.kind).toBe('chain-broken');
    // A rewritten head without the node's key fails its signature.
    await writeLines(base.io, original.slice(0, 4));
    const forged = { ...JSON.parse(new TextDecoder().decode(head)), seq: 4, hash: JSON.parse(original[3]!).hash };
    const h = await base.io.open(`${dir}/audit.head`, 'w');
    await h.write(new TextEncoder().encode(JSON.stringify(forged)), 0);
    await h.close();
    expect((await verifyAuditLog(base.io, dir)).problem?.kind).toBe('head-signature');
  });

  it('detects truncation against an anchor copied elsewhere even when the head is rewritten consistently', async () => {
    const { io, log } = await fresh();
    for (let i = 0; i < 5; i++) await log.append(ev(i));
    const anchor = log.head();
    await log.close();
    const lines = await readLines(io);
    await writeLines(io, lines.slice(0, 3));
    expect((await verifyAuditLog(io, dir, { anchor })).problem?.kind).toBe('head-mismatch');
  });

  it('keeps every acknowledged record across crashes and reopens (only fsynced data survives)', async () => {
    const identity = NodeIdentity.generate();
    for (let seed = 0; seed < 15; seed++) {
      const io = new CrashConsistentFileIO(seededRng(seed));
      await io.mkdir(dir);
      await io.syncDir('/');
      const log = await AuditLog.open({ io, dir, identity });
      const acked: number[] = [];
      for (let i = 0; i < seed % 3; i++) acked.push((await log.append(ev(i))).seq);
      const pending = Array.from({ length: 8 }, (_, i) =>
        log.append(ev(i)).then(
          (r) => acked.push(r.seq),
          () => {},
        ),
      );
      for (let i = 0; i < seed % 7; i++) await new Promise((r) => setImmediate(r));
      io.crash({ tear: true });
      await Promise.allSettled(pending);
      // A crash may leave the log ahead of its head (signed records): reopening repairs the head.
      const reopened = await AuditLog.open({ io: io, dir, identity });
      expect(reopened.head().seq, `seed ${seed}`).toBeGreaterThanOrEqual(Math.max(0, ...acked));
      await reopened.append(ev(100));
      await reopened.close();
      expect((await verifyAuditLog(io, dir, { expectedSigner: toHex(identity.publicKey) })).ok).toBe(true);
    }
  });

  it('refuses records appended past the head without the node key', async () => {
    const { io, log } = await fresh();
    for (let i = 0; i < 3; i++) await log.append(ev(i));
    await log.close();
    const lines = await readLines(io);
    const last = JSON.parse(lines[2]!);
    const { encodeCanonical, strongHashHex } = await import('@novacron/core');
    const body = { ...last, seq: 4, prev: last.hash, target: 'vm-forged' };
    delete body.hash;
    delete body.sig;
    const forged = { ...body, hash: strongHashHex(encodeCanonical(body)) };
    await writeLines(io, [...lines, JSON.stringify(forged)]);
    expect((await verifyAuditLog(io, dir)).problem?.kind).toBe('head-behind');
    await expectNovacronRejection(
      AuditLog.open({ io, dir, identity: NodeIdentity.generate() }),
      SecurityErrorCode.AUDIT_TAMPERED,
    );
  });
});
