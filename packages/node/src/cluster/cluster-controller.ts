import {
  type Clock,
  type ConsensusGroup,
  decodeMsgpack,
  type Logger,
  type Metrics,
  type PlacementRequest,
  type ResourceVector,
  type Timer,
  type VmProvider,
  type VmSpec,
} from '@novacron/core';
import { decodeKvCommand } from '@novacron/acp';
import type { ItpPlacementDecision } from '@novacron/itp';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { Membership } from '../membership/membership.js';
import type { EventHub } from './event-hub.js';
import type { GroupStrongStore } from './group-strong-store.js';
import type { PlacementPlanner } from './placement-planner.js';
import {
  decodeHost,
  decodeVm,
  encodeRecord,
  type HostRecord,
  KEYS,
  type VmDesiredState,
  type VmPlacementEvent,
  type VmRecord,
} from './records.js';
import type { StoreCapacityLedger } from './store-capacity-ledger.js';
import { workloadConfig } from './workload-config.js';
import { equalBytes } from './strong-store.js';

/**
 * How live migration (#13) tells the reconcile loop to keep its hands off
 * VMs in flight: a source mid-migration, and arrivals at a destination
 * until the log makes them this host's.
 */
export interface MigrationGuard {
  /** An outgoing migration of this VM runs here: leave it alone. */
  busy(vmId: string): boolean;
  /** A copy of this VM is arriving here. */
  arriving(vmId: string): boolean;
  /** The loop resumed an arrived VM that the log now says is ours. */
  resumed(vmId: string): void;
  /** The loop removed an arrival the log does not back (rolled back or moved elsewhere). */
  abandoned(vmId: string): void;
}

/** What this node offers as a host (advertised to the leader through membership meta). */
export interface HostOffer {
  readonly id: string;
  readonly capacity: ResourceVector;
  readonly labels: Readonly<Record<string, string>>;
  readonly zone?: string;
  readonly region?: string;
}

/** Options of {@link ClusterController}. */
export interface ClusterControllerInit {
  readonly nodeId: string;
  readonly host: HostOffer;
  readonly store: GroupStrongStore;
  readonly ledger: StoreCapacityLedger;
  readonly group: ConsensusGroup;
  readonly membership: Membership;
  /** A learned scorer's cache (pba's model bridge): decisions that left it misses are made again once it settled. */
  readonly learned?: { readonly pending: number; settle(): Promise<void> };
  /** VMs this node runs that the log does not know yet (placed on escrow while it was unreachable): kept. */
  readonly keepLocal?: (vmId: string) => boolean;
  readonly provider: VmProvider;
  readonly planner: PlacementPlanner;
  /** The placement policy in force (follows the mode). */
  readonly policy: () => string;
  readonly events: EventHub;
  readonly clock: Clock;
  readonly reservationTtlMs: number;
  /** How often the leader and local reconcile loops run, in ms. */
  readonly loopIntervalMs: number;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

/** A VM as the API shows it: the log's record plus, on its owner, the provider's state. */
export interface VmView extends VmRecord {
  /** The provider's state on the owning node (only when asked on that node). */
  readonly observed?: string;
}

const HOST_META = 'host';

/**
 * The node's control plane. The Raft leader is the only writer: it turns
 * members' host offers into inventory, places VMs (itp pipeline → capacity
 * ledger reserve/commit → VM record, each a log entry), moves the VMs of
 * hosts whose node is down (epoch + 1, new host's capacity claimed before
 * the old is released, so a crash in between can leak capacity but never
 * overcommit), and retries pending VMs. Every node runs the local loop: it
 * makes its provider match the log (create and start the VMs its host owns,
 * stop and delete the ones it no longer owns) and turns committed entries
 * into events.
 */
export class ClusterController {
  readonly #i: ClusterControllerInit;
  #timer: Timer | undefined;
  #unsubs: (() => void)[] = [];
  #leaderBusy = false;
  #localBusy = false;
  #localAgain = false;
  #serial: Promise<unknown> = Promise.resolve();
  #lastLeader: string | null = null;
  #running = false;
  #guard: MigrationGuard | undefined;
  readonly #placements;
  readonly #failovers;

