import { systemClock } from '@novacron/core';
import { describe, expect, it } from 'vitest';
import { decodeVm, encodeRecord, KEYS, type VmRecord } from '../../src/cluster/records.js';
import { MemoryStrongStore } from '../../src/cluster/strong-store.js';
import { NodeErrorCode, nodeError } from '../../src/errors.js';
import { abandonMigration, commitOwnership, markMigrating } from '../../src/migration/ownership.js';

const rec: VmRecord = {
  v: 1,
  request: { id: 'v', resources: { cpuMillis: 100, memoryBytes: 4096 } },
  hostId: 'A',
  epoch: 3,
  desired: 'running',
  history: [{ hostId: 'A', epoch: 3, reason: 'created' }],
};

/** A store whose next CAS replies are lost: `applied` says whether the write still landed. */
class LossyStore extends MemoryStrongStore {
  drops: { applied: boolean }[] = [];
  override async cas(key: string, expected: Uint8Array | null, value: Uint8Array): Promise<boolean> {
    const drop = this.drops.shift();
    if (!drop) return super.cas(key, expected, value);
    if (drop.applied) await super.cas(key, expected, value);
    throw nodeError(NodeErrorCode.NO_QUORUM, 'reply lost', { outcome: 'unknown' });
  }
}

async function setup() {
  const store = new LossyStore();
  await store.put(KEYS.vm('v'), encodeRecord(rec));
  const own = { store, clock: systemClock(), vmId: 'v', migrationId: 'm1', from: 'A' };
  await markMigrating(own, { id: 'm1', to: 'B', toNode: 'nb' });
  const read = async () => decodeVm((await store.get(KEYS.vm('v')))!)!;
  return { store, own, read };
}

describe('ownership change in the control log (fencing)', () => {
  it('acknowledgement dropped after the commit landed: the read-back finds it committed (epoch + 1, once)', async () => {
    const { store, own, read } = await setup();
    store.drops.push({ applied: true });
    expect(await commitOwnership(own, { host: 'B' })).toBe('committed');
    const r = await read();
    expect(r).toMatchObject({ hostId: 'B', epoch: 4 });
    expect(r.migration).toBeUndefined();
    expect(r.history.filter((h) => h.reason === 'migrated')).toHaveLength(1);
  });

  it('acknowledgement dropped and the write lost: retried until it commits', async () => {
    const { store, own, read } = await setup();
    store.drops.push({ applied: false }, { applied: false });
    expect(await commitOwnership(own, { host: 'B' })).toBe('committed');
    expect(await read()).toMatchObject({ hostId: 'B', epoch: 4 });
  });

  it('a rollback and a commit racing on the same marked record: only one lands', async () => {
    const { own, read } = await setup();
    const [a, b] = await Promise.all([abandonMigration(own), commitOwnership(own, { host: 'B' })]);
    const r = await read();
    if (r.hostId === 'A') {
      expect([a, b]).toEqual(['rolled-back', 'rolled-back']);
      expect(r.epoch).toBe(3);
    } else {
      expect([a, b]).toEqual(['lost', 'committed']);
      expect(r.epoch).toBe(4);
    }
  });

  it('a failover that moved the VM meanwhile: neither side may resume (lost)', async () => {
    const { store, own } = await setup();
    await store.put(
      KEYS.vm('v'),
      encodeRecord({
        ...rec,
        hostId: 'C',
        epoch: 4,
        history: [...rec.history, { hostId: 'C', epoch: 4, reason: 'failover' }],
      }),
    );
    expect(await commitOwnership(own, { host: 'B' })).toBe('lost');
    expect(await abandonMigration(own)).toBe('lost');
  });

  it('only the owner can mark a VM, and only once', async () => {
    const { own } = await setup();
    await expect(markMigrating(own, { id: 'm2', to: 'B', toNode: 'nb' })).rejects.toMatchObject({
      code: NodeErrorCode.MIGRATION_CONFLICT,
    });
    await expect(markMigrating({ ...own, from: 'B' }, { id: 'm3', to: 'C', toNode: 'nc' })).rejects.toMatchObject({
      code: NodeErrorCode.MIGRATION_CONFLICT,
    });
  });
});
