import { randomBytes } from 'node:crypto';
import type { TlsCredentials, TlsTrust } from '@novacron/amst';
import {
  type Clock,
  decodeMsgpack,
  encodeMsgpack,
  type Logger,
  type PeerNetwork,
  type VmProvider,
} from '@novacron/core';
import type { ClusterController } from '../cluster/cluster-controller.js';
import type { EventHub } from '../cluster/event-hub.js';
import type { PlacementPlanner } from '../cluster/placement-planner.js';
import { decodeVm, KEYS } from '../cluster/records.js';
import type { StoreCapacityLedger } from '../cluster/store-capacity-ledger.js';
import type { StrongStore } from '../cluster/strong-store.js';
import { workloadConfig } from '../cluster/workload-config.js';
import type { NodeConfig } from '../config/schema.js';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import { type MigrationControl, peerMigrationControl } from './control-channel.js';
import { migrationDataTransport } from './data-transport.js';
import { MigrationDestination } from './migration-destination.js';
import type { MigrationPhase, MigrationProgress } from './migration-progress.js';
import { MigrationRates } from './migration-rates.js';
import { type MigrationEngineConfig, MigrationSource } from './migration-source.js';
import { abandonMigration, commitOwnership, markMigrating, type OwnershipInit } from './ownership.js';
import { codecForPreset } from './page-batch-codec.js';

/** Membership meta key advertising a node's migration data address. */
export const MIGRATION_META = 'migration';

/** A migration as the control log records it (`migrations/<id>`). */
export interface MigrationRecord {
  readonly v: 1;
  readonly id: string;
  readonly vmId: string;
  readonly from: string;
  readonly to: string;
  readonly fromNode: string;
  readonly toNode: string;
  readonly phase: MigrationPhase;
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly mode?: 'precopy' | 'postcopy';
  readonly rounds?: number;
  readonly rawBytes?: number;
  readonly wireBytes?: number;
  readonly downtimeMs?: number;
  readonly totalMs?: number;
  readonly error?: { readonly code: string; readonly message: string };
}

/** What the manager needs from the node. */
export interface MigrationManagerInit {
  readonly nodeId: string;
  readonly hostId: string;
  readonly config: NodeConfig;
  readonly provider: VmProvider;
  readonly store: StrongStore;
  readonly ledger: StoreCapacityLedger;
  readonly network: PeerNetwork;
  readonly membership: Membership;
  readonly cluster: ClusterController;
  readonly planner: PlacementPlanner;
  readonly policy: () => string;
  readonly mode: () => { mode: 'datacenter' | 'internet' | 'hybrid'; hdeCodec: string };
  readonly events: EventHub;
  readonly clock: Clock;
  /** TLS settings of the data path (the node's certificate and trust); `undefined`: plain TCP (`security.insecure`). */
  readonly tls?: () => { readonly credentials: TlsCredentials; readonly trust: TlsTrust } | undefined;
  readonly logger?: Logger;
}

/** Options of a migration request. */
export interface MigrateOptions {
  /** Destination host id (default: itp picks one). */
  readonly to?: string;
  /** Downtime budget of this migration in ms (default: the config's). */
  readonly downtimeBudgetMs?: number;
}

interface Running {
  readonly source: MigrationSource;
  readonly done: Promise<MigrationProgress>;
  last: MigrationProgress;
}

/**
 * Live migration in the node: plans (itp checks the destination, the
 * capacity ledger reserves it through the control log), marks the VM as
 * migrating in its record, runs the pages-style engine to the destination
 * node's migration port, commits the ownership change (epoch + 1) before
 * the destination resumes the VM, and cleans up (capacity released on the
 * side that no longer holds the VM; a `migrations/<id>` record kept in the
 * log). Also the destination side for migrations coming here: it admits
 * only streams the log backs, and tells the source when the VM resumed.
 * Progress goes to the node's event stream as `migration.progress`.
 */
export class MigrationManager {
  readonly #i: MigrationManagerInit;
  readonly #running = new Map<string, Running>();
  readonly #finished = new Map<string, MigrationProgress>();
  readonly #outgoing = new Set<string>();
  readonly #rates: MigrationRates;
  #control: MigrationControl | undefined;
  #destination: MigrationDestination | undefined;
  #transport: ReturnType<typeof migrationDataTransport> | undefined;
  #lastEmit = new Map<string, number>();
  #unsubControl: (() => void) | undefined;

