import { AmstReceiver, type TransferSink } from '@novacron/amst';
import {
  type Clock,
  isNovacronError,
  type Logger,
  ProviderErrorCode,
  type Startable,
  type StreamTransport,
  type VmProvider,
} from '@novacron/core';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { MigrationControl } from './control-channel.js';
import { type StreamRecord, MigrationStreamDecoder, RecordType, type StreamHeader } from './migration-wire.js';
import { decodeBatch } from './page-batch-codec.js';
import { memoryDigest } from './memory-digest.js';

/** Options of {@link MigrationDestination}. */
export interface MigrationDestinationInit {
  /** The data path (see `migrationDataTransport`). */
  readonly transport: StreamTransport;
  readonly listenAddress: string;
  /** The provider incoming VMs are created in. */
  readonly provider: VmProvider;
  /** Host id incoming VMs are created on. */
  readonly hostId: string;
  readonly control: MigrationControl;
  readonly clock: Clock;
  /**
   * Fencing: resolves when a stream with this header may be accepted (the
   * control log names this host as the destination of that migration);
   * throws `NODE_MIGRATION_FENCED` otherwise. Default: accept.
   */
  readonly admit?: (header: StreamHeader) => Promise<void>;
  /** Told when a VM has fully arrived (`final`) or switched to post-copy, and when post-copy completes. */
  readonly onArrived?: (header: StreamHeader, how: 'final' | 'postcopy-switch' | 'postcopy-complete') => void;
  readonly logger?: Logger;
}

/** What the destination knows of a VM arriving here. */
export interface Arrival {
  readonly migrationId: string;
  /** Node id of the source. */
  readonly source: string;
  postCopy: boolean;
  /** Digest of the memory as it arrived complete (when the source asked for one). */
  digest?: string;
}

/**
 * The destination half of pages-style migration: an amst receiver on the
 * node's migration port. Each stream (one per pre-copy round, the final
 * round, the post-copy switch, and post-copy pushes) is decoded record by
 * record as it arrives: the first pre-copy round creates the `incoming` VM
 * (after the `admit` fence), page batches are rebuilt against the pages
 * this side holds and checked against their checksum before they are
 * written, and the stream's close completes the VM (`final` → `paused`) or
 * starts post-copy (`paused` with pages missing) — so the source's transfer
 * resolves only once that is done. In post-copy, the guest's touches of
 * missing pages go back to the source as `fault` messages.
 */
export class MigrationDestination implements Startable {
  readonly #i: MigrationDestinationInit;
  readonly #receiver: AmstReceiver;
  readonly #incoming = new Map<string, Arrival>();
  #unsubFault: (() => void) | undefined;

