import { join } from 'node:path';
import {
  atomicWriteFile,
  type FileIO,
  fitsWithin,
  isNovacronError,
  type Logger,
  type PlacementRequest,
  type ResourceVector,
  subtractResources,
  type VmProvider,
  CoreErrorCode,
} from '@novacron/core';
import { EscrowSite } from '@novacron/itp';
import { NodeErrorCode, nodeError } from '../errors.js';
import { decodeHost, decodeVm, encodeRecord, KEYS, type VmRecord } from './records.js';
import type { StoreCapacityLedger } from './store-capacity-ledger.js';
import type { StrongStore } from './strong-store.js';

/** Options of {@link EscrowPlacer.open}. */
export interface EscrowPlacerInit {
  /** This node's escrow site (its node id). */
  readonly site: string;
  /** The host this node runs (the only one its escrow is on). */
  readonly hostId: string;
  /** Directory for the journal (`escrow.journal`) and the pending VM list (`escrow-vms.json`). */
  readonly dir: string;
  readonly io: FileIO;
  /** The strong namespace (VM records, host inventory). */
  readonly store: StrongStore & {
    localRange(start: string, end?: string): readonly (readonly [string, Uint8Array])[];
  };
  /** The capacity ledger in the control log. */
  readonly ledger: StoreCapacityLedger;
  readonly provider: VmProvider;
  /** Share of each host's capacity the leader escrows to the host's own site (0 disables escrow). */
  readonly fraction: number;
  /** True while this node leads the control log. */
  readonly isLeader: () => boolean;
  readonly logger?: Logger;
}

interface PendingFile {
  readonly v: 1;
  /** VMs placed on escrow: request, and whether their record is in the log yet. */
  readonly vms: Record<string, { readonly request: PlacementRequest; readonly recorded: boolean }>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function scale(r: ResourceVector, f: number): ResourceVector {
  return {
    cpuMillis: Math.floor(r.cpuMillis * f),
    memoryBytes: Math.floor(r.memoryBytes * f),
    ...(r.diskBytes ? { diskBytes: Math.floor(r.diskBytes * f) } : {}),
  };
}

const isZero = (r: ResourceVector) => r.cpuMillis === 0 && r.memoryBytes === 0 && !r.diskBytes;

/**
 * Placement while the control log is unreachable (DESIGN.md, "Rules that
 * keep the cluster correct"): the leader escrows a share of every host's
 * capacity to the host's own site in the ledger; each node records the grant
 * in itp's durable {@link EscrowSite} journal. Cut off from the log, a node
 * places new VMs only onto its own host and only within that escrow, never
 * onto shared capacity; each placement is fsync'd in the journal before the
 * VM starts. Once the log is reachable again the journal is reconciled into
 * the ledger (on the site's escrow) and the VMs' records are written with
 * the site named, so their capacity keeps coming from the escrow; a VM whose
 * id was taken meanwhile is stopped, deleted and its escrow released. When
 * an escrowed VM leaves this host (deleted or moved) this node returns its
 * escrow to the site.
 */
export class EscrowPlacer {
  readonly #i: EscrowPlacerInit;
  readonly #site: EscrowSite;
  #pending: PendingFile;
  #busy = false;
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(init: EscrowPlacerInit, site: EscrowSite, pending: PendingFile) {
    this.#i = init;
    this.#site = site;
    this.#pending = pending;
  }

  /** Opens the journal and the pending list (creating them when absent). */
  static async open(init: EscrowPlacerInit): Promise<EscrowPlacer> {
    await init.io.mkdir(init.dir);
    const site = await EscrowSite.open({ site: init.site, io: init.io, path: join(init.dir, 'escrow.journal') });
    let pending: PendingFile = { v: 1, vms: {} };
    if (await init.io.stat(join(init.dir, 'escrow-vms.json'))) {
      const raw = JSON.parse(dec.decode(await init.io.readFile(join(init.dir, 'escrow-vms.json')))) as PendingFile;
      if (raw?.v === 1 && typeof raw.vms === 'object' && raw.vms !== null) pending = raw;
    }
    return new EscrowPlacer(init, site, pending);
  }

  /** Escrow this site may still place onto, on its host. */
  remaining(): ResourceVector {
    return this.#site.remaining(this.#i.hostId);
  }

  /** True when `vmId` was placed on escrow and the log does not know it yet (the controller keeps it running). */
  holds(vmId: string): boolean {
    return this.#pending.vms[vmId]?.recorded === false;
  }

