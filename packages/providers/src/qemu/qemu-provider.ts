import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type Clock,
  CoreErrorCode,
  type Duplex,
  type Logger,
  type MigrationProgress,
  type MigrationResult,
  NovacronError,
  type OperationOptions,
  type PageGeometry,
  type ProviderCapabilities,
  ProviderErrorCode,
  type ProviderEvent,
  type ProviderHost,
  type ResourceVector,
  type SnapshotInfo,
  type Startable,
  type StreamMigrationOptions,
  type Unsubscribe,
  type VmCreateRequest,
  type VmInfo,
  type VmOperation,
  type VmProvider,
  type VmState,
  ZERO_RESOURCES,
  addResources,
  assertInteger,
  assertObject,
  assertString,
  fitsWithin,
  isNovacronError,
  noopLogger,
  providerError,
  subtractResources,
  unsupportedOperation,
  validateResourceVector,
} from '@novacron/core';
import { ProvidersErrorCode } from '../errors.js';
import { EventHub } from '../event-hub.js';
import { OperationRunner } from '../operation-runner.js';
import { QemuProcess } from './qemu-process.js';
import type { QmpClient } from './qmp-client.js';
import { pumpDuplexToSocket, pumpSocketToDuplex } from './stream-pump.js';

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;

/** Options for {@link QemuProvider}. */
export interface QemuProviderInit {
  /** Time base for timeouts and progress polling (a system clock in production). */
  readonly clock: Clock;
  /** Directory for per-VM state: QMP and migration sockets, disks, snapshots. Created if missing. */
  readonly workDir: string;
  /** Emulator binary (default `qemu-system-x86_64`). */
  readonly binary?: string;
  /** `qemu-img` binary (default `qemu-img`). */
  readonly qemuImg?: string;
  /** Accelerator (default `tcg`: software emulation, works without /dev/kvm). */
  readonly accel?: 'tcg' | 'kvm';
  /** The one host this provider manages (default id `local`, capacity from the machine's CPUs and memory). */
  readonly host?: {
    readonly id?: string;
    readonly capacity?: ResourceVector;
    readonly labels?: Record<string, string>;
  };
  /** Operation timeout when a call gives none (default 60 000 ms). */
  readonly defaultTimeoutMs?: number;
  /** Grace period for `quit` before SIGKILL (default 5 000 ms). */
  readonly quitGraceMs?: number;
  /** Optional logger. */
  readonly logger?: Logger;
}

/**
 * Backend configuration of a QEMU VM (`VmCreateRequest.config`). Memory
 * comes from `spec.resources.memoryBytes` (whole MiB), vCPUs from
 * `vcpus` or `ceil(cpuMillis / 1000)`.
 */
export interface QemuVmConfig {
  /** Virtual CPUs (default from `cpuMillis`). */
  readonly vcpus?: number;
  /** Machine type (default `pc`). */
  readonly machine?: string;
  /** Create a qcow2 disk of this many bytes with `qemu-img` (attached as virtio-blk). */
  readonly diskBytes?: number;
  /** Direct kernel boot: kernel image path. */
  readonly kernel?: string;
  /** Direct kernel boot: initramfs path. */
  readonly initrd?: string;
  /** Direct kernel boot: command line. */
  readonly append?: string;
  /** Load guest RAM contents from this file (mapped private, so the file is not modified). */
  readonly ramFile?: string;
  /** Expose the first serial port as a unix socket at `<vmDir>/serial.sock` (see {@link QemuProvider.serialPath}). */
  readonly serialSocket?: boolean;
}

interface QemuVm {
  readonly request: VmCreateRequest;
  readonly config: QemuVmConfig;
  readonly dir: string;
  state: VmState;
  proc: QemuProcess | undefined;
  /** Set while the provider itself stops the process, so its exit is not a failure. */
  expectingExit: boolean;
  readonly snapshots: SnapshotInfo[];
  snapshotCounter: number;
  generation: number;
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
  'migrate-stream',
];

interface QueryMigrate {
  status?: string;
  'total-time'?: number;
  downtime?: number;
  ram?: { transferred?: number; remaining?: number; total?: number; 'dirty-pages-rate'?: number; 'page-size'?: number };
  'error-desc'?: string;
}

