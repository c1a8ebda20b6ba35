import {
  type Clock,
  type Duplex,
  type Host,
  type Logger,
  type MigrationResult,
  type OperationOptions,
  type PageGeometry,
  type ProviderCapabilities,
  ProviderErrorCode,
  type ProviderEvent,
  type ProviderHost,
  type Rng,
  type SnapshotInfo,
  type Unsubscribe,
  type VmCreateRequest,
  type VmInfo,
  type VmOperation,
  type VmProvider,
  type VmState,
  ZERO_RESOURCES,
  addResources,
  assertInteger,
  assertNumber,
  assertObject,
  assertString,
  fitsWithin,
  providerError,
  subtractResources,
  unsupportedOperation,
  validateResourceVector,
} from '@novacron/core';
import { EventHub } from '../event-hub.js';
import { OperationRunner } from '../operation-runner.js';
import { DirtyModel, type DirtyModelConfig } from './dirty-model.js';
import { PageImage } from './page-image.js';

/** Options for {@link MemoryProvider}. */
export interface MemoryProviderInit {
  /** Time base: guest dirtying, timeouts and event times. */
  readonly clock: Clock;
  /** Seed source for every VM's dirtying model (each VM forks its own stream by id). */
  readonly rng: Rng;
  /** The simulated hosts. */
  readonly hosts: readonly Host[];
  /** Bytes per page (default 4096; a power of two from 512 to 65536). */
  readonly pageSize?: number;
  /** Dirtying model for VMs whose config names none (default: idle). */
  readonly defaultDirtyModel?: DirtyModelConfig;
  /** Operation timeout when a call gives none (default 30 000 ms). */
  readonly defaultTimeoutMs?: number;
  /** Largest VM memory accepted, in bytes (default 64 GiB; images are sparse). */
  readonly maxMemoryBytes?: number;
  /** Optional logger. */
  readonly logger?: Logger;
}

interface MemoryVm {
  readonly request: VmCreateRequest;
  state: VmState;
  image: PageImage;
  readonly model: DirtyModel;
  tracking: Uint8Array | undefined;
  /** Post-copy: pages not yet arrived, with the guest writes that wait for each (applied in order on arrival). */
  missing: Map<number, [counter: number, word: number][]> | undefined;
  readonly snapshots: { info: SnapshotInfo; image: PageImage }[];
  snapshotCounter: number;
}

const OPERATIONS: readonly VmOperation[] = [
  'create',
  'start',
  'pause',
  'resume',
  'stop',
  'delete',
  'snapshot',
  'restore',
  'migrate-pages',
  'migrate-postcopy',
];

/**
 * A simulated hypervisor for tests and simulations: hosts with capacity,
 * VMs whose memory is a sparse page image, and a seeded page-dirtying model
 * (rate and working set) that runs on the injected clock, so pre-copy
 * migration and its convergence can be studied without a hypervisor. The
 * same seed and the same calls at the same clock times give the same pages.
 * Migrates in the `pages` style, with post-copy (`beginPostCopy`: a guest
 * write to a page still missing is held until the page arrives, then
 * applied on top of it, and the page is reported once through
 * `onPageFault`); `stream` operations are refused as
 * `Unsupported`.
 *
 * VM config (`VmCreateRequest.config`): `dirtyBytesPerSecond`,
 * `workingSetBytes` (the dirtying model), `image` (a `Uint8Array` of
 * initial memory contents, at most the VM's memory size) and `fillRandom`
 * (a seed: every page starts as seeded random bytes, an incompressible
 * guest for transfer measurements).
 */
export class MemoryProvider implements VmProvider {
  readonly name = 'memory';
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #hosts = new Map<string, Host>();
  readonly #vms = new Map<string, MemoryVm>();
  readonly #pageSize: number;
  readonly #defaultModel: DirtyModelConfig;
  readonly #maxMemoryBytes: number;
  readonly #events: EventHub;
  readonly #runner: OperationRunner;
  readonly #faultListeners = new Set<(vmId: string, page: number) => void>();

