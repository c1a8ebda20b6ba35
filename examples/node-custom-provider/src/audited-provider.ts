import { appendFileSync, closeSync, fsyncSync, openSync } from 'node:fs';
import type {
  Duplex,
  MigrationResult,
  OperationOptions,
  PageGeometry,
  ProviderCapabilities,
  ProviderEvent,
  ProviderHost,
  SnapshotInfo,
  StreamMigrationOptions,
  Unsubscribe,
  VmCreateRequest,
  VmInfo,
  VmProvider,
} from '@novacron/core';

/**
 * A provider that wraps any other and writes every state-changing call to
 * an append-only JSON-lines audit log, fsync'd before the call returns (a
 * compliance requirement in many shops). Reads pass straight through.
 */
export class AuditedProvider implements VmProvider {
  readonly name: string;
  readonly #fd: number;

  constructor(
    readonly inner: VmProvider,
    logPath: string,
  ) {
    this.name = `audited-${inner.name}`;
    this.#fd = openSync(logPath, 'a');
  }

  async #audit<T>(op: string, vmId: string | undefined, run: () => Promise<T>): Promise<T> {
    let ok = false;
    try {
      const out = await run();
      ok = true;
      return out;
    } finally {
      appendFileSync(this.#fd, `${JSON.stringify({ at: new Date().toISOString(), op, vmId, ok })}\n`);
      fsyncSync(this.#fd);
    }
  }

  /** Closes the audit log. */
  close(): void {
    closeSync(this.#fd);
  }

  probe(o?: OperationOptions): Promise<ProviderCapabilities> {
    return this.inner.probe(o);
  }
  listHosts(o?: OperationOptions): Promise<ProviderHost[]> {
    return this.inner.listHosts(o);
  }
  createVm(r: VmCreateRequest, o?: OperationOptions): Promise<VmInfo> {
    return this.#audit('create', r?.spec?.id, () => this.inner.createVm(r, o));
  }
  getVm(id: string, o?: OperationOptions): Promise<VmInfo> {
    return this.inner.getVm(id, o);
  }
  listVms(hostId?: string, o?: OperationOptions): Promise<VmInfo[]> {
    return this.inner.listVms(hostId, o);
  }
  startVm(id: string, o?: OperationOptions): Promise<VmInfo> {
    return this.#audit('start', id, () => this.inner.startVm(id, o));
  }
  pauseVm(id: string, o?: OperationOptions): Promise<VmInfo> {
    return this.#audit('pause', id, () => this.inner.pauseVm(id, o));
  }
  resumeVm(id: string, o?: OperationOptions): Promise<VmInfo> {
    return this.#audit('resume', id, () => this.inner.resumeVm(id, o));
  }
  stopVm(id: string, o?: OperationOptions): Promise<VmInfo> {
    return this.#audit('stop', id, () => this.inner.stopVm(id, o));
  }
  deleteVm(id: string, o?: OperationOptions): Promise<void> {
    return this.#audit('delete', id, () => this.inner.deleteVm(id, o));
  }
  snapshotVm(id: string, o?: OperationOptions): Promise<SnapshotInfo> {
    return this.#audit('snapshot', id, () => this.inner.snapshotVm(id, o));
  }
  listSnapshots(id: string, o?: OperationOptions): Promise<SnapshotInfo[]> {
    return this.inner.listSnapshots(id, o);
  }
  restoreVm(id: string, snapshotId: string, o?: OperationOptions): Promise<VmInfo> {
    return this.#audit('restore', id, () => this.inner.restoreVm(id, snapshotId, o));
  }
  migrateSend(id: string, stream: Duplex, o?: StreamMigrationOptions): Promise<MigrationResult> {
    return this.#audit('migrate-send', id, () => this.inner.migrateSend(id, stream, o));
  }
  migrateReceive(id: string, stream: Duplex, o?: StreamMigrationOptions): Promise<MigrationResult> {
    return this.#audit('migrate-receive', id, () => this.inner.migrateReceive(id, stream, o));
  }
  pageGeometry(id: string, o?: OperationOptions): Promise<PageGeometry> {
    return this.inner.pageGeometry(id, o);
  }
  startDirtyTracking(id: string, o?: OperationOptions): Promise<void> {
    return this.inner.startDirtyTracking(id, o);
  }
  collectDirtyPages(id: string, o?: OperationOptions): Promise<Uint32Array> {
    return this.inner.collectDirtyPages(id, o);
  }
  stopDirtyTracking(id: string, o?: OperationOptions): Promise<void> {
    return this.inner.stopDirtyTracking(id, o);
  }
  readPages(id: string, pages: Uint32Array, o?: OperationOptions): Promise<Uint8Array> {
    return this.inner.readPages(id, pages, o);
  }
  writePages(id: string, pages: Uint32Array, data: Uint8Array, o?: OperationOptions): Promise<void> {
    return this.#audit('write-pages', id, () => this.inner.writePages(id, pages, data, o));
  }
  setDirtyRateLimit(id: string, bps: number | undefined, o?: OperationOptions): Promise<void> {
    return this.inner.setDirtyRateLimit(id, bps, o);
  }
  completeIncoming(id: string, o?: OperationOptions): Promise<VmInfo> {
    return this.#audit('complete-incoming', id, () => this.inner.completeIncoming(id, o));
  }
  onEvent(listener: (event: ProviderEvent) => void): Unsubscribe {
    return this.inner.onEvent(listener);
  }
}