/**
 * Runs VMs as real `qemu-system-x86_64` processes (TCG by default) driven
 * over QMP with {@link QmpClient}: one process per running VM, started
 * paused (`-S`) and continued, stopped with `quit`. Snapshots are QEMU
 * migration streams saved to a file (`file:` URI) and restored through
 * `-incoming defer` + `migrate-incoming`. Live migration is the `stream`
 * style: the source QEMU migrates into a unix socket this provider reads
 * into the caller's {@link Duplex}, pausing the socket while a write is
 * pending so QEMU feels the transport's backpressure; the destination
 * (started `-incoming defer -S`) listens on a unix socket this provider
 * feeds from the caller's duplex. QEMU's migration capabilities and
 * parameters pass through; `query-migrate` progress becomes `migration`
 * events. Pages-style operations are refused as `Unsupported`.
 */
export class QemuProvider implements VmProvider, Startable {
  readonly name = 'qemu';
  readonly #init: QemuProviderInit;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #binary: string;
  readonly #hostId: string;
  readonly #vms = new Map<string, QemuVm>();
  readonly #events: EventHub;
  readonly #runner: OperationRunner;
  readonly #processes = new Set<QemuProcess>();
  #capabilities: Promise<ProviderCapabilities> | undefined;

  constructor(init: QemuProviderInit) {
    assertString('workDir', init.workDir, { nonEmpty: true });
    this.#init = init;
    this.#clock = init.clock;
    this.#logger = init.logger ?? noopLogger('qemu');
    this.#binary = init.binary ?? 'qemu-system-x86_64';
    this.#hostId = init.host?.id ?? 'local';
    if (init.host?.capacity) validateResourceVector('host.capacity', init.host.capacity);
    this.#events = new EventHub(init.clock, this.#logger);
    this.#runner = new OperationRunner({ clock: init.clock, defaultTimeoutMs: init.defaultTimeoutMs ?? 60_000 });
  }