  constructor(init: MigrationDestinationInit) {
    this.#i = init;
    this.#receiver = new AmstReceiver({
      transport: init.transport,
      listenAddress: init.listenAddress,
      clock: init.clock,
      onTransfer: () => this.#sink(),
      resumeWindowMs: 10_000,
      ...(init.logger ? { logger: init.logger } : {}),
    });
  }

  /** Address the receiver listens on (after start). */
  get address(): string | undefined {
    return this.#receiver.address;
  }

  /** VM ids arriving here now (the reconcile loop leaves them alone). */
  incomingVms(): string[] {
    return [...this.#incoming.keys()];
  }

  /** The arrival of `vmId`, if one is known. */
  arrival(vmId: string): Arrival | undefined {
    return this.#incoming.get(vmId);
  }

  /** True while `vmId` is in post-copy here (pages still at the source). */
  inPostCopy(vmId: string): boolean {
    return this.#incoming.get(vmId)?.postCopy === true;
  }

  /** Forgets an arrival (the migration ended or was abandoned). */
  forget(vmId: string): void {
    this.#incoming.delete(vmId);
  }

  async start(): Promise<void> {
    await this.#receiver.start();
    this.#unsubFault = this.#i.provider.onPageFault?.((vmId, page) => {
      const inc = this.#incoming.get(vmId);
      if (inc?.postCopy) this.#i.control.send(inc.source, { t: 'fault', migrationId: inc.migrationId, pages: [page] });
    });
  }

  async stop(): Promise<void> {
    this.#unsubFault?.();
    await this.#receiver.stop();
  }

  #sink(): TransferSink {
    const decoder = new MigrationStreamDecoder();
    let missing: number[] = [];
    let pages = 0;
    let rawBytes = 0;
    const apply = async (r: StreamRecord): Promise<void> => {
      if (r.type === RecordType.HEADER) return this.#open(r.header);
      const h = decoder.header!;
      if (r.type === RecordType.MISSING) {
        for (const p of r.pages) missing.push(p);
        return;
      }
      if (r.type === RecordType.END) {
        if (r.end.pages !== pages || r.end.rawBytes !== rawBytes)
          throw nodeError(NodeErrorCode.MIGRATION_FRAME_CORRUPT, 'migration stream: END does not match the stream', {
            reason: 'end',
          });
        return;
      }
      const p = this.#i.provider;
      // Post-copy batches are literal (no delta): the guest may have changed pages the source resends.
      const base = h.kind === 'postcopy' ? undefined : await p.readPages(h.vmId, r.batch.pages);
      const raw = decodeBatch(r.batch, base ?? new Uint8Array(r.batch.pages.length * h.pageSize), h.pageSize);
      // A page resent after post-copy completed is already here (and maybe newer): skip it.
      if (h.kind !== 'postcopy' || this.inPostCopy(h.vmId)) await p.writePages(h.vmId, r.batch.pages, raw);
      pages += r.batch.pages.length;
      rawBytes += raw.length;
    };
    return {
      write: async (data) => {
        for (const r of decoder.push(data)) await apply(r);
      },
      close: async () => {
        decoder.finish();
        const h = decoder.header!;
        const p = this.#i.provider;
        if (h.kind === 'final') {
          await p.completeIncoming(h.vmId);
          const inc = this.#incoming.get(h.vmId);
          if (inc && h.digest) inc.digest = await memoryDigest(p, h.vmId, h.pageCount);
          this.#i.onArrived?.(h, 'final');
        } else if (h.kind === 'postcopy-switch') {
          if (!p.beginPostCopy) throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, 'provider has no post-copy', {});
          await p.beginPostCopy(h.vmId, Uint32Array.from(missing));
          const inc = this.#incoming.get(h.vmId);
          if (inc) inc.postCopy = missing.length > 0;
          this.#i.onArrived?.(h, 'postcopy-switch');
          missing = [];
        } else if (h.kind === 'postcopy') {
          const left = (await p.missingPages?.(h.vmId))?.length ?? 0;
          const inc = this.#incoming.get(h.vmId);
          if (left === 0 && inc?.postCopy) {
            inc.postCopy = false;
            this.#i.onArrived?.(h, 'postcopy-complete');
          }
        }
      },
      abort: (err) => {
        this.#i.logger?.warn('migration stream failed', { error: err.message });
      },
    };
  }

  async #open(h: StreamHeader): Promise<void> {
    await (this.#i.admit?.(h) ?? Promise.resolve());
    const p = this.#i.provider;
    const known = this.#incoming.get(h.vmId);
    if (h.kind === 'precopy' && h.round === 1) {
      const existing = await p.getVm(h.vmId).catch((err) => {
        if (isNovacronError(err, ProviderErrorCode.NotFound)) return undefined;
        throw err;
      });
      if (existing && existing.state !== 'incoming')
        throw nodeError(NodeErrorCode.MIGRATION_FENCED, `VM ${h.vmId} already exists here (${existing.state})`, {
          vmId: h.vmId,
        });
      // A stale arrival of an abandoned attempt starts over.
      if (existing) await p.deleteVm(h.vmId);
      await p.createVm({
        spec: h.spec,
        hostId: this.#i.hostId,
        incoming: true,
        ...(h.config ? { config: h.config } : {}),
      });
      const geometry = await p.pageGeometry(h.vmId);
      if (geometry.pageSize !== h.pageSize || geometry.pageCount !== h.pageCount) {
        await p.deleteVm(h.vmId).catch(() => undefined);
        throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, 'page geometry differs between source and destination', {
          source: { pageSize: h.pageSize, pageCount: h.pageCount },
          destination: geometry,
        });
      }
      this.#incoming.set(h.vmId, { migrationId: h.migrationId, source: h.source, postCopy: false });
      this.#i.logger?.info('migration arriving', { migration: h.migrationId, vm: h.vmId, from: h.source });
      return;
    }
    if (known?.migrationId !== h.migrationId)
      throw nodeError(NodeErrorCode.MIGRATION_FENCED, `no arrival of migration ${h.migrationId} here`, {
        migrationId: h.migrationId,
      });
  }
}