  constructor(init: MemoryProviderInit) {
    this.#clock = init.clock;
    this.#rng = init.rng;
    this.#pageSize = init.pageSize ?? 4096;
    assertInteger('pageSize', this.#pageSize, { min: 512, max: 65536 });
    if ((this.#pageSize & (this.#pageSize - 1)) !== 0)
      throw providerError(ProviderErrorCode.Invalid, 'pageSize must be a power of two', { pageSize: this.#pageSize });
    this.#maxMemoryBytes = init.maxMemoryBytes ?? 64 * 2 ** 30;
    this.#defaultModel = init.defaultDirtyModel ?? { dirtyBytesPerSecond: 0 };
    for (const [i, h] of init.hosts.entries()) {
      assertString(`hosts[${i}].id`, h.id, { nonEmpty: true });
      validateResourceVector(`hosts[${i}].capacity`, h.capacity);
      this.#hosts.set(h.id, h);
    }
    this.#events = new EventHub(init.clock, init.logger);
    this.#runner = new OperationRunner({ clock: init.clock, defaultTimeoutMs: init.defaultTimeoutMs ?? 30_000 });
  }

  probe(options?: OperationOptions): Promise<ProviderCapabilities> {
    return this.#runner.run('probe', undefined, null, options, async () => ({
      backend: 'memory',
      operations: OPERATIONS,
      migration: ['pages'],
      pageSize: this.#pageSize,
    }));
  }

  listHosts(options?: OperationOptions): Promise<ProviderHost[]> {
    return this.#runner.run('listHosts', undefined, null, options, async () =>
      [...this.#hosts.values()].map((h) => {
        const allocated = this.#allocated(h.id);
        return { ...h, allocated, free: subtractResources(h.capacity, allocated) };
      }),
    );
  }

  createVm(request: VmCreateRequest, options?: OperationOptions): Promise<VmInfo> {
    const id = (request as { spec?: { id?: unknown } } | undefined)?.spec?.id;
    return this.#runner.run('createVm', typeof id === 'string' ? id : undefined, request, options, async () => {
      this.#validateCreate(request);
      if (this.#vms.has(request.spec.id))
        throw providerError(ProviderErrorCode.Conflict, `VM ${request.spec.id} already exists`, {
          vmId: request.spec.id,
        });
      const host = this.#hosts.get(request.hostId);
      if (!host)
        throw providerError(ProviderErrorCode.NotFound, `no host ${request.hostId}`, { hostId: request.hostId });
      const free = subtractResources(host.capacity, this.#allocated(host.id));
      if (!fitsWithin(request.spec.resources, free))
        throw providerError(ProviderErrorCode.Quota, `host ${host.id} lacks capacity for VM ${request.spec.id}`, {
          hostId: host.id,
          vmId: request.spec.id,
        });
      const config = request.config ?? {};
      const modelConfig: DirtyModelConfig = {
        dirtyBytesPerSecond:
          (config.dirtyBytesPerSecond as number | undefined) ?? this.#defaultModel.dirtyBytesPerSecond,
        workingSetBytes: (config.workingSetBytes as number | undefined) ?? this.#defaultModel.workingSetBytes,
      };
      const geometry = this.#geometryOf(request.spec.resources.memoryBytes);
      const vm: MemoryVm = {
        request,
        state: request.incoming ? 'incoming' : 'stopped',
        image: new PageImage(geometry.pageSize, geometry.pageCount),
        model: new DirtyModel(modelConfig, geometry, this.#rng.fork(`vm:${request.spec.id}`), this.#clock.now()),
        tracking: undefined,
        missing: undefined,
        snapshots: [],
        snapshotCounter: 0,
      };
      this.#loadInitialImage(vm);
      this.#vms.set(request.spec.id, vm);
      this.#events.state(request.spec.id, undefined, vm.state);
      return this.#info(request.spec.id, vm);
    });
  }

  getVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#runner.run('getVm', undefined, vmId, options, async () => this.#info(vmId, this.#vm(vmId)));
  }

  listVms(hostId?: string, options?: OperationOptions): Promise<VmInfo[]> {
    return this.#runner.run('listVms', undefined, hostId ?? null, options, async () =>
      [...this.#vms.entries()]
        .filter(([, vm]) => hostId === undefined || vm.request.hostId === hostId)
        .map(([id, vm]) => this.#info(id, vm)),
    );
  }

  startVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#transition('startVm', vmId, ['stopped'], 'running', options);
  }

  pauseVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#transition('pauseVm', vmId, ['running'], 'paused', options);
  }

  resumeVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#transition('resumeVm', vmId, ['paused', 'migrated'], 'running', options);
  }

  stopVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#transition('stopVm', vmId, ['running', 'paused', 'migrated', 'failed', 'stopped'], 'stopped', options);
  }

  deleteVm(vmId: string, options?: OperationOptions): Promise<void> {
    return this.#runner.run('deleteVm', vmId, vmId, options, async () => {
      this.#vm(vmId);
      this.#vms.delete(vmId);
      this.#events.deleted(vmId);
    });
  }

  snapshotVm(vmId: string, options?: OperationOptions): Promise<SnapshotInfo> {
    return this.#runner.run('snapshotVm', vmId, vmId, options, async () => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['running', 'paused'], 'snapshot');
      this.#advance(vm);
      vm.snapshotCounter++;
      const info: SnapshotInfo = {
        id: `snap-${vm.snapshotCounter}`,
        vmId,
        createdAt: this.#clock.now(),
        sizeBytes: vm.image.residentBytes,
      };
      vm.snapshots.push({ info, image: vm.image.clone() });
      return info;
    });
  }

  listSnapshots(vmId: string, options?: OperationOptions): Promise<SnapshotInfo[]> {
    return this.#runner.run('listSnapshots', vmId, vmId, options, async () =>
      this.#vm(vmId).snapshots.map((s) => s.info),
    );
  }

  restoreVm(vmId: string, snapshotId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#runner.run('restoreVm', vmId, [vmId, snapshotId], options, async () => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['stopped', 'running', 'paused', 'migrated'], 'restore');
      const snap = vm.snapshots.find((s) => s.info.id === snapshotId);
      if (!snap)
        throw providerError(ProviderErrorCode.NotFound, `VM ${vmId} has no snapshot ${snapshotId}`, {
          vmId,
          snapshotId,
        });
      this.#advance(vm);
      vm.image = snap.image.clone();
      vm.tracking?.fill(1);
      this.#setState(vmId, vm, 'paused');
      return this.#info(vmId, vm);
    });
  }

  migrateSend(_vmId: string, _stream: Duplex): Promise<MigrationResult> {
    return Promise.reject(unsupportedOperation(this.name, 'migrate-stream'));
  }

  migrateReceive(_vmId: string, _stream: Duplex): Promise<MigrationResult> {
    return Promise.reject(unsupportedOperation(this.name, 'migrate-stream'));
  }

  pageGeometry(vmId: string, options?: OperationOptions): Promise<PageGeometry> {
    return this.#runner.run('pageGeometry', undefined, vmId, options, async () => {
      const vm = this.#vm(vmId);
      return { pageSize: vm.image.pageSize, pageCount: vm.image.pageCount };
    });
  }

  startDirtyTracking(vmId: string, options?: OperationOptions): Promise<void> {
    return this.#runner.run('startDirtyTracking', vmId, vmId, options, async () => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['running', 'paused'], 'startDirtyTracking');
      this.#advance(vm);
      vm.tracking = new Uint8Array(vm.image.pageCount).fill(1);
    });
  }

  collectDirtyPages(vmId: string, options?: OperationOptions): Promise<Uint32Array> {
    return this.#runner.run('collectDirtyPages', vmId, vmId, options, async () => {
      const vm = this.#vm(vmId);
      if (!vm.tracking)
        throw providerError(ProviderErrorCode.Conflict, `dirty tracking is not on for VM ${vmId}`, { vmId });
      this.#advance(vm);
      const tracking = vm.tracking;
      let n = 0;
      for (let i = 0; i < tracking.length; i++) n += tracking[i]!;
      const out = new Uint32Array(n);
      let j = 0;
      for (let i = 0; i < tracking.length; i++)
        if (tracking[i]) {
          out[j++] = i;
          tracking[i] = 0;
        }
      return out;
    });
  }

  stopDirtyTracking(vmId: string, options?: OperationOptions): Promise<void> {
    return this.#runner.run('stopDirtyTracking', vmId, vmId, options, async () => {
      this.#vm(vmId).tracking = undefined;
    });
  }

  readPages(vmId: string, pages: Uint32Array, options?: OperationOptions): Promise<Uint8Array> {
    return this.#runner.run('readPages', vmId, [vmId, pages.length], options, async () => {
      const vm = this.#vm(vmId);
      this.#checkPages(vm, pages);
      this.#advance(vm);
      const out = new Uint8Array(pages.length * vm.image.pageSize);
      for (let i = 0; i < pages.length; i++) vm.image.read(pages[i]!, out.subarray(i * vm.image.pageSize));
      return out;
    });
  }

  writePages(vmId: string, pages: Uint32Array, data: Uint8Array, options?: OperationOptions): Promise<void> {
    return this.#runner.run('writePages', vmId, [vmId, pages, data], options, async () => {
      const vm = this.#vm(vmId);
      if (!vm.missing) this.#require(vmId, vm, ['incoming'], 'writePages');
      this.#checkPages(vm, pages);
      if (!(data instanceof Uint8Array) || data.length !== pages.length * vm.image.pageSize)
        throw providerError(ProviderErrorCode.Invalid, 'data must hold exactly pages.length pages', {
          expected: pages.length * vm.image.pageSize,
          received: data instanceof Uint8Array ? data.length : typeof data,
        });
      const size = vm.image.pageSize;
      const missing = vm.missing;
      if (!missing) {
        for (let i = 0; i < pages.length; i++) vm.image.write(pages[i]!, data.subarray(i * size, (i + 1) * size));
        return;
      }
      // Post-copy: apply the guest's writes up to now first, so the ones waiting on a page land after its copy.
      this.#advance(vm);
      for (let i = 0; i < pages.length; i++) {
        const page = pages[i]!;
        const waiting = missing.get(page);
        if (waiting === undefined) continue; // already here: the guest may have written it since
        vm.image.write(page, data.subarray(i * size, (i + 1) * size));
        for (const [counter, word] of waiting) vm.image.stamp(page, counter, word);
        missing.delete(page);
      }
      if (missing.size === 0) vm.missing = undefined;
    });
  }

  beginPostCopy(vmId: string, missing: Uint32Array, options?: OperationOptions): Promise<VmInfo> {
    return this.#runner.run('beginPostCopy', vmId, [vmId, missing.length], options, async () => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['incoming'], 'beginPostCopy');
      this.#checkPages(vm, missing);
      vm.missing = missing.length === 0 ? undefined : new Map([...missing].map((p) => [p, []]));
      this.#setState(vmId, vm, 'paused');
      return this.#info(vmId, vm);
    });
  }

  missingPages(vmId: string, options?: OperationOptions): Promise<Uint32Array> {
    return this.#runner.run('missingPages', undefined, vmId, options, async () => {
      const vm = this.#vm(vmId);
      this.#advance(vm);
      return Uint32Array.from([...(vm.missing?.keys() ?? [])].sort((a, b) => a - b));
    });
  }

  onPageFault(listener: (vmId: string, page: number) => void): Unsubscribe {
    this.#faultListeners.add(listener);
    return () => this.#faultListeners.delete(listener);
  }

  setDirtyRateLimit(vmId: string, bytesPerSecond: number | undefined, options?: OperationOptions): Promise<void> {
    return this.#runner.run('setDirtyRateLimit', vmId, [vmId, bytesPerSecond ?? null], options, async () => {
      if (bytesPerSecond !== undefined) assertNumber('bytesPerSecond', bytesPerSecond, { min: 0 });
      const vm = this.#vm(vmId);
      this.#advance(vm);
      vm.model.limit = bytesPerSecond;
    });
  }

  completeIncoming(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#runner.run('completeIncoming', vmId, vmId, options, async () => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['incoming'], 'completeIncoming');
      this.#setState(vmId, vm, 'paused');
      return this.#info(vmId, vm);
    });
  }

  onEvent(listener: (event: ProviderEvent) => void): Unsubscribe {
    return this.#events.on(listener);
  }

  /**
   * Test hook: the VM's backend dies (as a crashed hypervisor process would).
   * It moves to `failed`; only `stop` and `delete` remain allowed.
   */
  failVm(vmId: string): void {
    const vm = this.#vm(vmId);
    this.#advance(vm);
    this.#setState(vmId, vm, 'failed');
  }

  /** Test hook: the VM's memory as it is now (after applying the dirtying up to the clock's time). */
  memoryOf(vmId: string): PageImage {
    const vm = this.#vm(vmId);
    this.#advance(vm);
    return vm.image;
  }

  #transition(
    op: string,
    vmId: string,
    from: readonly VmState[],
    to: VmState,
    options: OperationOptions | undefined,
  ): Promise<VmInfo> {
    return this.#runner.run(op, vmId, vmId, options, async () => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, from, op);
      this.#advance(vm);
      if (to === 'stopped' || (op === 'startVm' && vm.state === 'stopped')) {
        // Power cycle: a stopped VM keeps no memory; a start boots from the initial image.
        if (to === 'stopped') vm.image = new PageImage(vm.image.pageSize, vm.image.pageCount);
        else this.#loadInitialImage(vm);
        vm.tracking = undefined;
        vm.missing = undefined;
      }
      if (vm.state !== to) this.#setState(vmId, vm, to);
      return this.#info(vmId, vm);
    });
  }

  #setState(vmId: string, vm: MemoryVm, to: VmState): void {
    const from = vm.state;
    vm.state = to;
    vm.model.running = to === 'running';
    this.#events.state(vmId, from, to);
  }

  /** Applies the guest's dirtying up to now (only a running guest writes memory). */
  #advance(vm: MemoryVm): void {
    const id = vm.request.spec.id;
    vm.model.advance(this.#clock.now(), (page, counter, word) => {
      const waiting = vm.missing?.get(page);
      if (waiting !== undefined) {
        // A touch of a page still at the source: the write waits for the page; report the fault once.
        if (waiting.length === 0)
          for (const l of this.#faultListeners) {
            try {
              l(id, page);
            } catch {
              // a listener's failure is its own
            }
          }
        waiting.push([counter, word]);
      } else vm.image.stamp(page, counter, word);
      if (vm.tracking) vm.tracking[page] = 1;
    });
  }

  #loadInitialImage(vm: MemoryVm): void {
    const seed = vm.request.config?.fillRandom;
    if (typeof seed === 'number') {
      const rng = this.#rng.fork(`fill:${vm.request.spec.id}:${seed}`);
      for (let p = 0; p < vm.image.pageCount; p++) vm.image.write(p, rng.bytes(vm.image.pageSize));
    }
    const image = vm.request.config?.image;
    if (!(image instanceof Uint8Array)) return;
    const size = vm.image.pageSize;
    for (let p = 0; p * size < image.length; p++) {
      const page = new Uint8Array(size);
      page.set(image.subarray(p * size, (p + 1) * size));
      vm.image.write(p, page);
    }
  }

  #require(vmId: string, vm: MemoryVm, allowed: readonly VmState[], op: string): void {
    if (!allowed.includes(vm.state))
      throw providerError(ProviderErrorCode.Conflict, `cannot ${op} VM ${vmId} in state ${vm.state}`, {
        vmId,
        state: vm.state,
        operation: op,
      });
  }

  #checkPages(vm: MemoryVm, pages: Uint32Array): void {
    if (!(pages instanceof Uint32Array))
      throw providerError(ProviderErrorCode.Invalid, 'pages must be a Uint32Array', { received: typeof pages });
    for (let i = 0; i < pages.length; i++)
      if (pages[i]! >= vm.image.pageCount)
        throw providerError(ProviderErrorCode.Invalid, `page ${pages[i]} is out of range`, {
          page: pages[i],
          pageCount: vm.image.pageCount,
        });
  }

  #validateCreate(request: VmCreateRequest): void {
    try {
      assertObject('request', request);
      assertObject('request.spec', request.spec);
      assertString('request.spec.id', request.spec.id, { nonEmpty: true, maxLength: 128 });
      assertString('request.hostId', request.hostId, { nonEmpty: true });
      validateResourceVector('request.spec.resources', request.spec.resources);
      if (request.config !== undefined) assertObject('request.config', request.config);
      const c = request.config ?? {};
      if (c.dirtyBytesPerSecond !== undefined)
        assertNumber('config.dirtyBytesPerSecond', c.dirtyBytesPerSecond, { min: 0 });
      if (c.workingSetBytes !== undefined) assertNumber('config.workingSetBytes', c.workingSetBytes, { min: 0 });
      if (c.fillRandom !== undefined) assertNumber('config.fillRandom', c.fillRandom);
    } catch (err) {
      throw providerError(ProviderErrorCode.Invalid, (err as Error).message, {}, err);
    }
    const mem = request.spec.resources.memoryBytes;
    if (mem % this.#pageSize !== 0 || mem <= 0 || mem > this.#maxMemoryBytes)
      throw providerError(ProviderErrorCode.Invalid, `memoryBytes must be a positive multiple of ${this.#pageSize}`, {
        memoryBytes: mem,
        maxMemoryBytes: this.#maxMemoryBytes,
      });
    const image = request.config?.image;
    if (image !== undefined && (!(image instanceof Uint8Array) || image.length > mem))
      throw providerError(ProviderErrorCode.Invalid, 'config.image must be a Uint8Array no larger than memory', {});
  }

  #geometryOf(memoryBytes: number): PageGeometry {
    return { pageSize: this.#pageSize, pageCount: memoryBytes / this.#pageSize };
  }

  #allocated(hostId: string) {
    let sum = ZERO_RESOURCES;
    for (const vm of this.#vms.values())
      if (vm.request.hostId === hostId) sum = addResources(sum, vm.request.spec.resources);
    return sum;
  }

  #vm(vmId: string): MemoryVm {
    const vm = typeof vmId === 'string' ? this.#vms.get(vmId) : undefined;
    if (!vm) throw providerError(ProviderErrorCode.NotFound, `no VM ${String(vmId)}`, { vmId });
    return vm;
  }

  #info(id: string, vm: MemoryVm): VmInfo {
    return {
      id,
      hostId: vm.request.hostId,
      spec: vm.request.spec,
      state: vm.state,
      eventSeq: this.#events.seqOf(id),
    };
  }
}
