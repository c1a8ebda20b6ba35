import { type Clock, CoreErrorCode, type Rng, assertInteger, assertNumber, invalidArgument } from '@novacron/core';
import type { SimNode, SimWorld } from '../sim/world.js';
import { type TornWrite, fsError } from './fs-model.js';
import { type FileOperation, MemoryFileIO, type MemoryFileIOOptions } from './memory-file-io.js';

export type { TornWrite } from './fs-model.js';

/** How long simulated disk calls take, in virtual milliseconds (all default 0). */
export interface DiskLatency {
  /** `write` and `truncate`. */
  readonly writeMs?: number;
  /** `sync`, `datasync` and `syncDir`: usually the slow part of a real disk. */
  readonly syncMs?: number;
  /** `read` and `readFile`. */
  readonly readMs?: number;
}

/** Options for {@link CrashConsistentFileIO}. */
export interface CrashConsistentFileIOOptions extends MemoryFileIOOptions {
  /** The clock latency is spent on; required when any latency is non-zero. */
  readonly clock?: Clock;
  /** Slow-disk model; without it every call resolves without touching the clock. */
  readonly latency?: DiskLatency;
  /** How many recent calls {@link CrashConsistentFileIO.operations} keeps (default 10 000). */
  readonly maxOperations?: number;
}

/** Options for {@link CrashConsistentFileIO.crash}. */
export interface CrashOptions {
  /**
   * Tear the last unsynced write of each surviving file: a prefix of its
   * bytes, of a length drawn uniformly from `[0, length]` by the injected
   * `Rng`, lands over the durable contents. Default false: unsynced writes
   * are lost whole.
   */
  readonly tear?: boolean;
}

/** What a {@link CrashConsistentFileIO.crash} did. */
export interface CrashReport {
  /** Writes cut short by tearing, in path order (empty without `tear`). */
  readonly torn: readonly TornWrite[];
  /** How many calls were recorded since the previous crash (or since creation). */
  readonly operationsSinceLastCrash: number;
}

/** Options for {@link CrashConsistentFileIO.forNode}. */
export interface NodeFileIOOptions extends CrashConsistentFileIOOptions, CrashOptions {}

const DEFAULT_MAX_OPERATIONS = 10_000;

/**
 * A {@link MemoryFileIO} that can crash: the crash-consistency layer real
 * file stores (logs, snapshots) are tested against. A plain `kill -9`
 * keeps the kernel's page cache and proves nothing; this layer drops
 * exactly what the store never made durable, so a store that forgets an
 * fsync fails its tests.
 *
 * The durability model (what {@link crash} keeps):
 *
 * - **File data.** `sync()` / `datasync()` on a handle make that file's
 *   current bytes and size durable (`sync` also its mode; `chmod` alone is
 *   not durable). Writes and truncates after the last sync are lost.
 *   Closing a handle makes nothing durable.
 * - **Names.** Creating, renaming and removing a name changes the
 *   directory, which is durable only after `syncDir` on that directory.
 *   A file created and fsynced in a directory that was never synced
 *   vanishes in a crash (ext4 without a directory fsync can do this); a
 *   rename not covered by `syncDir` on the destination directory reverts
 *   to the old name (the old contents reappear under the target name); a
 *   remove not covered comes back. Directories are synced independently,
 *   so a cross-directory rename covered in only one of them can leave the
 *   file under both names (as hard links) or under neither.
 * - **Directories** made by `mkdir` follow the same rule: each new level
 *   is durable once its parent is synced. `syncAll()` sets up a durable
 *   starting state in one call.
 * - **Tearing** (`crash({ tear: true })`): see {@link CrashOptions.tear}.
 *   A torn write past the durable end zero-fills the gap, as a real disk
 *   whose size update landed before the data can.
 * - **Handles** opened before a crash are stale: every call but `close`
 *   fails with `CORE_FILE_IO` (`details.errno` `ESTALE`). A call waiting
 *   out latency when the crash comes fails the same way instead of
 *   applying to the new tree.
 *
 * Every call is recorded in {@link operations}, so a test can assert the
 * exact sequence a store issued (for example, that a `datasync` follows
 * each append before it is acknowledged).
 */
export class CrashConsistentFileIO extends MemoryFileIO {
  readonly #rng: Rng;
  readonly #clock: Clock | undefined;
  readonly #latency: Required<DiskLatency>;
  readonly #maxOperations: number;
  #operations: FileOperation[] = [];
  #sinceCrash = 0;
  #crashes = 0;

