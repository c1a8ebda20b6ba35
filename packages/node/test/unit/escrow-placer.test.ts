import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNovacronError, ManualClock, nodeFileIO, seededRng } from '@novacron/core';
import { MemoryProvider } from '@novacron/providers';
import { describe, expect, it } from 'vitest';
import {
  decodeVm,
  EscrowPlacer,
  encodeRecord,
  equalBytes,
  type HostRecord,
  KEYS,
  StoreCapacityLedger,
  type StrongStore,
} from '../../src/index.js';

/** A strong store in memory with the local range the placer reads (the control log's KV in a node). */
class MapStore implements StrongStore {
  readonly data = new Map<string, Uint8Array>();
  async get(k: string) {
    return this.data.get(k) ?? null;
  }
  async put(k: string, v: Uint8Array) {
    this.data.set(k, v);
  }
  async delete(k: string) {
    return this.data.delete(k);
  }
  async cas(k: string, expected: Uint8Array | null, v: Uint8Array) {
    const cur = this.data.get(k);
    const ok = expected === null ? cur === undefined : cur !== undefined && equalBytes(cur, expected);
    if (ok) this.data.set(k, v);
    return ok;
  }
  async range(start: string, end = '') {
    return this.localRange(start, end);
  }
  localRange(start: string, end = '') {
    return [...this.data.keys()]
      .filter((k) => k >= start && (end === '' || k < end))
      .sort()
      .map((k) => [k, this.data.get(k)!] as const);
  }
}

const GiB = 2 ** 30;

async function setup(dir: string, store: MapStore, ledger: StoreCapacityLedger) {
  const clock = new ManualClock();
  const host = { id: 'h1', capacity: { cpuMillis: 4000, memoryBytes: 8 * GiB } };
  const provider = new MemoryProvider({ clock, rng: seededRng('esc'), hosts: [host] });
  return EscrowPlacer.open({
    site: 'n1',
    hostId: 'h1',
    dir,
    io: nodeFileIO(),
    store,
    ledger,
    provider,
    fraction: 0.25,
    isLeader: () => true,
  });
}

describe('EscrowPlacer', () => {
  it('grants, places only within escrow, survives a restart before reconciling, then records and releases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-escrow-'));
    const store = new MapStore();
    const ledger = new StoreCapacityLedger({ store, idPrefix: 't' });
    await ledger.upsertHost('h1', { cpuMillis: 4000, memoryBytes: 8 * GiB });
    const host: HostRecord = {
      v: 1,
      id: 'h1',
      nodeId: 'n1',
      capacity: { cpuMillis: 4000, memoryBytes: 8 * GiB },
      labels: {},
      schedulable: true,
    };
    await store.put(KEYS.host('h1'), encodeRecord(host));
    const a = await setup(dir, store, ledger);
    await a.tick(); // the leader grants a quarter; the site records it
    expect(a.remaining()).toMatchObject({ cpuMillis: 1000, memoryBytes: 2 * GiB });
    await a.place({ id: 'v1', resources: { cpuMillis: 800, memoryBytes: GiB } });
    const refused = await a
      .place({ id: 'v2', resources: { cpuMillis: 300, memoryBytes: GiB } })
      .catch((e: unknown) => e);
    expect(isNovacronError(refused, 'NODE_NO_QUORUM')).toBe(true);
    expect(a.holds('v1')).toBe(true);
    await a.close();

    // "Crash" before any reconciliation: the journal and the pending list bring the placement back.
    const b = await setup(dir, store, ledger);
    expect(b.holds('v1')).toBe(true);
    expect(b.remaining().cpuMillis).toBe(200);
    await b.tick();
    const row = () => ledger.snapshot().then((s) => s.hosts.find((h) => h.hostId === 'h1')!);
    expect((await row()).escrow.n1!.committed.cpuMillis).toBe(800);
    expect((await row()).committed.cpuMillis).toBe(0); // never the shared pool
    const rec = decodeVm(store.data.get(KEYS.vm('v1'))!)!;
    expect([rec.hostId, rec.site, rec.history[0]!.reason]).toEqual(['h1', 'n1', 'escrow']);
    expect(b.holds('v1')).toBe(false);

    // The VM is deleted through the log: the site returns its escrow.
    store.data.delete(KEYS.vm('v1'));
    await b.tick();
    expect((await row()).escrow.n1!.committed.cpuMillis).toBe(0);
    expect(b.remaining().cpuMillis).toBe(1000);
    await b.close();
  });
});
