import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import type { Host, ResourceVector, VmSpec } from '../resources.js';
import type { Duplex } from '../transport/stream-transport.js';

/**
 * The error taxonomy every {@link VmProvider} speaks, as stable codes. An
 * adapter maps its backend's failures onto these six so callers can decide
 * what to do (retry a `Transient`, place elsewhere on `Quota`, give up on
 * `Unsupported`) without knowing the backend. Adapters may put
 * backend-specific facts in `details` and the backend error in `cause`.
 */
export const ProviderErrorCode = {
  /** No VM, host or snapshot by that id. */
  NotFound: CoreErrorCode.PROVIDER_NOT_FOUND,
  /** Wrong VM state for the operation, or an idempotency key reused for a different request. */
  Conflict: CoreErrorCode.PROVIDER_CONFLICT,
  /** The backend cannot do this; refused before anything started. */
  Unsupported: CoreErrorCode.PROVIDER_UNSUPPORTED,
  /** A temporary failure; retrying the same request (same idempotency key) is safe. */
  Transient: CoreErrorCode.PROVIDER_TRANSIENT,
  /** Not enough capacity on the host, or a backend limit reached. */
  Quota: CoreErrorCode.PROVIDER_QUOTA,
  /** The request is malformed or names a configuration the backend rejects. */
  Invalid: CoreErrorCode.PROVIDER_INVALID,
} as const;

/** Union of the codes in {@link ProviderErrorCode}. */
export type ProviderErrorCode = (typeof ProviderErrorCode)[keyof typeof ProviderErrorCode];

/** Builds a provider error with the given taxonomy code. */
export function providerError(
  code: ProviderErrorCode,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
  cause?: unknown,
): NovacronError<ProviderErrorCode> {
  return new NovacronError(code, message, { details, cause });
}

/**
 * Where a VM is in its life. `stopped`: defined, not running (after create
 * or stop). `running`, `paused`: as in any hypervisor. `incoming`: created as
 * a migration destination, waiting for state; it becomes `paused` when the
 * migration completes (the caller resumes it once ownership has moved).
 * `migrated`: a source whose state has been handed off; it may be resumed
 * (rollback) or deleted. `failed`: the backend lost the VM (process died);
 * only `stop` and `delete` are allowed.
 */
export type VmState = 'stopped' | 'running' | 'paused' | 'incoming' | 'migrated' | 'failed';

/** Every operation of the contract, by name; capabilities list the ones a backend can do. */
export type VmOperation =
  | 'create'
  | 'start'
  | 'pause'
  | 'resume'
  | 'stop'
  | 'delete'
  | 'snapshot'
  | 'restore'
  | 'migrate-stream'
  | 'migrate-pages'
  | 'migrate-postcopy';

/** How a backend moves a running VM's state. */
export type MigrationStyle = 'stream' | 'pages';

/**
 * What a backend can actually do, found by probing it (running the
 * hypervisor binary, asking its API), never by declaration alone.
 */
