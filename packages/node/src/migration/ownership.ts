import { type Clock, isNovacronError } from '@novacron/core';
import { NodeErrorCode, nodeError } from '../errors.js';
import { decodeVm, encodeRecord, KEYS, type VmMigrationMarker, type VmRecord } from '../cluster/records.js';
import type { StrongStore } from '../cluster/strong-store.js';

/** How an ownership change ended. */
export type CommitOutcome =
  /** The destination owns the VM (epoch + 1). */
  | 'committed'
  /** The migration was undone in the log; the source still owns the VM. */
  | 'rolled-back'
  /** Someone else moved the VM meanwhile (failover): neither the source nor this migration's destination owns it. */
  | 'lost';

/** Options of the ownership steps. */
export interface OwnershipInit {
  readonly store: StrongStore;
  readonly clock: Clock;
  readonly vmId: string;
  readonly migrationId: string;
  /** Source host id. */
  readonly from: string;
  /** How long to keep retrying a read while the log has no quorum (default: forever; the VM stays paused). */
  readonly giveUpAfterMs?: number;
}

const sleep = (clock: Clock, ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));

async function load(store: StrongStore, vmId: string): Promise<{ bytes: Uint8Array; rec: VmRecord } | undefined> {
  const bytes = await store.get(KEYS.vm(vmId));
  const rec = bytes ? decodeVm(bytes) : undefined;
  return bytes && rec ? { bytes, rec } : undefined;
}

/**
 * Marks a VM as migrating to `to` (one CAS in the control log): only a VM
 * this host owns, with no migration in flight, can be marked.
 * @throws `NODE_MIGRATION_CONFLICT`, `NODE_VM_NOT_FOUND`, `NODE_NO_QUORUM`.
 */
export async function markMigrating(i: OwnershipInit, marker: VmMigrationMarker): Promise<VmRecord> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await load(i.store, i.vmId);
    if (!cur) throw nodeError(NodeErrorCode.VM_NOT_FOUND, `no VM ${i.vmId}`, { vmId: i.vmId });
    const { rec } = cur;
    if (rec.hostId !== i.from)
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${i.vmId} is owned by ${rec.hostId}, not ${i.from}`, {
        reason: 'not-owner',
        owner: rec.hostId,
      });
    if (rec.migration)
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${i.vmId} is already migrating (${rec.migration.id})`, {
        reason: 'migrating',
        migrationId: rec.migration.id,
      });
    if (rec.desired !== 'running')
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${i.vmId} is not meant to run`, { reason: 'stopped' });
    const next: VmRecord = { ...rec, migration: marker };
    if (await i.store.cas(KEYS.vm(i.vmId), cur.bytes, encodeRecord(next))) return next;
  }
  throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${i.vmId} keeps changing; retry`, { reason: 'contention' });
}

/**
 * Commits the ownership change source → destination: epoch + 1, host =
 * destination, marker cleared, in one CAS against the marked record. When
 * the reply is lost (leader died, message dropped) the outcome is found by
 * reading the record back, and the same CAS is retried while the marker is
 * still there: the commit and a rollback both expect the marked record, so
 * at most one of them can ever land. Reads are retried while the log has no
 * quorum; the caller keeps the VM paused meanwhile, never resuming it on a
 * guess.
 */
export function commitOwnership(i: OwnershipInit, to: { host: string }): Promise<CommitOutcome> {
  return resolve(i, to.host);
}

/** Undoes a migration in the log (clears the marker); `rolled-back` when the source still owns the VM. */
export function abandonMigration(i: OwnershipInit): Promise<CommitOutcome> {
  return resolve(i, undefined);
}

async function resolve(i: OwnershipInit, toHost: string | undefined): Promise<CommitOutcome> {
  const deadline = i.giveUpAfterMs === undefined ? Number.POSITIVE_INFINITY : i.clock.now() + i.giveUpAfterMs;
  let markedEpoch: number | undefined;
  for (let attempt = 0; ; attempt++) {
    const retry = async (err: unknown) => {
      if (!isNovacronError(err, NodeErrorCode.NO_QUORUM) || i.clock.now() > deadline) throw err;
      await sleep(i.clock, Math.min(1000, 100 * (attempt + 1)));
    };
    let cur: Awaited<ReturnType<typeof load>>;
    try {
      cur = await load(i.store, i.vmId);
    } catch (err) {
      await retry(err);
      continue;
    }
    if (!cur) return 'lost';
    const { rec } = cur;
    if (rec.migration?.id !== i.migrationId) {
      // Our marker is gone: our commit landed, our rollback landed, or someone else moved the VM.
      const e = markedEpoch ?? rec.epoch;
      const migrated = rec.history.at(-1);
      if (
        toHost !== undefined &&
        rec.hostId === toHost &&
        migrated?.reason === 'migrated' &&
        migrated.hostId === toHost &&
        (markedEpoch === undefined || rec.epoch === e + 1)
      )
        return 'committed';
      return rec.hostId === i.from && (markedEpoch === undefined || rec.epoch === e) ? 'rolled-back' : 'lost';
    }
    markedEpoch = rec.epoch;
    const next: VmRecord =
      toHost === undefined
        ? { ...rec, migration: undefined }
        : {
            ...rec,
            hostId: toHost,
            epoch: rec.epoch + 1,
            migration: undefined,
            history: [...rec.history, { hostId: toHost, epoch: rec.epoch + 1, reason: 'migrated' as const }].slice(-20),
          };
    try {
      if (await i.store.cas(KEYS.vm(i.vmId), cur.bytes, encodeRecord(next)))
        return toHost === undefined ? 'rolled-back' : 'committed';
      // The record changed under us (say, a desired-state change): read it again and retry on the new value.
    } catch (err) {
      // Outcome unknown: the next read tells.
      await retry(err);
    }
  }
}
