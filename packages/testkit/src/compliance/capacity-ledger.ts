import { type CapacityLedger, CoreErrorCode, type HostClaim, type ResourceVector, seededRng } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link capacityLedgerCompliance} tests: an empty ledger and a way to move its clock. */
export interface CapacityLedgerFixture {
  /** The implementation under test, with no hosts. */
  readonly ledger: CapacityLedger;
  /** Moves the ledger's clock forward by `ms` (TTLs are measured on it). */
  advance(ms: number): void | Promise<void>;
}

/** Options of {@link capacityLedgerCompliance}. */
export interface CapacityLedgerComplianceOptions {
  /** Random operation sequences in the round-trip fuzz test (default 10,000, as the issue asks). */
  readonly sequences?: number;
  /** Seed of the fuzz test (printed on failure). */
  readonly seed?: number;
}

const cpu = (cpuMillis: number, memoryBytes = 0): ResourceVector => ({ cpuMillis, memoryBytes });
const claim = (hostId: string, cpuMillis: number, memoryBytes = 0): HostClaim => ({
  hostId,
  resources: cpu(cpuMillis, memoryBytes),
});

/**
 * The `CapacityLedger` contract as a vitest suite: reserve → commit or
 * rollback, TTL expiry on the injected clock (also when committing late),
 * all-or-none gang reservations, generation-based conflict detection,
 * escrow pools that never mix with shared capacity, release of committed
 * capacity, typed errors, and a fuzz test that runs thousands of random
 * reserve/commit/rollback/expire/release/escrow sequences and checks after
 * each that undoing it returns the ledger exactly to its prior snapshot,
 * and during each that no host is ever overcommitted.
 *
 * ```ts
 * import { capacityLedgerCompliance } from '@novacron/testkit/compliance/capacity-ledger';
 * capacityLedgerCompliance('mine', { setup: () => { const clock = new ManualClock(); return { ledger: myLedger(clock), advance: (ms) => clock.advance(ms) }; } });
 * ```
 */