  constructor(init: MigrationManagerInit) {
    this.#i = init;
    this.#rates = new MigrationRates({ bytesPerSecond: init.config.migration.bandwidthBytesPerSecond });
  }

  /** The shared allocation of outgoing migrations (pba). */
  get rates(): MigrationRates {
    return this.#rates;
  }

  /** The migration data address (after start). */
  get dataAddress(): string | undefined {
    return this.#destination?.address;
  }

  async start(): Promise<void> {
    const c = this.#i.config.migration;
    this.#control = peerMigrationControl(this.#i.network);
    this.#transport = migrationDataTransport({ listen: c.listen, clock: this.#i.clock, tls: this.#i.tls?.() });
    this.#destination = new MigrationDestination({
      transport: this.#transport.transport,
      listenAddress: this.#transport.listenAddress,
      provider: this.#i.provider,
      hostId: this.#i.hostId,
      control: this.#control,
      clock: this.#i.clock,
      admit: (h) => this.#admit(h.vmId, h.migrationId, h.kind),
      onArrived: (h, how) => {
        this.#i.logger?.info('migration arrived', { migration: h.migrationId, vm: h.vmId, how });
        if (how === 'postcopy-complete') this.#destination?.forget(h.vmId);
      },
      ...(this.#i.logger ? { logger: this.#i.logger } : {}),
    });
    await this.#destination.start();
    this.#unsubControl = this.#control.onMessage((_from, m) => {
      if (m.t === 'owned') void this.#resumeIfOwned(m.vmId, m.migrationId);
    });
    this.#i.membership.setLocalMeta(MIGRATION_META, c.advertise ?? this.#destination.address!);
    this.#i.cluster.setMigrationGuard({
      busy: (vmId) => this.#outgoing.has(vmId),
      arriving: (vmId) => this.#destination?.arrival(vmId) !== undefined,
      resumed: (vmId) => this.#resumed(vmId),
      abandoned: (vmId) => this.#destination?.forget(vmId),
    });
  }

  async stop(): Promise<void> {
    for (const r of this.#running.values()) r.source.cancel('node stopping');
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
    this.#unsubControl?.();
    await this.#destination?.stop();
  }

  /** The source says the ownership change committed: confirm it in the log (linearizable) and resume at once. */
  async #resumeIfOwned(vmId: string, migrationId: string): Promise<void> {
    try {
      if (this.#destination?.arrival(vmId)?.migrationId !== migrationId) return;
      const bytes = await this.#i.store.get(KEYS.vm(vmId));
      const rec = bytes ? decodeVm(bytes) : undefined;
      if (rec?.hostId !== this.#i.hostId || rec.desired !== 'running') return;
      if ((await this.#i.provider.getVm(vmId)).state !== 'paused') return;
      await this.#i.provider.resumeVm(vmId);
      this.#resumed(vmId);
    } catch (err) {
      // The reconcile loop resumes it on its next tick anyway.
      this.#i.logger?.debug('fast resume skipped', { vm: vmId, error: (err as Error).message });
    }
  }

  /** Starts migrating `vmId` off this node; resolves with its first progress once planned. */
  async migrate(vmId: string, options: MigrateOptions = {}): Promise<MigrationProgress> {
    const i = this.#i;
    const rec = await i.cluster.vm(vmId);
    if (rec.hostId !== i.hostId)
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${vmId} runs on ${rec.hostId ?? 'no host'}, not here`, {
        reason: 'not-owner',
        owner: rec.hostId,
      });
    if (this.#outgoing.has(vmId))
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${vmId} is already migrating`, { reason: 'migrating' });
    // Plan: itp checks (or picks) the destination among the other schedulable hosts.
    const [hosts, vms] = await Promise.all([i.cluster.hosts(), i.cluster.vms()]);
    const candidates = hosts.filter(
      (h) => h.id !== i.hostId && h.schedulable && (options.to === undefined || h.id === options.to),
    );
    if (options.to !== undefined && options.to === i.hostId)
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${vmId} is already on ${i.hostId}`, {
        reason: 'same-host',
      });
    const decision = i.planner.decide(
      { hosts: candidates, vms: vms.filter((v) => v.request.id !== vmId) },
      rec.request,
      i.policy(),
      true,
    );
    if (decision.hostId === undefined)
      throw nodeError(
        NodeErrorCode.UNSCHEDULABLE,
        options.to ? `host ${options.to} cannot take VM ${vmId}` : `no host can take VM ${vmId}`,
        { vmId, explanation: decision.explanation },
      );
    const dest = hosts.find((h) => h.id === decision.hostId)!;
    const member = i.membership.members().find((m) => m.id === dest.nodeId);
    const address = member?.meta[MIGRATION_META];
    if (!member || member.status === 'down' || !address)
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `destination node ${dest.nodeId} is not reachable`, {
        reason: 'destination-down',
      });
    const id = `mig-${randomBytes(6).toString('hex')}`;
    const own: OwnershipInit = { store: i.store, clock: i.clock, vmId, migrationId: id, from: i.hostId };
    const resources = rec.request.resources;
    // Capacity at the destination, through the control log, before any byte moves.
    const reservation = await i.ledger.reserve([{ hostId: dest.id, resources }], {
      ttlMs: i.config.cluster.reservationTtlMs,
    });
    await i.ledger.commit(reservation.id);
    try {
      await markMigrating(own, { id, to: dest.id, toNode: dest.nodeId });
    } catch (err) {
      await i.ledger.release([{ hostId: dest.id, resources }]).catch(() => undefined);
      throw err;
    }
    this.#outgoing.add(vmId);
    const startedAt = Date.now();
    const base: MigrationRecord = {
      v: 1,
      id,
      vmId,
      from: i.hostId,
      to: dest.id,
      fromNode: i.nodeId,
      toNode: dest.nodeId,
      phase: 'precopy',
      startedAt,
    };
    await this.#record(base);
    const mode = i.mode();
    const c = i.config.migration;
    const engine: MigrationEngineConfig = {
      downtimeBudgetMs: options.downtimeBudgetMs ?? c.downtimeBudgetMs,
      maxRounds: c.maxRounds,
      autoConverge: c.autoConverge,
      throttleSteps: c.throttleSteps,
      postCopy: c.postCopy && i.provider.beginPostCopy !== undefined,
      switchoverCostMs: c.switchoverCostMs,
      batchPages: c.batchPages,
      postCopyStreamPages: c.postCopyStreamPages,
      chunkBytes: c.chunkBytes,
      lanes: c.lanes === 0 ? 'adaptive' : c.lanes,
      codec: c.codec === 'mode' ? codecForPreset(mode.hdeCodec) : c.codec,
      verifyDigest: c.verifyDigest,
      resumeWindowMs: c.resumeWindowMs,
    };
    const vmConfig = workloadConfig(rec.request, i.provider.name);
    const source = new MigrationSource({
      id,
      vmId,
      sourceNode: i.nodeId,
      destinationNode: dest.nodeId,
      destinationAddress: address,
      provider: i.provider,
      ...(vmConfig ? { vmConfig } : {}),
      transport: this.#transport!.transport,
      control: this.#control!,
      rates: this.#rates,
      clock: i.clock,
      mode: mode.mode,
      config: engine,
      commit: async () => {
        const outcome = await commitOwnership(own, { host: dest.id });
        i.logger?.info('migration ownership', { migration: id, vm: vmId, outcome });
        if (outcome === 'committed') this.#control?.send(dest.nodeId, { t: 'owned', migrationId: id, vmId });
        return { committed: outcome === 'committed', sourceOwns: outcome === 'rolled-back' };
      },
      abandon: async () => (await abandonMigration(own)) === 'rolled-back',
      onProgress: (p) => this.#progress(p),
      ...(i.logger ? { logger: i.logger.child('migration') } : {}),
    });
    const done = source.run().then(
      async (p) => {
        await i.ledger.release([{ hostId: i.hostId, resources }]).catch(() => undefined);
        return p;
      },
      async (err) => {
        const p = source.progress;
        // Capacity goes back on the side that does not hold the VM.
        const lost = p.phase === 'failed';
        if (!lost) await i.ledger.release([{ hostId: dest.id, resources }]).catch(() => undefined);
        throw err;
      },
    );
    const running: Running = { source, done, last: source.progress };
    this.#running.set(id, running);
    void done
      .catch(() => undefined)
      .finally(async () => {
        const p = source.progress;
        this.#running.delete(id);
        this.#finished.set(id, p);
        if (this.#finished.size > 100) this.#finished.delete(this.#finished.keys().next().value!);
        this.#outgoing.delete(vmId);
        this.#emit(p, true);
        await this.#record({
          ...base,
          phase: p.phase,
          endedAt: Date.now(),
          ...(p.mode ? { mode: p.mode } : {}),
          rounds: p.round,
          rawBytes: p.rawBytes,
          wireBytes: p.wireBytes,
          ...(p.downtimeMs !== undefined ? { downtimeMs: p.downtimeMs } : {}),
          ...(p.totalMs !== undefined ? { totalMs: p.totalMs } : {}),
          ...(p.error ? { error: p.error } : {}),
        }).catch((err) => i.logger?.warn('migration record not written', { error: (err as Error).message }));
      });
    return source.progress;
  }

  /** Live progress of a migration run by this node, or its final progress. */
  local(id: string): MigrationProgress | undefined {
    return this.#running.get(id)?.source.progress ?? this.#finished.get(id);
  }

  /** Waits for a migration run by this node to end; resolves with its final progress (also on failure). */
  async wait(id: string): Promise<MigrationProgress> {
    const r = this.#running.get(id);
    if (!r) {
      const f = this.#finished.get(id);
      if (f) return f;
      throw nodeError(NodeErrorCode.MIGRATION_NOT_FOUND, `no migration ${id} on this node`, { migrationId: id });
    }
    return r.done.catch(() => r.source.progress);
  }

  /** Cancels a migration run by this node. */
  cancel(id: string): MigrationProgress {
    const r = this.#running.get(id);
    if (!r)
      throw nodeError(NodeErrorCode.MIGRATION_NOT_FOUND, `no running migration ${id} on this node`, {
        migrationId: id,
      });
    if (!r.source.cancel('cancelled through the API'))
      throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `migration ${id} is past its ownership change`, {
        reason: 'committed',
      });
    return r.source.progress;
  }

  /** Every migration the control log records (linearizable), newest first. */
  async list(): Promise<MigrationRecord[]> {
    const rows = await this.#i.store.range(KEYS.migrationsStart, KEYS.migrationsEnd);
    return rows
      .flatMap(([, v]) => {
        try {
          const r = decodeMsgpack(v) as MigrationRecord;
          return r?.v === 1 && typeof r.id === 'string' ? [r] : [];
        } catch {
          return [];
        }
      })
      .sort((a, b) => b.startedAt - a.startedAt);
  }

  /** One migration: live progress when this node runs it, else the log's record. */
  async get(id: string): Promise<MigrationProgress | MigrationRecord> {
    const live = this.local(id);
    if (live) return live;
    const bytes = await this.#i.store.get(KEYS.migration(id));
    if (!bytes) throw nodeError(NodeErrorCode.MIGRATION_NOT_FOUND, `no migration ${id}`, { migrationId: id });
    return decodeMsgpack(bytes) as MigrationRecord;
  }

  async #record(r: MigrationRecord): Promise<void> {
    await this.#i.store.put(KEYS.migration(r.id), encodeMsgpack(JSON.parse(JSON.stringify(r))));
  }

  #progress(p: MigrationProgress): void {
    const r = this.#running.get(p.id);
    const phaseChanged = r?.last.phase !== p.phase;
    if (r) r.last = p;
    this.#emit(p, phaseChanged);
  }

  #emit(p: MigrationProgress, force: boolean): void {
    const now = this.#i.clock.now();
    if (!force && now - (this.#lastEmit.get(p.id) ?? 0) < 200) return;
    this.#lastEmit.set(p.id, now);
    const { steps, ...rest } = p;
    this.#i.events.emit('migration.progress', { ...rest, step: steps.at(-1)?.step });
  }

  async #admit(vmId: string, migrationId: string, kind: string): Promise<void> {
    const bytes = await this.#i.store.get(KEYS.vm(vmId));
    const rec = bytes ? decodeVm(bytes) : undefined;
    const marked = rec?.migration?.id === migrationId && rec.migration.to === this.#i.hostId;
    // Post-copy pushes come after the ownership change: the VM is ours then.
    const ours = kind === 'postcopy' && rec?.hostId === this.#i.hostId;
    if (!marked && !ours)
      throw nodeError(
        NodeErrorCode.MIGRATION_FENCED,
        `the control log backs no migration ${migrationId} of ${vmId} to here`,
        {
          migrationId,
          vmId,
        },
      );
  }

  #resumed(vmId: string): void {
    const a = this.#destination?.arrival(vmId);
    if (!a) return;
    this.#control?.send(a.source, {
      t: 'resumed',
      migrationId: a.migrationId,
      at: Date.now(),
      ...(a.digest ? { digest: a.digest } : {}),
    });
    if (!a.postCopy) this.#destination?.forget(vmId);
  }
}