  constructor(init: ClusterControllerInit) {
    this.#i = init;
    this.#placements = init.metrics?.counter({
      name: 'novacron_node_placements_total',
      help: 'VMs placed by this node as leader',
      labelNames: ['reason'],
    });
    this.#failovers = init.metrics?.counter({
      name: 'novacron_node_failovers_total',
      help: 'VMs moved off a down host by this node as leader',
    });
  }

  /** Installs the migration guard (the migration component does, once it runs). */
  setMigrationGuard(guard: MigrationGuard | undefined): void {
    this.#guard = guard;
  }

  /** The leader this node knows of, or null. */
  get leader(): string | null {
    return this.#i.group.status().leader;
  }

  /** True when this node leads the control log. */
  isLeader(): boolean {
    return this.leader === this.#i.nodeId;
  }

  /** The API URL the leader advertises, if known. */
  leaderApiUrl(): string | undefined {
    const leader = this.leader;
    return leader === null ? undefined : this.#i.membership.members().find((m) => m.id === leader)?.meta.api;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#i.membership.setLocalMeta(HOST_META, JSON.stringify(this.#i.host));
    this.#unsubs.push(this.#i.group.onCommitted((c) => this.#onCommitted(c.command, c.result)));
    this.#unsubs.push(
      this.#i.membership.onChange((c) => {
        this.#i.events.emit('member.changed', { id: c.member.id, status: c.member.status, previous: c.previous });
        this.#kickLeader();
      }),
    );
    this.#timer = this.#i.clock.setInterval(() => {
      this.#kickLeader();
      this.#kickLocal();
    }, this.#i.loopIntervalMs);
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#timer?.cancel();
    for (const u of this.#unsubs) u();
    this.#unsubs = [];
    await this.#serial.catch(() => undefined);
  }

  // ---- reads -------------------------------------------------------------

  /** Hosts in the inventory (linearizable). */
  async hosts(): Promise<HostRecord[]> {
    return (await this.#i.store.range(KEYS.hostsStart, KEYS.hostsEnd)).flatMap(([, v]) => decodeHost(v) ?? []);
  }

  /** Every VM (linearizable). */
  async vms(): Promise<VmRecord[]> {
    return (await this.#i.store.range(KEYS.vmsStart, KEYS.vmsEnd)).flatMap(([, v]) => decodeVm(v) ?? []);
  }

  /** One VM, with the provider's state when this node owns it. */
  async vm(id: string): Promise<VmView> {
    const bytes = await this.#i.store.get(KEYS.vm(id));
    const rec = bytes ? decodeVm(bytes) : undefined;
    if (!rec) throw nodeError(NodeErrorCode.VM_NOT_FOUND, `no VM ${id}`, { vmId: id });
    if (rec.hostId !== this.#i.host.id) return rec;
    const info = await this.#i.provider.getVm(id).catch(() => undefined);
    return info ? { ...rec, observed: info.state } : rec;
  }

  /** The ledger's view of every host. */
  ledgerSnapshot() {
    return this.#i.ledger.snapshot();
  }

  /** Decides where `request` would go now, with the pipeline's explanation; changes nothing. */
  async preview(request: PlacementRequest): Promise<ItpPlacementDecision> {
    const [hosts, vms] = await Promise.all([this.hosts(), this.vms()]);
    return this.#decide({ hosts, vms }, request, true);
  }

  /** One decision; with a learned scorer whose model missed, a second once the model service answered. */
  async #decide(
    state: Parameters<PlacementPlanner['decide']>[0],
    request: PlacementRequest,
    explain: boolean,
  ): Promise<ItpPlacementDecision> {
    const policy = this.#i.policy();
    const first = this.#i.planner.decide(state, request, policy, explain);
    if (!this.#i.learned?.pending) return first;
    await this.#i.learned.settle();
    return this.#i.planner.decide(state, request, policy, explain);
  }

  // ---- writes (leader only) ----------------------------------------------

  #requireLeader(): void {
    if (!this.isLeader())
      throw nodeError(NodeErrorCode.NO_QUORUM, 'this node does not lead the control log', { leader: this.leader });
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  /** Places and records a new VM. Throws `NODE_VM_EXISTS`, `NODE_UNSCHEDULABLE`, `NODE_NO_QUORUM` or itp's request errors. */
  createVm(request: PlacementRequest): Promise<{ vm: VmRecord; decision: ItpPlacementDecision }> {
    this.#requireLeader();
    return this.#exclusive(async () => {
      if (await this.#i.store.get(KEYS.vm(request.id)))
        throw nodeError(NodeErrorCode.VM_EXISTS, `VM ${request.id} already exists`, { vmId: request.id });
      const [hosts, vms] = await Promise.all([this.hosts(), this.vms()]);
      const decision = await this.#decide({ hosts, vms }, request, true);
      if (decision.hostId === undefined)
        throw nodeError(NodeErrorCode.UNSCHEDULABLE, `no host can take VM ${request.id}`, {
          vmId: request.id,
          explanation: decision.explanation,
        });
      await this.#claim(decision.hostId, request.resources);
      const vm: VmRecord = {
        v: 1,
        request,
        hostId: decision.hostId,
        epoch: 1,
        desired: 'running',
        history: [{ hostId: decision.hostId, epoch: 1, reason: 'created' }],
      };
      if (!(await this.#i.store.cas(KEYS.vm(request.id), null, encodeRecord(vm)))) {
        await this.#i.ledger.release([{ hostId: decision.hostId, resources: request.resources }]);
        throw nodeError(NodeErrorCode.VM_EXISTS, `VM ${request.id} already exists`, { vmId: request.id });
      }
      this.#placements?.inc(1, { reason: 'created' });
      return { vm, decision };
    });
  }

  /** Reserves and commits `resources` on `hostId` in the ledger (one log entry each). */
  async #claim(hostId: string, resources: ResourceVector): Promise<void> {
    const r = await this.#i.ledger.reserve([{ hostId, resources }], { ttlMs: this.#i.reservationTtlMs });
    await this.#i.ledger.commit(r.id);
  }

  /** Sets a VM's desired state (its owner's provider follows). */
  setDesired(id: string, desired: VmDesiredState): Promise<VmRecord> {
    this.#requireLeader();
    return this.#exclusive(async () => {
      const { bytes, rec } = await this.#load(id);
      const next: VmRecord = { ...rec, desired };
      if (!(await this.#i.store.cas(KEYS.vm(id), bytes, encodeRecord(next))))
        throw nodeError(NodeErrorCode.NO_QUORUM, `VM ${id} changed concurrently; retry`, { vmId: id });
      return next;
    });
  }

  /** Deletes a VM and returns its capacity to the ledger. */
  deleteVm(id: string): Promise<void> {
    this.#requireLeader();
    return this.#exclusive(async () => {
      const { rec } = await this.#load(id);
      await this.#i.store.delete(KEYS.vm(id));
      // Escrowed capacity goes back to its site, through the site's own node (EscrowPlacer).
      if (rec.hostId !== null && rec.site === undefined)
        await this.#i.ledger.release([{ hostId: rec.hostId, resources: rec.request.resources }]);
    });
  }

  async #load(id: string): Promise<{ bytes: Uint8Array; rec: VmRecord }> {
    const bytes = await this.#i.store.get(KEYS.vm(id));
    const rec = bytes ? decodeVm(bytes) : undefined;
    if (!bytes || !rec) throw nodeError(NodeErrorCode.VM_NOT_FOUND, `no VM ${id}`, { vmId: id });
    return { bytes, rec };
  }

  // ---- leader loop ---------------------------------------------------------

  #kickLeader(): void {
    const leader = this.leader;
    if (leader !== this.#lastLeader) {
      this.#lastLeader = leader;
      this.#i.events.emit('leader.changed', { leader });
    }
    if (!this.#running || !this.isLeader() || this.#leaderBusy) return;
    this.#leaderBusy = true;
    this.#exclusive(() => this.#leaderTick())
      .catch((err) =>
        this.#i.logger?.debug('leader tick failed', { error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => {
        this.#leaderBusy = false;
      });
  }

  /** Runs one leader reconciliation now (tests and the demo use it to avoid waiting for the timer). */
  reconcileNow(): Promise<void> {
    this.#requireLeader();
    return this.#exclusive(() => this.#leaderTick());
  }

  async #leaderTick(): Promise<void> {
    if (!this.isLeader()) return;
    const hosts = new Map((await this.hosts()).map((h) => [h.id, h]));
    // 1. Inventory follows the members' offers and liveness.
    for (const m of this.#i.membership.members()) {
      const offer = parseOffer(m.meta[HOST_META]);
      if (!offer) continue;
      const schedulable = m.status !== 'down';
      const rec: HostRecord = {
        v: 1,
        id: offer.id,
        nodeId: m.id,
        capacity: offer.capacity,
        labels: offer.labels,
        ...(offer.zone ? { zone: offer.zone } : {}),
        ...(offer.region ? { region: offer.region } : {}),
        schedulable,
      };
      const old = hosts.get(offer.id);
      const bytes = encodeRecord(rec);
      if (old && equalBytes(encodeRecord(old), bytes)) continue;
      await this.#i.ledger.upsertHost(offer.id, offer.capacity);
      await this.#i.store.put(KEYS.host(offer.id), bytes);
      hosts.set(offer.id, rec);
      this.#i.logger?.info('host updated', { host: offer.id, schedulable });
    }
    // 2. VMs on cordoned hosts move; pending VMs retry.
    for (const vm of await this.vms()) {
      if (vm.hostId !== null && hosts.get(vm.hostId)?.schedulable === false) await this.#move(vm, 'failover');
      else if (vm.hostId === null && vm.desired === 'running') await this.#move(vm, 'retry');
    }
    await this.#i.ledger.expire();
  }

  async #move(vm: VmRecord, reason: 'failover' | 'retry'): Promise<void> {
    const [hosts, vms] = await Promise.all([this.hosts(), this.vms()]);
    const others = vms.filter((v) => v.request.id !== vm.request.id);
    const decision = await this.#decide({ hosts, vms: others }, vm.request, false);
    const to = decision.hostId ?? null;
    if (to === null && vm.hostId === null) return; // still nowhere to go
    if (to !== null) await this.#claim(to, vm.request.resources);
    const epoch = to === vm.hostId ? vm.epoch : vm.epoch + 1;
    const event: VmPlacementEvent = { hostId: to, epoch, reason };
    const { site: _escrowSite, ...rest } = vm; // the new claim is on the shared pool
    // A move ends any migration in flight: its commit (a CAS on the marked record) can no longer land.
    const next: VmRecord = {
      ...rest,
      hostId: to,
      epoch,
      migration: undefined,
      history: [...vm.history, event].slice(-20),
    };
    const ok = await this.#i.store.cas(KEYS.vm(vm.request.id), encodeRecord(vm), encodeRecord(next));
    if (!ok) {
      if (to !== null) await this.#i.ledger.release([{ hostId: to, resources: vm.request.resources }]);
      return;
    }
    if (vm.hostId !== null && vm.site === undefined)
      await this.#i.ledger.release([{ hostId: vm.hostId, resources: vm.request.resources }]);
    if (reason === 'failover') this.#failovers?.inc();
    if (to !== null) this.#placements?.inc(1, { reason });
    this.#i.logger?.info('vm moved', { vm: vm.request.id, from: vm.hostId, to, epoch, reason });
  }

  // ---- local loop ---------------------------------------------------------------

  #onCommitted(command: Uint8Array, result: Uint8Array): void {
    let c: ReturnType<typeof decodeKvCommand>;
    try {
      c = decodeKvCommand(command);
    } catch {
      return;
    }
    const applied = decodeMsgpack(result);
    if (c.op === 'put' || (c.op === 'cas' && applied === true)) {
      if (c.key.startsWith(KEYS.vmsStart)) {
        const vm = decodeVm(c.value);
        if (vm) this.#i.events.emit('vm.updated', vm);
      } else if (c.key.startsWith(KEYS.hostsStart)) {
        const h = decodeHost(c.value);
        if (h) this.#i.events.emit('host.updated', h);
      }
    } else if (c.op === 'delete' && c.key.startsWith(KEYS.vmsStart) && applied === true) {
      this.#i.events.emit('vm.deleted', { id: c.key.slice(KEYS.vmsStart.length) });
    }
    if (c.op !== 'range' && c.key.startsWith(KEYS.vmsStart)) this.#kickLocal();
  }

  #kickLocal(): void {
    if (!this.#running) return;
    if (this.#localBusy) {
      this.#localAgain = true;
      return;
    }
    this.#localBusy = true;
    this.#localTick()
      .catch((err) =>
        this.#i.logger?.warn('local reconcile failed', { error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => {
        this.#localBusy = false;
        if (this.#localAgain && this.#running) {
          this.#localAgain = false;
          this.#kickLocal();
        }
      });
  }

  async #localTick(): Promise<void> {
    const hostId = this.#i.host.id;
    const p = this.#i.provider;
    const guard = this.#guard;
    const all = this.#i.store.localRange(KEYS.vmsStart, KEYS.vmsEnd).flatMap(([, v]) => decodeVm(v) ?? []);
    const mine = all.filter((v) => v.hostId === hostId);
    const have = new Map((await p.listVms(hostId)).map((v) => [v.id, v]));
    for (const vm of mine) {
      const id = vm.request.id;
      if (guard?.busy(id)) continue; // an outgoing migration owns the VM's state until it ends
      let cur = have.get(id);
      if (cur?.state === 'incoming') {
        // Made ours while its copy was still arriving (a failover landed here): start it afresh.
        await p.deleteVm(id);
        guard?.abandoned(id);
        cur = undefined;
      }
      if (!cur)
        cur = await p.createVm(
          { spec: specOf(vm.request), hostId, ...configOf(vm.request, p.name) },
          { idempotencyKey: `${id}@${vm.epoch}` },
        );
      if (vm.desired === 'running' && cur.state === 'stopped') await p.startVm(id);
      else if (vm.desired === 'running' && cur.state === 'paused') {
        // An arrived migration (the log made it ours, so the source can no longer resume it).
        await p.resumeVm(id);
        guard?.resumed(id);
      } else if (vm.desired === 'stopped' && (cur.state === 'running' || cur.state === 'paused')) await p.stopVm(id);
    }
    const owned = new Set(mine.map((v) => v.request.id));
    const byId = new Map(all.map((v) => [v.request.id, v]));
    for (const v of have.values()) {
      if (owned.has(v.id) || this.#i.keepLocal?.(v.id)) continue;
      if (guard?.busy(v.id)) continue;
      // A copy arriving here that the log still backs stays until the ownership change (or rollback) commits.
      if (guard?.arriving(v.id) && byId.get(v.id)?.migration?.to === hostId) continue;
      // The log says another host (or nobody) owns it now: never keep a second copy running.
      if (v.state === 'running' || v.state === 'paused') await p.stopVm(v.id);
      await p.deleteVm(v.id);
      guard?.abandoned(v.id);
    }
  }
}

function configOf(r: PlacementRequest, provider: string): { config?: Record<string, number> } {
  const config = workloadConfig(r, provider);
  return config ? { config } : {};
}

function specOf(r: PlacementRequest): VmSpec {
  return {
    id: r.id,
    resources: r.resources,
    ...(r.name !== undefined ? { name: r.name } : {}),
    ...(r.labels !== undefined ? { labels: r.labels } : {}),
    ...(r.vmClass !== undefined ? { vmClass: r.vmClass } : {}),
    ...(r.priority !== undefined ? { priority: r.priority } : {}),
  };
}

function parseOffer(raw: string | undefined): HostOffer | undefined {
  if (raw === undefined) return undefined;
  try {
    const o = JSON.parse(raw) as HostOffer;
    if (
      typeof o?.id !== 'string' ||
      typeof o.capacity?.cpuMillis !== 'number' ||
      typeof o.capacity.memoryBytes !== 'number'
    )
      return undefined;
    return { ...o, labels: typeof o.labels === 'object' && o.labels !== null ? o.labels : {} };
  } catch {
    return undefined;
  }
}