export interface ProviderCapabilities {
  /** Backend name and version as probed, e.g. `qemu 10.0.2`. */
  readonly backend: string;
  /** Operations this backend supports; any other is refused with `Unsupported` before it starts. */
  readonly operations: readonly VmOperation[];
  /** Migration styles supported (empty when the backend cannot migrate). */
  readonly migration: readonly MigrationStyle[];
  /** Page size in bytes for the `pages` style. */
  readonly pageSize?: number;
  /** Backend-specific migration capability names the `stream` style accepts (QEMU: `multifd`, `xbzrle`, ...). */
  readonly migrationCapabilities?: readonly string[];
  /** Free-form facts (accelerator, machine types, ...). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A host as a provider reports it: capacity, and what its VMs hold of it. */
export interface ProviderHost extends Host {
  /** Resources reserved by VMs on this host (every VM that exists, running or not). */
  readonly allocated: ResourceVector;
  /** `capacity - allocated`. */
  readonly free: ResourceVector;
}

/** Options every provider operation takes. */
export interface OperationOptions {
  /** Fails the operation with `CORE_TIMEOUT` after this many milliseconds (provider default otherwise). */
  readonly timeoutMs?: number;
  /** Cancels the operation; it then rejects with `CORE_ABORTED`. Aborted before start: nothing happens. */
  readonly signal?: AbortSignal;
  /**
   * Makes a retry safe: a second call with the same key and the same request
   * returns the first call's outcome (joining it if still running) instead
   * of acting twice. The same key with a different request is a `Conflict`.
   */
  readonly idempotencyKey?: string;
}

/** What to create. */
export interface VmCreateRequest {
  /** The VM's identity and reserved resources. */
  readonly spec: VmSpec;
  /** Host to create it on (a host id from {@link VmProvider.listHosts}). */
  readonly hostId: string;
  /** Backend-specific configuration (QEMU: disk, kernel, machine type, ...). Invalid values give `Invalid`. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Create as a migration destination (state `incoming`). */
  readonly incoming?: boolean;
}

/** A VM as the provider reports it. */
export interface VmInfo {
  /** The VM id (from its spec). */
  readonly id: string;
  /** Host it lives on. */
  readonly hostId: string;
  /** Its spec. */
  readonly spec: VmSpec;
  /** Current state. */
  readonly state: VmState;
  /** Sequence number of the last event emitted for this VM (0 before any). */
  readonly eventSeq: number;
}

/** A saved VM state. */
export interface SnapshotInfo {
  /** Snapshot id, unique per VM. */
  readonly id: string;
  /** The VM it belongs to. */
  readonly vmId: string;
  /** Provider clock time of creation, in milliseconds. */
  readonly createdAt: number;
  /** Bytes the snapshot occupies, when known. */
  readonly sizeBytes?: number;
}

/** Tuning for one stream-style migration, in the backend's own vocabulary. */
export interface StreamMigrationOptions extends OperationOptions {
  /** Migration capabilities to switch on or off (QEMU: `multifd`, `xbzrle`, `auto-converge`, `postcopy-ram`). */
  readonly capabilities?: Readonly<Record<string, boolean>>;
  /** Migration parameters (QEMU: `max-bandwidth` in bytes/s, `downtime-limit` in ms, ...). */
  readonly parameters?: Readonly<Record<string, number | string | boolean>>;
  /** How often progress events are emitted, in milliseconds (provider default otherwise). */
  readonly progressIntervalMs?: number;
}

/** How a migration half ended. */
export interface MigrationResult {
  /** Always `completed` (failures reject). */
  readonly status: 'completed';
  /** Bytes this half wrote to (source) or read from (destination) the stream, or pages moved × page size. */
  readonly bytes: number;
  /** Wall time of this half in milliseconds, by the provider's clock. */
  readonly totalTimeMs: number;
  /** The backend's own downtime figure, when it reports one. */
  readonly downtimeMs?: number;
  /** Backend-specific final statistics (QEMU: the last `query-migrate` reply). */
  readonly stats?: Readonly<Record<string, unknown>>;
}

/** Progress of a migration, as carried by `migration` events. */
export interface MigrationProgress {
  /** Backend status word (`setup`, `active`, `device`, `completed`, `failed`, `cancelled`, ...). */
  readonly status: string;
  /** Bytes moved so far. */
  readonly transferredBytes: number;
  /** Bytes still to move (estimate). */
  readonly remainingBytes?: number;
  /** Current dirty rate in bytes per second, when known. */
  readonly dirtyBytesPerSecond?: number;
}

/** Page geometry of a VM's memory for the `pages` style. */
export interface PageGeometry {
  /** Bytes per page. */
  readonly pageSize: number;
  /** Number of pages. */
  readonly pageCount: number;
}

/** One event from a provider. `seq` counts per VM from 1 with no gaps, in the order things happened. */
export type ProviderEvent =
  | {
      readonly type: 'state';
      readonly vmId: string;
      readonly seq: number;
      readonly at: number;
      /** Previous state (`undefined` for a newly created VM). */
      readonly from: VmState | undefined;
      readonly to: VmState;
    }
  | { readonly type: 'deleted'; readonly vmId: string; readonly seq: number; readonly at: number }
  | {
      readonly type: 'migration';
      readonly vmId: string;
      readonly seq: number;
      readonly at: number;
      readonly role: 'source' | 'destination';
      readonly progress: MigrationProgress;
    };

/** Unsubscribes a listener. */
export type Unsubscribe = () => void;

/**
 * The contract between NovaCron and a hypervisor or cloud. Every operation
 * is async and takes {@link OperationOptions} (timeout, cancellation,
 * idempotency key). An operation the backend cannot do (see
 * {@link ProviderCapabilities.operations}) rejects with `Unsupported`
 * before anything happens. Operations on one VM are serialized; an
 * operation invalid in the VM's current state rejects with `Conflict` and
 * changes nothing. Failures use {@link ProviderErrorCode}, plus
 * `CORE_TIMEOUT` and `CORE_ABORTED`.
 *
 * Migration comes in two styles. **stream**: the source half writes an
 * opaque byte stream into a {@link Duplex} and the destination half reads
 * one, and the caller's transport carries the bytes between them (QEMU).
 * **pages**: the caller runs the pre-copy itself: track dirty pages on the
 * source, read them, write them into an `incoming` destination, throttle
 * the dirty rate, then finish the destination (memory provider).
 *
 * Prove an implementation with `@novacron/testkit/compliance/provider`.
 */
export interface VmProvider {
  /** Provider name for logs, e.g. `memory`, `qemu`. */
  readonly name: string;

  /** Probes the backend for what it can do. */
  probe(options?: OperationOptions): Promise<ProviderCapabilities>;
  /** Hosts this provider manages, with capacity and allocation. */
  listHosts(options?: OperationOptions): Promise<ProviderHost[]>;