  /** Creates the work directory. */
  async start(): Promise<void> {
    await mkdir(this.#init.workDir, { recursive: true });
  }

  /** Kills every QEMU process this provider started and forgets its VMs (their directories are removed). */
  async stop(): Promise<void> {
    for (const vm of this.#vms.values()) vm.expectingExit = true;
    await Promise.all([...this.#processes].map((p) => p.kill()));
    for (const vm of this.#vms.values()) await rm(vm.dir, { recursive: true, force: true });
    this.#vms.clear();
  }

  /** Process ids of the QEMU processes alive now (for leak checks). */
  get livePids(): number[] {
    return [...this.#processes].filter((p) => !p.hasExited && p.pid !== undefined).map((p) => p.pid!);
  }

  /**
   * The QMP connection of a VM's running QEMU (`undefined` when none runs):
   * an escape hatch for QEMU features the contract does not cover. Commands
   * that change run state behind the provider's back make its view stale.
   */
  qmp(vmId: string): QmpClient | undefined {
    return this.#vm(vmId).proc?.qmp;
  }

  /** Path of a VM's serial-port socket (config `serialSocket: true`), for reading the guest console. */
  serialPath(vmId: string): string {
    return join(this.#vm(vmId).dir, 'serial.sock');
  }

  probe(options?: OperationOptions): Promise<ProviderCapabilities> {
    return this.#run('probe', undefined, null, options, async (signal) => {
      this.#capabilities ??= this.#probe(signal);
      try {
        return await this.#capabilities;
      } catch (err) {
        this.#capabilities = undefined;
        throw err;
      }
    });
  }

  listHosts(options?: OperationOptions): Promise<ProviderHost[]> {
    return this.#run('listHosts', undefined, null, options, async () => {
      const capacity = this.#init.host?.capacity ?? { cpuMillis: cpus().length * 1000, memoryBytes: totalmem() };
      let allocated = ZERO_RESOURCES;
      for (const vm of this.#vms.values()) allocated = addResources(allocated, vm.request.spec.resources);
      return [
        {
          id: this.#hostId,
          capacity,
          ...(this.#init.host?.labels ? { labels: this.#init.host.labels } : {}),
          allocated,
          free: subtractResources(capacity, allocated),
        },
      ];
    });
  }

  createVm(request: VmCreateRequest, options?: OperationOptions): Promise<VmInfo> {
    const id = (request as { spec?: { id?: unknown } } | undefined)?.spec?.id;
    return this.#run('createVm', typeof id === 'string' ? id : undefined, request, options, async (signal) => {
      const config = this.#validateCreate(request);
      const vmId = request.spec.id;
      if (this.#vms.has(vmId)) throw providerError(ProviderErrorCode.Conflict, `VM ${vmId} already exists`, { vmId });
      if (request.hostId !== this.#hostId)
        throw providerError(ProviderErrorCode.NotFound, `no host ${request.hostId}`, { hostId: request.hostId });
      const [host] = await this.listHosts();
      if (!fitsWithin(request.spec.resources, host!.free))
        throw providerError(ProviderErrorCode.Quota, `host ${this.#hostId} lacks capacity for VM ${vmId}`, { vmId });
      const dir = join(this.#init.workDir, encodeURIComponent(vmId));
      const vm: QemuVm = {
        request,
        config,
        dir,
        state: request.incoming ? 'incoming' : 'stopped',
        proc: undefined,
        expectingExit: false,
        snapshots: [],
        snapshotCounter: 0,
        generation: 0,
      };
      // Reserve the id before the awaits below, so a concurrent create of the same id conflicts.
      this.#vms.set(vmId, vm);
      try {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        if (config.diskBytes !== undefined) await this.#createDisk(vm, signal);
        if (request.incoming) await this.#launch(vmId, vm, true, signal);
      } catch (err) {
        await this.#terminate(vm);
        this.#vms.delete(vmId);
        await rm(dir, { recursive: true, force: true });
        throw this.#mapError(err, vmId);
      }
      this.#events.state(vmId, undefined, vm.state);
      return this.#info(vmId, vm);
    });
  }

  getVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#run('getVm', undefined, vmId, options, async () => this.#info(vmId, this.#vm(vmId)));
  }

  listVms(hostId?: string, options?: OperationOptions): Promise<VmInfo[]> {
    return this.#run('listVms', undefined, hostId ?? null, options, async () =>
      hostId !== undefined && hostId !== this.#hostId
        ? []
        : [...this.#vms.entries()].map(([id, vm]) => this.#info(id, vm)),
    );
  }

  startVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#op('startVm', vmId, ['stopped'], options, async (vm, signal) => {
      await this.#launch(vmId, vm, false, signal);
      try {
        await vm.proc!.qmp.execute('cont', undefined, { signal });
      } catch (err) {
        // A start that did not finish leaves the VM stopped, with no process.
        await this.#terminate(vm);
        throw err;
      }
      this.#setState(vmId, vm, 'running');
    });
  }

  pauseVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#op('pauseVm', vmId, ['running'], options, async (vm, signal) => {
      await vm.proc!.qmp.execute('stop', undefined, { signal });
      this.#setState(vmId, vm, 'paused');
    });
  }

  resumeVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#op('resumeVm', vmId, ['paused', 'migrated'], options, async (vm, signal) => {
      await vm.proc!.qmp.execute('cont', undefined, { signal });
      this.#setState(vmId, vm, 'running');
    });
  }

  stopVm(vmId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#op('stopVm', vmId, ['stopped', 'running', 'paused', 'migrated', 'failed'], options, async (vm) => {
      await this.#terminate(vm);
      if (vm.state !== 'stopped') this.#setState(vmId, vm, 'stopped');
    });
  }

  deleteVm(vmId: string, options?: OperationOptions): Promise<void> {
    return this.#run('deleteVm', vmId, vmId, options, async () => {
      const vm = this.#vm(vmId);
      await this.#terminate(vm);
      await rm(vm.dir, { recursive: true, force: true });
      this.#vms.delete(vmId);
      this.#events.deleted(vmId);
    });
  }

  snapshotVm(vmId: string, options?: OperationOptions): Promise<SnapshotInfo> {
    return this.#run('snapshotVm', vmId, vmId, options, async (signal) => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['running', 'paused'], 'snapshot');
      const qmp = vm.proc!.qmp;
      const wasRunning = vm.state === 'running';
      const id = `snap-${++vm.snapshotCounter}`;
      const file = join(vm.dir, `${id}.migstream`);
      try {
        // Pause first so the snapshot is one instant of the guest, not a live-migration blend.
        if (wasRunning) await qmp.execute('stop', undefined, { signal });
        await this.#migrateAndWait(vmId, vm, `file:${file}`, {}, signal);
      } finally {
        if (wasRunning && !vm.proc?.hasExited) await qmp.execute('cont').catch(() => undefined);
      }
      const info: SnapshotInfo = { id, vmId, createdAt: this.#clock.now(), sizeBytes: (await stat(file)).size };
      vm.snapshots.push(info);
      return info;
    });
  }

  listSnapshots(vmId: string, options?: OperationOptions): Promise<SnapshotInfo[]> {
    return this.#run('listSnapshots', vmId, vmId, options, async () => [...this.#vm(vmId).snapshots]);
  }

  restoreVm(vmId: string, snapshotId: string, options?: OperationOptions): Promise<VmInfo> {
    return this.#op(
      'restoreVm',
      vmId,
      ['stopped', 'running', 'paused', 'migrated', 'failed'],
      options,
      async (vm, signal) => {
        if (!vm.snapshots.some((s) => s.id === snapshotId))
          throw providerError(ProviderErrorCode.NotFound, `VM ${vmId} has no snapshot ${snapshotId}`, {
            vmId,
            snapshotId,
          });
        await this.#terminate(vm);
        if (vm.state !== 'stopped') this.#setState(vmId, vm, 'stopped');
        await this.#launch(vmId, vm, true, signal);
        const qmp = vm.proc!.qmp;
        try {
          const done = this.#waitMigration(vm, signal);
          done.catch(() => undefined);
          await qmp.execute('migrate-incoming', { uri: `file:${join(vm.dir, `${snapshotId}.migstream`)}` }, { signal });
          await done;
        } catch (err) {
          await this.#terminate(vm);
          throw err;
        }
        this.#setState(vmId, vm, 'paused');
      },
    );
  }

  migrateSend(vmId: string, stream: Duplex, options: StreamMigrationOptions = {}): Promise<MigrationResult> {
    const request = [vmId, options.capabilities ?? null, options.parameters ?? null];
    return this.#run('migrateSend', vmId, request, options, async (signal) => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['running', 'paused'], 'migrateSend');
      const started = this.#clock.now();
      const path = join(vm.dir, `out-${++vm.generation}.sock`);
      const server = await listenUnix(path);
      try {
        const accepted = acceptOne(server);
        const pumped = accepted.then((socket) => pumpSocketToDuplex(socket, stream, signal));
        pumped.catch(() => undefined);
        const previous = vm.state;
        let final: QueryMigrate;
        try {
          final = await this.#migrateAndWait(vmId, vm, `unix:${path}`, options, signal);
        } catch (err) {
          stream.abort(err instanceof Error ? err : undefined);
          // QEMU restarts a running source after a cancelled or failed migration.
          if (!vm.proc?.hasExited && previous === 'running') await vm.proc?.qmp.execute('cont').catch(() => undefined);
          throw err;
        }
        const bytes = await pumped;
        this.#setState(vmId, vm, 'migrated');
        return {
          status: 'completed',
          bytes,
          totalTimeMs: this.#clock.now() - started,
          ...(final.downtime !== undefined ? { downtimeMs: final.downtime } : {}),
          stats: final as Record<string, unknown>,
        };
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  }

  migrateReceive(vmId: string, stream: Duplex, options: StreamMigrationOptions = {}): Promise<MigrationResult> {
    const request = [vmId, options.capabilities ?? null, options.parameters ?? null];
    return this.#run('migrateReceive', vmId, request, options, async (signal) => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, ['incoming'], 'migrateReceive');
      const qmp = vm.proc!.qmp;
      const started = this.#clock.now();
      await this.#applyMigrationSettings(vm, options, signal);
      const path = join(vm.dir, `in-${++vm.generation}.sock`);
      const done = this.#waitMigration(vm, signal, 'destination', vmId, options.progressIntervalMs);
      done.catch(() => undefined);
      await qmp.execute('migrate-incoming', { uri: `unix:${path}` }, { signal });
      const socket = await connectUnix(path, this.#clock, signal);
      let bytes: number;
      try {
        bytes = await pumpDuplexToSocket(stream, socket, signal);
        await done;
      } catch (err) {
        stream.abort(err instanceof Error ? err : undefined);
        socket.destroy();
        throw this.#mapError(err, vmId);
      }
      socket.destroy();
      this.#setState(vmId, vm, 'paused');
      return { status: 'completed', bytes, totalTimeMs: this.#clock.now() - started };
    });
  }

  pageGeometry(): Promise<PageGeometry> {
    return this.#refuse('migrate-pages');
  }
  startDirtyTracking(): Promise<void> {
    return this.#refuse('migrate-pages');
  }
  collectDirtyPages(): Promise<Uint32Array> {
    return this.#refuse('migrate-pages');
  }
  stopDirtyTracking(): Promise<void> {
    return this.#refuse('migrate-pages');
  }
  readPages(): Promise<Uint8Array> {
    return this.#refuse('migrate-pages');
  }
  writePages(): Promise<void> {
    return this.#refuse('migrate-pages');
  }
  setDirtyRateLimit(): Promise<void> {
    return this.#refuse('migrate-pages');
  }
  completeIncoming(): Promise<VmInfo> {
    return this.#refuse('migrate-pages');
  }

  onEvent(listener: (event: ProviderEvent) => void): Unsubscribe {
    return this.#events.on(listener);
  }

  /** Runs an operation through the runner, mapping QMP and process failures onto the taxonomy. */
  #run<T>(
    name: string,
    lockKey: string | undefined,
    request: unknown,
    options: OperationOptions | undefined,
    body: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const vmId = typeof lockKey === 'string' ? lockKey : '';
    return this.#runner.run(name, lockKey, request, options, async (signal) => {
      try {
        return await body(signal);
      } catch (err) {
        throw this.#mapError(err, vmId);
      }
    });
  }

  #refuse<T>(op: VmOperation): Promise<T> {
    return Promise.reject(unsupportedOperation(this.name, op));
  }

  /** A state-checked operation on a VM, with QMP and process failures mapped onto the taxonomy. */
  #op(
    name: string,
    vmId: string,
    from: readonly VmState[],
    options: OperationOptions | undefined,
    body: (vm: QemuVm, signal: AbortSignal) => Promise<void>,
  ): Promise<VmInfo> {
    return this.#run(name, vmId, vmId, options, async (signal) => {
      const vm = this.#vm(vmId);
      this.#require(vmId, vm, from, name);
      try {
        await body(vm, signal);
      } catch (err) {
        throw this.#mapError(err, vmId);
      }
      return this.#info(vmId, vm);
    });
  }

  async #launch(vmId: string, vm: QemuVm, incoming: boolean, signal: AbortSignal): Promise<void> {
    const args = this.#argsFor(vm, incoming);
    const proc = await QemuProcess.launch(
      {
        binary: this.#binary,
        args,
        qmpPath: join(vm.dir, 'qmp.sock'),
        clock: this.#clock,
        startTimeoutMs: 30_000,
        logger: this.#logger,
      },
      signal,
    );
    this.#processes.add(proc);
    vm.proc = proc;
    vm.expectingExit = false;
    void proc.exited.then(() => {
      this.#processes.delete(proc);
      if (vm.proc !== proc) return;
      vm.proc = undefined;
      if (!vm.expectingExit && this.#vms.get(vmId) === vm && vm.state !== 'stopped') {
        this.#logger.warn('QEMU exited unexpectedly', { vmId, stderr: proc.stderr.slice(-500) });
        this.#setState(vmId, vm, 'failed');
      }
    });
  }

  #argsFor(vm: QemuVm, incoming: boolean): string[] {
    const c = vm.config;
    const memMiB = vm.request.spec.resources.memoryBytes / MiB;
    const vcpus = c.vcpus ?? Math.max(1, Math.ceil(vm.request.spec.resources.cpuMillis / 1000));
    const args = [
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-name',
      vm.request.spec.id,
      '-machine',
      `${c.machine ?? 'pc'},accel=${this.#init.accel ?? 'tcg'}${c.ramFile ? ',memory-backend=ram0' : ''}`,
      '-m',
      `${memMiB}M`,
      '-smp',
      String(vcpus),
      '-S',
    ];
    if (c.ramFile)
      args.push('-object', `memory-backend-file,id=ram0,size=${memMiB}M,mem-path=${c.ramFile},share=off,prealloc=off`);
    if (c.diskBytes !== undefined)
      args.push('-drive', `file=${join(vm.dir, 'disk.qcow2')},format=qcow2,if=virtio,cache=writeback`);
    if (c.kernel) args.push('-kernel', c.kernel);
    if (c.initrd) args.push('-initrd', c.initrd);
    if (c.append) args.push('-append', c.append);
    if (c.serialSocket)
      args.push(
        '-chardev',
        `socket,id=ser0,path=${join(vm.dir, 'serial.sock')},server=on,wait=off`,
        '-serial',
        'chardev:ser0',
      );
    else args.push('-serial', 'none');
    if (incoming) args.push('-incoming', 'defer');
    return args;
  }

  async #createDisk(vm: QemuVm, signal: AbortSignal): Promise<void> {
    try {
      await execFileAsync(
        this.#init.qemuImg ?? 'qemu-img',
        ['create', '-q', '-f', 'qcow2', join(vm.dir, 'disk.qcow2'), String(vm.config.diskBytes)],
        { signal },
      );
    } catch (err) {
      throw providerError(ProviderErrorCode.Invalid, `qemu-img create failed: ${(err as Error).message}`, {}, err);
    }
  }

  async #terminate(vm: QemuVm): Promise<void> {
    const proc = vm.proc;
    if (!proc) return;
    vm.expectingExit = true;
    await proc.quit(this.#init.quitGraceMs ?? 5_000, this.#clock);
    this.#processes.delete(proc);
    if (vm.proc === proc) vm.proc = undefined;
    // QEMU removes its QMP socket on a clean quit, not when killed.
    await rm(join(vm.dir, 'qmp.sock'), { force: true });
    await rm(join(vm.dir, 'serial.sock'), { force: true });
  }

  async #applyMigrationSettings(vm: QemuVm, options: StreamMigrationOptions, signal: AbortSignal): Promise<void> {
    const qmp = vm.proc!.qmp;
    const caps = { events: true, ...options.capabilities };
    await qmp.execute(
      'migrate-set-capabilities',
      { capabilities: Object.entries(caps).map(([capability, state]) => ({ capability, state })) },
      { signal },
    );
    if (options.parameters && Object.keys(options.parameters).length > 0)
      await qmp.execute('migrate-set-parameters', { ...options.parameters }, { signal });
  }

  /** Starts an outgoing migration to `uri` and waits for `completed`; cancels it on abort. */
  async #migrateAndWait(
    vmId: string,
    vm: QemuVm,
    uri: string,
    options: StreamMigrationOptions,
    signal: AbortSignal,
  ): Promise<QueryMigrate> {
    const qmp = vm.proc!.qmp;
    await this.#applyMigrationSettings(vm, options, signal);
    const done = this.#waitMigration(vm, signal, 'source', vmId, options.progressIntervalMs);
    done.catch(() => undefined);
    try {
      await qmp.execute('migrate', { uri }, { signal });
      return await done;
    } catch (err) {
      if (!vm.proc?.hasExited) {
        await qmp.execute('migrate_cancel').catch(() => undefined);
        await this.#waitSettled(vm).catch(() => undefined);
      }
      throw this.#mapError(err, vmId);
    }
  }

  /**
   * Polls `query-migrate` until a terminal status, emitting progress events
   * for the role when given; MIGRATION events wake the poll early.
   */
  async #waitMigration(
    vm: QemuVm,
    signal: AbortSignal,
    role?: 'source' | 'destination',
    vmId?: string,
    intervalMs = 100,
  ): Promise<QueryMigrate> {
    const qmp = vm.proc!.qmp;
    let wake: (() => void) | undefined;
    const off = qmp.onEvent((e) => {
      if (e.event === 'MIGRATION') wake?.();
    });
    try {
      for (;;) {
        if (signal.aborted) throw signal.reason;
        const q = await qmp.execute<QueryMigrate>('query-migrate', undefined, { signal });
        if (role && vmId && q.status) this.#events.migration(vmId, role, progressOf(q));
        if (q.status === 'completed') return q;
        if (q.status === 'failed' || q.status === 'cancelled')
          throw providerError(ProviderErrorCode.Transient, `migration ${q.status}: ${q['error-desc'] ?? ''}`, {
            status: q.status,
            error: q['error-desc'],
          });
        await new Promise<void>((resolve, reject) => {
          const finish = () => {
            timer.cancel();
            signal.removeEventListener('abort', onAbort);
            resolve();
          };
          const onAbort = () => {
            timer.cancel();
            reject(signal.reason);
          };
          const timer = this.#clock.setTimeout(finish, intervalMs);
          wake = finish;
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        });
      }
    } finally {
      off();
    }
  }

  async #waitSettled(vm: QemuVm): Promise<void> {
    const deadline = this.#clock.now() + 10_000;
    while (this.#clock.now() < deadline && vm.proc && !vm.proc.hasExited) {
      const q = await vm.proc.qmp.execute<QueryMigrate>('query-migrate');
      if (q.status !== 'cancelling' && q.status !== 'active' && q.status !== 'setup' && q.status !== 'device') return;
      await this.#clock.sleep(20);
    }
  }

  async #probe(signal: AbortSignal): Promise<ProviderCapabilities> {
    let version: string;
    try {
      const { stdout } = await execFileAsync(this.#binary, ['--version'], { signal });
      version = /version (\S+)/.exec(stdout)?.[1] ?? 'unknown';
    } catch (err) {
      throw providerError(ProviderErrorCode.Unsupported, `cannot run ${this.#binary}`, { binary: this.#binary }, err);
    }
    // Ask a throwaway QEMU which migration capabilities this build has.
    const dir = join(this.#init.workDir, `.probe-${process.pid}-${Math.floor(this.#clock.now())}`);
    await mkdir(dir, { recursive: true });
    let proc: QemuProcess | undefined;
    try {
      proc = await QemuProcess.launch(
        {
          binary: this.#binary,
          args: ['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'none', '-S'],
          qmpPath: join(dir, 'qmp.sock'),
          clock: this.#clock,
          startTimeoutMs: 30_000,
          logger: this.#logger,
        },
        signal,
      );
      const caps = await proc.qmp.execute<{ capability: string }[]>('query-migrate-capabilities', undefined, {
        signal,
      });
      return {
        backend: `qemu ${version}`,
        operations: OPERATIONS,
        migration: ['stream'],
        migrationCapabilities: caps.map((c) => c.capability),
        details: { accel: this.#init.accel ?? 'tcg', binary: this.#binary, kvm: existsSync('/dev/kvm') },
      };
    } finally {
      await proc?.quit(this.#init.quitGraceMs ?? 5_000, this.#clock);
      await rm(dir, { recursive: true, force: true });
    }
  }

  #validateCreate(request: VmCreateRequest): QemuVmConfig {
    try {
      assertObject('request', request);
      assertObject('request.spec', request.spec);
      assertString('request.spec.id', request.spec.id, { nonEmpty: true, maxLength: 64 });
      assertString('request.hostId', request.hostId, { nonEmpty: true });
      validateResourceVector('request.spec.resources', request.spec.resources);
      const raw: unknown = request.config ?? {};
      assertObject('request.config', raw);
      const config = raw as QemuVmConfig;
      const mem = request.spec.resources.memoryBytes;
      if (mem % MiB !== 0 || mem < 16 * MiB) throw new Error('memoryBytes must be whole MiB, at least 16 MiB');
      if (config.vcpus !== undefined) assertInteger('config.vcpus', config.vcpus, { min: 1, max: 255 });
      if (config.diskBytes !== undefined) assertInteger('config.diskBytes', config.diskBytes, { min: MiB });
      for (const k of ['kernel', 'initrd', 'append', 'ramFile', 'machine'] as const)
        if (config[k] !== undefined) assertString(`config.${k}`, config[k], { nonEmpty: true, maxLength: 4096 });
      for (const k of ['kernel', 'initrd', 'ramFile'] as const)
        if (config[k] !== undefined && !existsSync(config[k]!))
          throw new Error(`config.${k}: no such file ${config[k]}`);
      if (config.machine !== undefined && !/^[a-z0-9.-]+$/.test(config.machine))
        throw new Error('config.machine: bad name');
      return config;
    } catch (err) {
      if (isNovacronError(err, ProviderErrorCode.Invalid)) throw err;
      throw providerError(ProviderErrorCode.Invalid, (err as Error).message, {}, err);
    }
  }

  #mapError(err: unknown, vmId: string): unknown {
    if (!(err instanceof NovacronError)) return err;
    switch (err.code) {
      case ProvidersErrorCode.QMP_DISCONNECTED:
      case ProvidersErrorCode.QMP_PROTOCOL:
      case ProvidersErrorCode.QMP_CONNECT_FAILED:
      case ProvidersErrorCode.QEMU_SPAWN_FAILED:
        return providerError(ProviderErrorCode.Transient, `QEMU for VM ${vmId}: ${err.message}`, { vmId }, err);
      case ProvidersErrorCode.QMP_COMMAND_FAILED:
        return providerError(ProviderErrorCode.Invalid, `QEMU refused: ${err.message}`, { vmId, ...err.details }, err);
      case CoreErrorCode.STREAM_CLOSED:
        return providerError(ProviderErrorCode.Transient, `migration stream closed for VM ${vmId}`, { vmId }, err);
      default:
        return err;
    }
  }

  #setState(vmId: string, vm: QemuVm, to: VmState): void {
    const from = vm.state;
    vm.state = to;
    this.#events.state(vmId, from, to);
  }

  #require(vmId: string, vm: QemuVm, allowed: readonly VmState[], op: string): void {
    if (!allowed.includes(vm.state))
      throw providerError(ProviderErrorCode.Conflict, `cannot ${op} VM ${vmId} in state ${vm.state}`, {
        vmId,
        state: vm.state,
        operation: op,
      });
    if (vm.state !== 'stopped' && vm.state !== 'failed' && !vm.proc && op !== 'stopVm')
      throw providerError(ProviderErrorCode.Transient, `QEMU for VM ${vmId} is not running`, { vmId });
  }

  #vm(vmId: string): QemuVm {
    const vm = typeof vmId === 'string' ? this.#vms.get(vmId) : undefined;
    if (!vm) throw providerError(ProviderErrorCode.NotFound, `no VM ${String(vmId)}`, { vmId });
    return vm;
  }

  #info(id: string, vm: QemuVm): VmInfo {
    return { id, hostId: vm.request.hostId, spec: vm.request.spec, state: vm.state, eventSeq: this.#events.seqOf(id) };
  }
}

function progressOf(q: QueryMigrate): MigrationProgress {
  const ram = q.ram ?? {};
  const pageSize = ram['page-size'] ?? 4096;
  return {
    status: q.status ?? 'unknown',
    transferredBytes: ram.transferred ?? 0,
    ...(ram.remaining !== undefined ? { remainingBytes: ram.remaining } : {}),
    ...(ram['dirty-pages-rate'] !== undefined ? { dirtyBytesPerSecond: ram['dirty-pages-rate'] * pageSize } : {}),
  };
}

function listenUnix(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

function acceptOne(server: Server): Promise<Socket> {
  return new Promise((resolve) => server.once('connection', resolve));
}

async function connectUnix(path: string, clock: Clock, signal: AbortSignal): Promise<Socket> {
  // QEMU creates the listening socket inside migrate-incoming; connect once it accepts.
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = createConnection({ path });
        s.once('connect', () => {
          s.removeAllListeners('error');
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (attempt > 200)
        throw providerError(ProviderErrorCode.Transient, 'cannot reach the incoming QEMU', { path }, err);
      await clock.sleep(10, signal);
    }
  }
}