  /** Escrowed VMs whose records are not in the log yet. */
  get unrecorded(): number {
    return Object.values(this.#pending.vms).filter((v) => !v.recorded).length;
  }

  /**
   * Places `request` on this host's escrow while the log is unreachable:
   * `NODE_NO_QUORUM` (with `details.escrow`) when it does not fit what is
   * left of the escrow, so shared capacity is never used.
   */
  place(request: PlacementRequest): Promise<VmRecord> {
    return this.#exclusive(() => this.#place(request));
  }

  /** Journal appends and ledger steps never interleave between a placement and a round. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  async #place(request: PlacementRequest): Promise<VmRecord> {
    const hostId = this.#i.hostId;
    const left = this.remaining();
    if (this.#pending.vms[request.id] || !fitsWithin(request.resources, left))
      throw nodeError(
        NodeErrorCode.NO_QUORUM,
        `the control log is unreachable and VM ${request.id} does not fit this node's escrow`,
        { vmId: request.id, escrow: { hostId, remaining: left } },
      );
    await this.#site.consume(request.id, hostId, request.resources);
    await this.#save({ ...this.#pending.vms, [request.id]: { request, recorded: false } });
    const vm = await this.#i.provider.createVm(
      { spec: { id: request.id, resources: request.resources }, hostId },
      { idempotencyKey: `${request.id}@escrow` },
    );
    if (vm.state === 'stopped') await this.#i.provider.startVm(request.id);
    this.#i.logger?.info('vm placed on escrow', { vm: request.id, host: hostId });
    return this.#record(request);
  }

  #record(request: PlacementRequest): VmRecord {
    return {
      v: 1,
      request,
      hostId: this.#i.hostId,
      epoch: 1,
      desired: 'running',
      history: [{ hostId: this.#i.hostId, epoch: 1, reason: 'escrow' }],
      site: this.#i.site,
    };
  }

  /**
   * One round (run periodically; each step needs the log and simply fails
   * while it is unreachable): the leader grants missing escrow; this node
   * records its grant, reconciles its journal, writes the records of VMs it
   * placed on escrow, and returns the escrow of VMs that left its host.
   */
  async tick(): Promise<void> {
    if (this.#busy || this.#i.fraction <= 0) return;
    this.#busy = true;
    try {
      await this.#exclusive(() => this.#round());
    } finally {
      this.#busy = false;
    }
  }

  async #round(): Promise<void> {
    if (this.#i.isLeader()) await this.#grant();
    await this.#learnGrant();
    await this.#site.reconcile(this.#i.ledger, { ttlMs: 60_000 });
    await this.#recordVms();
    await this.#releaseDeparted();
  }

  async #grant(): Promise<void> {
    const snap = await this.#i.ledger.snapshot();
    for (const [, bytes] of await this.#i.store.range(KEYS.hostsStart, KEYS.hostsEnd)) {
      const h = decodeHost(bytes);
      const row = h && snap.hosts.find((r) => r.hostId === h.id);
      if (!h || !row || row.escrow[h.nodeId]) continue;
      const share = scale(h.capacity, this.#i.fraction);
      if (isZero(share)) continue;
      try {
        await this.#i.ledger.grantEscrow(h.nodeId, { hostId: h.id, resources: share });
        this.#i.logger?.info('escrow granted', { site: h.nodeId, host: h.id });
      } catch (err) {
        // A host already full keeps no escrow; its site then cannot place while cut off.
        if (!isNovacronError(err, CoreErrorCode.LEDGER_INSUFFICIENT)) throw err;
      }
    }
  }

  async #learnGrant(): Promise<void> {
    const row = (await this.#i.ledger.snapshot()).hosts.find((r) => r.hostId === this.#i.hostId);
    const granted = row?.escrow[this.#i.site]?.granted;
    if (!granted) return;
    const have = this.#site.granted(this.#i.hostId);
    if (fitsWithin(granted, have)) return;
    const diff = subtractResources(granted, {
      cpuMillis: Math.min(granted.cpuMillis, have.cpuMillis),
      memoryBytes: Math.min(granted.memoryBytes, have.memoryBytes),
      ...(granted.diskBytes ? { diskBytes: Math.min(granted.diskBytes, have.diskBytes ?? 0) } : {}),
    });
    await this.#site.recordGrant(this.#i.hostId, diff);
  }

  async #recordVms(): Promise<void> {
    for (const [id, p] of Object.entries(this.#pending.vms)) {
      if (p.recorded) continue;
      const ok = await this.#i.store.cas(KEYS.vm(id), null, encodeRecord(this.#record(p.request)));
      if (ok) {
        await this.#save({ ...this.#pending.vms, [id]: { ...p, recorded: true } });
        this.#i.logger?.info('escrow placement recorded', { vm: id });
        continue;
      }
      // The id was taken while we were cut off: ours yields.
      this.#i.logger?.warn('escrow placement lost its id to another VM; removing it', { vm: id });
      await this.#i.provider.stopVm(id).catch(() => undefined);
      await this.#i.provider.deleteVm(id).catch(() => undefined);
      await this.#site.release(id);
      await this.#site.reconcile(this.#i.ledger, { ttlMs: 60_000 });
      const { [id]: _gone, ...rest } = this.#pending.vms;
      await this.#save(rest);
    }
  }

  async #releaseDeparted(): Promise<void> {
    const here = new Set(
      this.#i.store
        .localRange(KEYS.vmsStart, KEYS.vmsEnd)
        .flatMap(([, v]) => decodeVm(v) ?? [])
        .filter((v) => v.hostId === this.#i.hostId && v.site === this.#i.site)
        .map((v) => v.request.id),
    );
    for (const id of this.#site.vmIds()) {
      const p = this.#pending.vms[id];
      if (!p?.recorded || here.has(id)) continue;
      // Confirm with a linearizable read before giving the escrow back.
      const bytes = await this.#i.store.get(KEYS.vm(id));
      const rec = bytes ? decodeVm(bytes) : undefined;
      if (rec && rec.hostId === this.#i.hostId && rec.site === this.#i.site) continue;
      await this.#site.release(id);
      await this.#site.reconcile(this.#i.ledger, { ttlMs: 60_000 });
      const { [id]: _gone, ...rest } = this.#pending.vms;
      await this.#save(rest);
    }
  }

  async #save(vms: PendingFile['vms']): Promise<void> {
    const next: PendingFile = { v: 1, vms };
    await atomicWriteFile(this.#i.io, join(this.#i.dir, 'escrow-vms.json'), enc.encode(JSON.stringify(next)));
    this.#pending = next;
  }

  /** Closes the journal. */
  close(): Promise<void> {
    return this.#site.close();
  }
}