  /**
   * @param rng - Source of tear lengths; pass a labelled fork (`node.rng.fork('disk')`) so runs replay.
   * @param options - Latency (with the clock it is spent on), size limits, operation-log length.
   */
  constructor(rng: Rng, options: CrashConsistentFileIOOptions = {}) {
    super(options);
    if (typeof rng?.int !== 'function') throw invalidArgument('rng', 'an Rng', rng);
    const latency = {
      writeMs: options.latency?.writeMs ?? 0,
      syncMs: options.latency?.syncMs ?? 0,
      readMs: options.latency?.readMs ?? 0,
    };
    for (const [key, value] of Object.entries(latency)) assertNumber(`options.latency.${key}`, value, { min: 0 });
    if (!options.clock && (latency.writeMs > 0 || latency.syncMs > 0 || latency.readMs > 0)) {
      throw invalidArgument('options.clock', 'a Clock when latency is non-zero', options.clock);
    }
    const maxOperations = options.maxOperations ?? DEFAULT_MAX_OPERATIONS;
    assertInteger('options.maxOperations', maxOperations, { min: 0 });
    this.#rng = rng;
    this.#clock = options.clock;
    this.#latency = latency;
    this.#maxOperations = maxOperations;
  }

  /**
   * A crash-consistent file system for a simulated node: tears draw from
   * `node.rng.fork('disk')`, latency is spent on the node's clock, and the
   * file system crashes (with `options.tear`) whenever the world crashes
   * the node. Because a crash cancels the node's timers, a call that was
   * waiting out latency never completes: the process that issued it is
   * gone.
   */
  static forNode(node: SimNode, options: NodeFileIOOptions = {}): CrashConsistentFileIO {
    const io = new CrashConsistentFileIO(node.rng.fork('disk'), { clock: node.clock, ...options });
    io.attachToWorld(node.world, node.id, options.tear === undefined ? {} : { tear: options.tear });
    return io;
  }

  /**
   * Crashes this file system whenever `world` crashes node `nodeId`
   * (through `world.onCrash`), recording a `disk-crash` trace event.
   * Returns `this` for chaining.
   */
  attachToWorld(world: SimWorld, nodeId: string, options: CrashOptions = {}): this {
    world.node(nodeId); // throws for an unknown node before any hook is registered
    world.onCrash((node) => {
      if (node.id !== nodeId) return;
      const report = this.crash(options);
      world.trace.record(world.now(), 'disk-crash', {
        node: nodeId,
        torn: report.torn.length,
        ops: report.operationsSinceLastCrash,
      });
    });
    return this;
  }

  /**
   * Simulates power loss: the visible tree reverts to the durable one (see
   * the class comment), optionally tearing the last unsynced write of each
   * file, and every open handle becomes stale. The file system stays
   * usable, as the disk of a restarted machine.
   */
  crash(options: CrashOptions = {}): CrashReport {
    const torn = this.model.revert(options.tear ? this.#rng : undefined);
    const report: CrashReport = { torn, operationsSinceLastCrash: this.#sinceCrash };
    this.#sinceCrash = 0;
    this.#crashes++;
    return report;
  }

  /** How many times {@link crash} ran. */
  get crashes(): number {
    return this.#crashes;
  }

  /** The most recent calls (up to `maxOperations`), oldest first, including calls that failed. */
  get operations(): readonly FileOperation[] {
    if (this.#operations.length > this.#maxOperations) {
      this.#operations = this.#operations.slice(this.#operations.length - this.#maxOperations);
    }
    return this.#operations.slice();
  }

  /** Forgets the recorded calls (e.g. after a test's setup phase). */
  clearOperations(): void {
    this.#operations = [];
  }

  protected override async perform<T>(operation: FileOperation, action: () => T): Promise<T> {
    this.#record(operation);
    const ms = this.#latencyOf(operation);
    if (ms > 0 && this.#clock) {
      const generation = this.model.generation;
      await this.#clock.sleep(ms);
      // The call belonged to the machine that crashed meanwhile; it must not touch the new tree.
      if (generation !== this.model.generation) {
        throw fsError(CoreErrorCode.FILE_IO, operation.op, operation.path, 'ESTALE', 'interrupted by a crash');
      }
    }
    return action();
  }

  #record(operation: FileOperation): void {
    this.#sinceCrash++;
    if (this.#maxOperations === 0) return;
    this.#operations.push(operation);
    // Trim in batches so a long simulation neither grows without bound nor pays O(n) per call.
    if (this.#operations.length >= 2 * this.#maxOperations) {
      this.#operations = this.#operations.slice(this.#operations.length - this.#maxOperations);
    }
  }

  #latencyOf(operation: FileOperation): number {
    switch (operation.op) {
      case 'write':
      case 'truncate':
        return this.#latency.writeMs;
      case 'sync':
      case 'datasync':
      case 'syncDir':
        return this.#latency.syncMs;
      case 'read':
      case 'readFile':
        return this.#latency.readMs;
      default:
        return 0;
    }
  }
}