export function capacityLedgerCompliance(
  name: string,
  fixtures: ComplianceFixtures<CapacityLedgerFixture>,
  options: CapacityLedgerComplianceOptions = {},
): void {
  describe(`CapacityLedger compliance: ${name}`, () => {
    let f: CapacityLedgerFixture;
    let l: CapacityLedger;
    beforeEach(async () => {
      f = await fixtures.setup();
      l = f.ledger;
      await l.addHost('h1', cpu(4000, 1000));
      await l.addHost('h2', cpu(4000, 1000));
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    it('reserve holds capacity; commit keeps it; rollback returns it', async () => {
      const r = await l.reserve([claim('h1', 1000, 100)], { ttlMs: 1000 });
      expect((await l.available('h1')).cpuMillis).toBe(3000);
      await l.commit(r.id);
      expect((await l.available('h1')).cpuMillis).toBe(3000);
      const r2 = await l.reserve([claim('h1', 500)], { ttlMs: 1000 });
      await l.rollback(r2.id);
      expect((await l.available('h1')).cpuMillis).toBe(3000);
      await l.release([claim('h1', 1000, 100)]);
      expect(await l.available('h1')).toMatchObject({ cpuMillis: 4000, memoryBytes: 1000 });
    });

    it('an over-large reservation is refused with CORE_LEDGER_INSUFFICIENT', async () => {
      await expect(l.reserve([claim('h1', 4001)], { ttlMs: 1000 })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      await l.reserve([claim('h1', 3000)], { ttlMs: 1000 });
      await expect(l.reserve([claim('h1', 1001)], { ttlMs: 1000 })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
    });

    it('a gang reservation is all or nothing', async () => {
      const before = await l.snapshot();
      await expect(l.reserve([claim('h1', 1000), claim('h2', 5000)], { ttlMs: 1000 })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      expect(await l.snapshot()).toEqual(before);
      // Two claims on one host count together.
      await expect(l.reserve([claim('h1', 3000), claim('h1', 1500)], { ttlMs: 1000 })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      const r = await l.reserve([claim('h1', 2000), claim('h2', 2000)], { ttlMs: 1000 });
      expect(r.claims).toHaveLength(2);
    });

    it('reservations expire after their TTL and can then be neither committed nor rolled back', async () => {
      const r = await l.reserve([claim('h1', 1000)], { ttlMs: 100 });
      await f.advance(99);
      expect(await l.expire()).toEqual([]);
      await f.advance(1);
      expect(await l.expire()).toEqual([r.id]);
      expect((await l.available('h1')).cpuMillis).toBe(4000);
      await expect(l.commit(r.id)).rejects.toMatchObject({ code: CoreErrorCode.LEDGER_UNKNOWN_RESERVATION });
      await expect(l.rollback(r.id)).rejects.toMatchObject({ code: CoreErrorCode.LEDGER_UNKNOWN_RESERVATION });
    });

    it('a reservation past its TTL cannot be committed even before a sweep', async () => {
      const r = await l.reserve([claim('h1', 1000)], { ttlMs: 100 });
      await f.advance(150);
      await expect(l.commit(r.id)).rejects.toMatchObject({ code: CoreErrorCode.LEDGER_UNKNOWN_RESERVATION });
      expect((await l.available('h1')).cpuMillis).toBe(4000);
    });

    it('generations detect a conflicting placer', async () => {
      const g = await l.generation('h1');
      // Placer B reserves on h1 after placer A read its generation.
      await l.reserve([claim('h1', 100)], { ttlMs: 1000 });
      expect(await l.generation('h1')).toBeGreaterThan(g);
      await expect(
        l.reserve([claim('h1', 100)], { ttlMs: 1000, expectedGenerations: { h1: g } }),
      ).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_CONFLICT,
      });
      const g2 = await l.generation('h1');
      await l.reserve([claim('h1', 100)], { ttlMs: 1000, expectedGenerations: { h1: g2 } });
    });

    it('escrow: a site draws only on its grant, shared reservations never touch it', async () => {
      await l.grantEscrow('edge', claim('h1', 3000));
      expect((await l.available('h1')).cpuMillis).toBe(1000);
      expect((await l.escrowAvailable('edge', 'h1')).cpuMillis).toBe(3000);
      await expect(l.reserve([claim('h1', 1500)], { ttlMs: 1000 })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      const r = await l.reserve([claim('h1', 2500)], { ttlMs: 1000, site: 'edge' });
      await expect(l.reserve([claim('h1', 600)], { ttlMs: 1000, site: 'edge' })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      await expect(l.reserve([claim('h2', 1)], { ttlMs: 1000, site: 'edge' })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      await l.commit(r.id);
      await expect(l.revokeEscrow('edge', claim('h1', 1000))).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_INSUFFICIENT,
      });
      await l.revokeEscrow('edge', claim('h1', 500));
      expect((await l.available('h1')).cpuMillis).toBe(1500);
      await l.release([claim('h1', 2500)], { site: 'edge' });
      expect((await l.escrowAvailable('edge', 'h1')).cpuMillis).toBe(2500);
    });

    it('unknown hosts and reservations get typed errors', async () => {
      await expect(l.reserve([claim('nope', 1)], { ttlMs: 1000 })).rejects.toMatchObject({
        code: CoreErrorCode.LEDGER_UNKNOWN_HOST,
      });
      await expect(l.available('nope')).rejects.toMatchObject({ code: CoreErrorCode.LEDGER_UNKNOWN_HOST });
      await expect(l.commit('r-unknown')).rejects.toMatchObject({ code: CoreErrorCode.LEDGER_UNKNOWN_RESERVATION });
      await expect(l.reserve([claim('h1', -5)], { ttlMs: 1000 })).rejects.toMatchObject({ name: 'NovacronError' });
      await expect(l.reserve([claim('h1', 5)], { ttlMs: 0 })).rejects.toMatchObject({ name: 'NovacronError' });
    });

    it(`returns exactly to its prior state after ${options.sequences ?? 10_000} random sequences`, async () => {
      const seed = options.seed ?? 10;
      const rng = seededRng(seed);
      const hosts = ['h1', 'h2', 'h3'];
      await l.addHost('h3', cpu(8000, 4000));
      await l.grantEscrow('edge', claim('h3', 2000, 1000));
      const capacityOf: Record<string, ResourceVector> = {
        h1: cpu(4000, 1000),
        h2: cpu(4000, 1000),
        h3: cpu(8000, 4000),
      };
      const initial = await l.snapshot();
      const sequences = options.sequences ?? 10_000;
      for (let s = 0; s < sequences; s++) {
        const live: { id: string; site?: string; claims: HostClaim[] }[] = [];
        const committed: { site?: string; claims: HostClaim[] }[] = [];
        const steps = rng.int(1, 8);
        for (let k = 0; k < steps; k++) {
          const op = rng.int(0, 5);
          if (op <= 1 || live.length === 0) {
            const n = rng.int(1, 2);
            const claims = Array.from({ length: n }, () => claim(rng.pick(hosts), rng.int(0, 3000), rng.int(0, 800)));
            const site = rng.chance(0.25) ? 'edge' : undefined;
            try {
              const r = await l.reserve(claims, { ttlMs: rng.int(1, 50), ...(site ? { site } : {}) });
              live.push({ id: r.id, claims, ...(site ? { site } : {}) });
            } catch (err) {
              expect((err as { code?: string }).code, `seed ${seed} sequence ${s}`).toBe(
                CoreErrorCode.LEDGER_INSUFFICIENT,
              );
            }
          } else if (op === 2) {
            const r = live.splice(rng.int(0, live.length - 1), 1)[0]!;
            try {
              await l.commit(r.id);
              committed.push({ claims: r.claims, ...(r.site ? { site: r.site } : {}) });
            } catch (err) {
              expect((err as { code?: string }).code).toBe(CoreErrorCode.LEDGER_UNKNOWN_RESERVATION);
            }
          } else if (op === 3) {
            const r = live.splice(rng.int(0, live.length - 1), 1)[0]!;
            await l
              .rollback(r.id)
              .catch((err: { code?: string }) => expect(err.code).toBe(CoreErrorCode.LEDGER_UNKNOWN_RESERVATION));
          } else if (op === 4) {
            await f.advance(rng.int(1, 30));
            const gone = new Set(await l.expire());
            for (let i = live.length - 1; i >= 0; i--) if (gone.has(live[i]!.id)) live.splice(i, 1);
          } else if (committed.length > 0) {
            const c = committed.splice(rng.int(0, committed.length - 1), 1)[0]!;
            await l.release(c.claims, c.site ? { site: c.site } : {});
          }
          // No host is ever overcommitted: every pool stays within its bounds.
          const snap = await l.snapshot();
          for (const row of snap.hosts) {
            const cap = capacityOf[row.hostId]!;
            let used = row.committed.cpuMillis + row.reserved.cpuMillis;
            let usedMem = row.committed.memoryBytes + row.reserved.memoryBytes;
            for (const p of Object.values(row.escrow)) {
              used += p.granted.cpuMillis;
              usedMem += p.granted.memoryBytes;
              expect(p.reserved.cpuMillis + p.committed.cpuMillis).toBeLessThanOrEqual(p.granted.cpuMillis);
            }
            expect(used, `seed ${seed} sequence ${s} host ${row.hostId}`).toBeLessThanOrEqual(cap.cpuMillis);
            expect(usedMem).toBeLessThanOrEqual(cap.memoryBytes);
          }
        }
        // Undo: roll back what is live, release what was committed.
        for (const r of live) await l.rollback(r.id).catch(() => undefined);
        for (const c of committed) await l.release(c.claims, c.site ? { site: c.site } : {});
        await l.expire();
        expect(await l.snapshot(), `seed ${seed} sequence ${s}`).toEqual(initial);
      }
    });
  });
}