  /** Defines a VM on a host, reserving its resources (`Quota` when they do not fit). State `stopped` (or `incoming`). */
  createVm(request: VmCreateRequest, options?: OperationOptions): Promise<VmInfo>;
  /** The VM's current info (`NotFound` when absent). */
  getVm(vmId: string, options?: OperationOptions): Promise<VmInfo>;
  /** Every VM, optionally only those on one host. */
  listVms(hostId?: string, options?: OperationOptions): Promise<VmInfo[]>;
  /** `stopped` → `running`. */
  startVm(vmId: string, options?: OperationOptions): Promise<VmInfo>;
  /** `running` → `paused`. */
  pauseVm(vmId: string, options?: OperationOptions): Promise<VmInfo>;
  /** `paused` or `migrated` → `running`. */
  resumeVm(vmId: string, options?: OperationOptions): Promise<VmInfo>;
  /** Any state but `incoming` → `stopped` (an `incoming` VM is deleted instead). */
  stopVm(vmId: string, options?: OperationOptions): Promise<VmInfo>;
  /** Removes the VM in any state, releasing its resources and snapshots. */
  deleteVm(vmId: string, options?: OperationOptions): Promise<void>;

  /** Saves the state of a `running` or `paused` VM; the VM is left in the state it was in. */
  snapshotVm(vmId: string, options?: OperationOptions): Promise<SnapshotInfo>;
  /** Snapshots of a VM, oldest first. */
  listSnapshots(vmId: string, options?: OperationOptions): Promise<SnapshotInfo[]>;
  /** Replaces the VM's state with a snapshot's; the VM ends `paused`. */
  restoreVm(vmId: string, snapshotId: string, options?: OperationOptions): Promise<VmInfo>;

  /**
   * Stream style, source half: writes the VM's state into `stream` until the
   * migration completes, then ends the stream's write side; the VM ends
   * `migrated`. Progress arrives as `migration` events. Abort cancels it and
   * the VM returns to the state it had.
   */
  migrateSend(vmId: string, stream: Duplex, options?: StreamMigrationOptions): Promise<MigrationResult>;
  /** Stream style, destination half: feeds `stream` into an `incoming` VM, which ends `paused`. */
  migrateReceive(vmId: string, stream: Duplex, options?: StreamMigrationOptions): Promise<MigrationResult>;

  /** Pages style: the page geometry of a VM's memory. */
  pageGeometry(vmId: string, options?: OperationOptions): Promise<PageGeometry>;
  /** Pages style: starts dirty tracking; every page counts as dirty for the first {@link collectDirtyPages}. */
  startDirtyTracking(vmId: string, options?: OperationOptions): Promise<void>;
  /** Pages style: page indexes dirtied since the last call (ascending), and clears them. */
  collectDirtyPages(vmId: string, options?: OperationOptions): Promise<Uint32Array>;
  /** Pages style: stops dirty tracking. */
  stopDirtyTracking(vmId: string, options?: OperationOptions): Promise<void>;
  /** Pages style: the contents of `pages`, concatenated in the given order. */
  readPages(vmId: string, pages: Uint32Array, options?: OperationOptions): Promise<Uint8Array>;
  /** Pages style: writes `data` (`pages.length × pageSize` bytes) into an `incoming` VM. */
  writePages(vmId: string, pages: Uint32Array, data: Uint8Array, options?: OperationOptions): Promise<void>;
  /** Pages style: caps how fast the guest may dirty memory (bytes per second); `undefined` lifts the cap. */
  setDirtyRateLimit(vmId: string, bytesPerSecond: number | undefined, options?: OperationOptions): Promise<void>;
  /** Pages style: an `incoming` VM that has received all its pages becomes `paused`. */
  completeIncoming(vmId: string, options?: OperationOptions): Promise<VmInfo>;

  /**
   * Pages style, post-copy (optional; backends that list `migrate-postcopy`):
   * an `incoming` VM that still lacks `missing` pages becomes `paused`, so it
   * can be resumed before its memory has fully arrived. While pages are
   * missing, a guest touch of one is reported through {@link onPageFault}
   * and waits for that page; {@link writePages} then fills missing pages in
   * any state (pages already present are left alone, so a late copy never
   * overwrites what the guest wrote since).
   */
  beginPostCopy?(vmId: string, missing: Uint32Array, options?: OperationOptions): Promise<VmInfo>;
  /** Post-copy: pages the VM still lacks (ascending; empty once post-copy is complete). */
  missingPages?(vmId: string, options?: OperationOptions): Promise<Uint32Array>;
  /** Post-copy: subscribes to guest touches of missing pages (each page reported once). */
  onPageFault?(listener: (vmId: string, page: number) => void): Unsubscribe;

  /** Subscribes to events of every VM; returns the unsubscribe function. */
  onEvent(listener: (event: ProviderEvent) => void): Unsubscribe;
}

/**
 * The `Unsupported` error for `op`: an adapter checks
 * `capabilities.operations.includes(op)` and throws this before touching
 * the backend.
 */
export function unsupportedOperation(provider: string, op: VmOperation | string): NovacronError<ProviderErrorCode> {
  return providerError(ProviderErrorCode.Unsupported, `${provider} does not support ${op}`, { operation: op });
}
