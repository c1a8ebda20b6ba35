import { sendTransfer, type TransferResult } from '@novacron/amst';
import {
  type Clock,
  isNovacronError,
  type LinkMode,
  type Logger,
  type StreamTransport,
  type VmProvider,
} from '@novacron/core';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { MigrationControl } from './control-channel.js';
import { type ConvergenceConfig, ConvergenceController } from './convergence.js';
import type { MigrationRates } from './migration-rates.js';
import type { MigrationPhase, MigrationProgress } from './migration-progress.js';
import {
  encodeEnd,
  encodeHeader,
  encodeMissing,
  encodePagesRecord,
  MIGRATION_WIRE_VERSION,
  type StreamHeader,
  type StreamKind,
} from './migration-wire.js';
import { type MigrationCodecSetting, PageBatchEncoder } from './page-batch-codec.js';
import { memoryDigest } from './memory-digest.js';

/** Engine settings (from the `migration` config block). */
export interface MigrationEngineConfig extends ConvergenceConfig {
  /** Pages per PAGES record. */
  readonly batchPages: number;
  /** Pages per post-copy stream (smaller: faults are served sooner). */
  readonly postCopyStreamPages: number;
  /** amst chunk size in bytes (smaller: finer pacing, since the pacer's burst is four chunks). */
  readonly chunkBytes: number;
  /** amst lanes: a fixed count or `adaptive`. */
  readonly lanes: number | 'adaptive';
  /** Literal-page codec. */
  readonly codec: MigrationCodecSetting;
  /** How long a stream whose lanes all died keeps redialling, in ms. */
  readonly resumeWindowMs: number;
  /** Hash the memory on both sides at a pre-copy switchover (costs downtime; for tests and audits). */
  readonly verifyDigest: boolean;
}

/** What the orchestration decides at switchover. */
export interface SwitchoverOutcome {
  /** True: the destination owns the VM now (the source must never resume it). */
  readonly committed: boolean;
  /** When not committed: whether the source still owns the VM (rolled back) and may resume it. Default true. */
  readonly sourceOwns?: boolean;
  /** Wall-clock ms the destination reported it resumed, if it did. */
  readonly resumedAt?: number;
}

/** Options of {@link MigrationSource}. */
export interface MigrationSourceInit {
  readonly id: string;
  readonly vmId: string;
  /** This node's id (destinations send control messages to it). */
  readonly sourceNode: string;
  readonly destinationNode: string;
  /** The destination's migration data address. */
  readonly destinationAddress: string;
  readonly provider: VmProvider;
  /** Provider config the destination creates the VM with (the guest's workload model). */
  readonly vmConfig?: Readonly<Record<string, number>>;
  readonly transport: StreamTransport;
  readonly control: MigrationControl;
  readonly rates: MigrationRates;
  readonly clock: Clock;
  /** Wall clock for downtime across processes (default `Date.now`). */
  readonly wallClock?: () => number;
  readonly mode: LinkMode;
  readonly config: MigrationEngineConfig;
  /**
   * Called with the VM paused and the destination holding it (`final`:
   * complete, `paused`; `postcopy`: paused with pages missing): commits the
   * ownership change. Returns whether the destination owns the VM now.
   * Must not return `committed: false` unless the source still owns it.
   */
  readonly commit: (how: 'precopy' | 'postcopy') => Promise<SwitchoverOutcome>;
  /**
   * Called when the migration fails before a commit: undoes the migration in
   * the control log. Returns whether the source still owns the VM (and may
   * resume it if it paused it).
   */
  readonly abandon: () => Promise<boolean>;
  readonly onProgress?: (p: MigrationProgress) => void;
  readonly logger?: Logger;
}

const STEP_LIMIT = 64;

/**
 * The source half of a pages-style live migration. Pre-copy: dirty
 * tracking on, then rounds — each round reads the pages dirtied since the
 * last, encodes them with hde's page-mode delta against what the
 * destination already holds, and sends them as one amst stream, paced at
 * this migration's pba allocation. After each round the
 * {@link ConvergenceController} decides: go on, throttle the guest
 * (auto-converge), switch over (pause, send the rest, commit ownership), or
 * switch to post-copy (pause, tell the destination which pages it lacks,
 * commit, then push the rest in the background while serving the
 * destination's page faults first). A failure or cancel before the commit
 * abandons the migration in the log and resumes the VM here only if the
 * log still says it is ours; after the commit the source never resumes it.
 */
export class MigrationSource {
  readonly #i: MigrationSourceInit;
  readonly #abort = new AbortController();
  readonly #conv: ConvergenceController;
  readonly #faults = new Set<number>();
  readonly #wall: () => number;
  #encoder: PageBatchEncoder | undefined;
  #resumedAt: number | undefined;
  #p: {
    -readonly [K in keyof MigrationProgress]: MigrationProgress[K];
  };
  readonly #started: number;
  #committed = false;
  #streamRate = 0;
  readonly #codecs: Record<string, number> = {};

  constructor(init: MigrationSourceInit) {
    this.#i = init;
    this.#conv = new ConvergenceController(init.config);
    this.#wall = init.wallClock ?? Date.now;
    this.#started = init.clock.now();
    this.#p = {
      id: init.id,
      vmId: init.vmId,
      source: init.sourceNode,
      destination: init.destinationNode,
      phase: 'planning',
      round: 0,
      rawBytes: 0,
      wireBytes: 0,
      wireSampledMs: 0,
      pagesSent: 0,
      memoryBytes: 0,
      dirtyPages: 0,
      dirtyBytesPerSecond: 0,
      rateBytesPerSecond: 0,
      estimatedDowntimeMs: 0,
      lanes: 0,
      codecs: {},
      elapsedMs: 0,
      steps: [],
    };
  }

  /** The latest progress. */
  get progress(): MigrationProgress {
    return { ...this.#p, elapsedMs: this.#i.clock.now() - this.#started, codecs: { ...this.#codecs } };
  }

  /** Cancels the migration (ignored once ownership has moved). */
  cancel(reason = 'cancelled'): boolean {
    if (this.#committed) return false;
    this.#abort.abort(nodeError(NodeErrorCode.MIGRATION_CANCELLED, reason, { migrationId: this.#i.id }));
    return true;
  }

  /** Runs the migration; resolves with the final progress, rejects with a typed error after rollback. */
  async run(): Promise<MigrationProgress> {
    const i = this.#i;
    const p = i.provider;
    const unsub = i.control.onMessage((_from, m) => {
      if (m.migrationId !== i.id) return;
      if (m.t === 'fault') for (const page of m.pages) this.#faults.add(page);
      else if (m.t === 'resumed') {
        this.#resumedAt = m.at;
        if (m.digest !== undefined) this.#p.destinationDigest = m.digest;
      }
    });
    i.rates.add(i.id);
    let paused = false;
    let tracking = false;
    let pausedAt = 0;
    try {
      const info = await p.getVm(i.vmId);
      if (info.state !== 'running')
        throw nodeError(NodeErrorCode.MIGRATION_CONFLICT, `VM ${i.vmId} is ${info.state}, not running`, {
          reason: 'not-running',
        });
      const geometry = await p.pageGeometry(i.vmId);
      this.#p.memoryBytes = geometry.pageSize * geometry.pageCount;
      await PageBatchEncoder.ready();
      this.#encoder = new PageBatchEncoder({ pageSize: geometry.pageSize, codec: i.config.codec, mode: i.mode });
      const header = (kind: StreamKind, round: number): StreamHeader => ({
        v: MIGRATION_WIRE_VERSION,
        migrationId: i.id,
        vmId: i.vmId,
        kind,
        round,
        source: i.sourceNode,
        spec: info.spec,
        pageSize: geometry.pageSize,
        pageCount: geometry.pageCount,
        ...(i.vmConfig ? { config: i.vmConfig } : {}),
        ...(i.config.verifyDigest && kind === 'final' ? { digest: true } : {}),
      });
      await p.startDirtyTracking(i.vmId);
      tracking = true;
      this.#phase('precopy', `pre-copy to ${i.destinationNode} (${i.destinationAddress})`);
      let dirty = await p.collectDirtyPages(i.vmId);
      let decision: ReturnType<ConvergenceController['decide']>;
      for (;;) {
        this.#check();
        const round = this.#p.round + 1;
        this.#p.dirtyPages = dirty.length;
        const t0 = i.clock.now();
        const sent = await this.#stream(header('precopy', round), dirty);
        const ms = Math.max(1, i.clock.now() - t0);
        this.#p.round = round;
        dirty = await p.collectDirtyPages(i.vmId);
        const rate = (sent.raw / ms) * 1000;
        const dirtyRate = ((dirty.length * geometry.pageSize) / ms) * 1000;
        decision = this.#conv.decide({
          round,
          dirtyBytes: dirty.length * geometry.pageSize,
          transferBytesPerSecond: rate,
          dirtyBytesPerSecond: dirtyRate,
        });
        this.#p.rateBytesPerSecond = rate;
        this.#p.dirtyBytesPerSecond = dirtyRate;
        this.#p.dirtyPages = dirty.length;
        this.#p.estimatedDowntimeMs = Math.min(decision.predictedDowntimeMs, 3_600_000);
        this.#p.etaMs = Math.round(this.#p.estimatedDowntimeMs);
        this.#step(`round ${round}: ${sent.pages} pages in ${Math.round(ms)} ms; ${decision.reason}`);
        if (decision.action === 'throttle') {
          await p.setDirtyRateLimit(i.vmId, decision.throttleBytesPerSecond);
          this.#p.throttleBytesPerSecond = decision.throttleBytesPerSecond;
          continue;
        }
        if (decision.action !== 'continue') break;
      }
      this.#check();
      this.#phase('switchover', `pausing ${i.vmId}`);
      pausedAt = this.#wall();
      await p.pauseVm(i.vmId);
      paused = true;
      const rest = union(dirty, await p.collectDirtyPages(i.vmId));
      await p.stopDirtyTracking(i.vmId);
      tracking = false;
      const postCopy = decision.action === 'postcopy';
      this.#p.mode = postCopy ? 'postcopy' : 'precopy';
      if (postCopy) {
        await this.#stream(header('postcopy-switch', this.#p.round + 1), new Uint32Array(0), rest);
        this.#step(`post-copy switch: ${rest.length} pages left at the source`);
      } else {
        if (i.config.verifyDigest) this.#p.sourceDigest = await memoryDigest(p, i.vmId, geometry.pageCount);
        await this.#stream(header('final', this.#p.round + 1), rest);
        this.#step(`final round: ${rest.length} pages`);
      }
      this.#check();
      this.#phase('committing', 'committing the ownership change');
      // From here a cancel cannot take effect: the commit may already be in the log.
      this.#committed = true;
      const outcome = await i.commit(postCopy ? 'postcopy' : 'precopy');
      if (!outcome.committed) {
        if (outcome.sourceOwns === false) {
          // Someone else moved the VM meanwhile (failover): it is neither ours nor the destination's.
          throw nodeError(NodeErrorCode.MIGRATION_FAILED, 'the VM was moved elsewhere during the switchover', {
            migrationId: i.id,
          });
        }
        this.#committed = false;
        throw nodeError(NodeErrorCode.MIGRATION_FAILED, 'the ownership change did not commit', {
          migrationId: i.id,
        });
      }
      if (outcome.resumedAt !== undefined) this.#resumedAt ??= outcome.resumedAt;
      this.#step('ownership moved');
      if (postCopy) await this.#postCopy(header, rest);
      await this.#awaitResumed();
      this.#p.downtimeMs = Math.max(0, (this.#resumedAt ?? this.#wall()) - pausedAt);
      this.#p.totalMs = i.clock.now() - this.#started;
      this.#phase('completed', `completed in ${Math.round(this.#p.totalMs)} ms, downtime ${this.#p.downtimeMs} ms`);
      return this.progress;
    } catch (err) {
      if (this.#committed) {
        // Ownership moved (or may have): never resume here. Post-copy failed mid-way.
        this.#fail('failed', err);
        throw err;
      }
      if (tracking) await p.stopDirtyTracking(i.vmId).catch(() => undefined);
      await p.setDirtyRateLimit(i.vmId, undefined).catch(() => undefined);
      const ours = await i.abandon().catch(() => false);
      if (paused && ours) await p.resumeVm(i.vmId).catch(() => undefined);
      const cancelled = isNovacronError(err, NodeErrorCode.MIGRATION_CANCELLED) || this.#abort.signal.aborted;
      this.#fail(cancelled ? 'cancelled' : 'rolled-back', err);
      if (cancelled)
        throw nodeError(NodeErrorCode.MIGRATION_CANCELLED, 'migration cancelled; the VM runs at the source', {
          migrationId: i.id,
        });
      if (isNovacronError(err, NodeErrorCode.MIGRATION_FAILED)) throw err;
      throw nodeError(
        NodeErrorCode.MIGRATION_FAILED,
        `migration failed and was rolled back: ${(err as Error).message}`,
        { migrationId: i.id, cause: isNovacronError(err) ? err.code : undefined },
        err,
      );
    } finally {
      unsub();
      i.rates.remove(i.id);
      if (this.#committed) await p.setDirtyRateLimit(i.vmId, undefined).catch(() => undefined);
    }
  }

  async #postCopy(header: (kind: StreamKind, round: number) => StreamHeader, missing: Uint32Array): Promise<void> {
    this.#phase('postcopy', `pushing ${missing.length} pages, faults first`);
    const left = new Set(missing);
    this.#p.postCopyRemaining = left.size;
    this.#p.faults = 0;
    let n = 0;
    while (left.size > 0) {
      const batch: number[] = [];
      for (const f of this.#faults) {
        this.#faults.delete(f);
        if (left.delete(f)) {
          batch.push(f);
          this.#p.faults++;
        }
        if (batch.length >= this.#i.config.postCopyStreamPages) break;
      }
      for (const page of left) {
        if (batch.length >= this.#i.config.postCopyStreamPages) break;
        batch.push(page);
        left.delete(page);
      }
      batch.sort((a, b) => a - b);
      await this.#stream(header('postcopy', ++n), Uint32Array.from(batch));
      this.#p.postCopyRemaining = left.size;
      this.#emit();
    }
    this.#step(`post-copy complete after ${n} streams, ${this.#p.faults} faults served first`);
  }

  /** Sends one stream; returns raw bytes and pages. */
  async #stream(h: StreamHeader, pages: Uint32Array, missing?: Uint32Array): Promise<{ raw: number; pages: number }> {
    const i = this.#i;
    const enc = this.#encoder!;
    const batchPages = i.config.batchPages;
    let raw = 0;
    const self = this;
    async function* records(): AsyncGenerator<Uint8Array> {
      yield encodeHeader(h);
      if (missing)
        for (let at = 0; at < missing.length; at += 1 << 20) yield encodeMissing(missing.subarray(at, at + (1 << 20)));
      for (let at = 0; at < pages.length; at += batchPages) {
        const batch = pages.subarray(at, at + batchPages);
        const data = await i.provider.readPages(i.vmId, batch);
        // Post-copy streams go without delta: the destination may have changed pages it already had.
        const e = enc.encode(batch, data, h.kind === 'postcopy');
        raw += e.rawBytes;
        self.#p.rawBytes += e.rawBytes;
        self.#p.pagesSent += batch.length;
        self.#codecs[e.codec] = (self.#codecs[e.codec] ?? 0) + 1;
        yield encodePagesRecord(e.record);
      }
      yield encodeEnd({ pages: pages.length, rawBytes: raw });
    }
    let result: TransferResult;
    const wireBefore = this.#p.wireBytes;
    try {
      result = await sendTransfer({
        transport: i.transport,
        address: i.destinationAddress,
        source: records(),
        clock: i.clock,
        mode: i.mode,
        lanes: i.config.lanes,
        chunkSize: i.config.chunkBytes,
        rate: () => i.rates.rate(i.id),
        signal: this.#abort.signal,
        resumeWindowMs: i.config.resumeWindowMs,
        onProgress: (tp) => {
          this.#p.wireBytes = wireBefore + tp.bytesSent;
          this.#p.wireSampledMs = i.clock.now() - this.#started;
          this.#p.lanes = Math.max(this.#p.lanes, tp.lanes);
          this.#streamRate = tp.goodputBps / 8;
          if (this.#streamRate > 0) this.#p.rateBytesPerSecond = this.#streamRate;
          const allocated = i.rates.rate(i.id);
          if (allocated !== undefined) this.#p.allocatedBytesPerSecond = allocated;
          this.#emit();
        },
        ...(i.logger ? { logger: i.logger } : {}),
      });
    } catch (err) {
      if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
      throw err;
    }
    this.#p.wireBytes = wireBefore + result.wireBytes;
    this.#p.wireSampledMs = i.clock.now() - this.#started;
    this.#p.lanes = Math.max(this.#p.lanes, result.maxLanes);
    const alloc = i.rates.rate(i.id);
    if (alloc !== undefined) this.#p.allocatedBytesPerSecond = alloc;
    this.#emit();
    return { raw, pages: pages.length };
  }

  async #awaitResumed(): Promise<void> {
    // The destination reports when it resumed; wait briefly for it (the message may be lost).
    const deadline = this.#i.clock.now() + 2_000;
    while (this.#resumedAt === undefined && this.#i.clock.now() < deadline)
      await new Promise<void>((r) => this.#i.clock.setTimeout(r, 10));
  }

  #check(): void {
    if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
  }

  #phase(phase: MigrationPhase, step: string): void {
    this.#p.phase = phase;
    this.#step(step);
  }

  #step(step: string): void {
    this.#p.steps = [...this.#p.steps, { at: this.#wall(), step }].slice(-STEP_LIMIT);
    this.#i.logger?.info('migration step', { migration: this.#i.id, vm: this.#i.vmId, step });
    this.#emit();
  }

  #fail(phase: MigrationPhase, err: unknown): void {
    this.#p.phase = phase;
    this.#p.error = {
      code: isNovacronError(err) ? err.code : NodeErrorCode.INTERNAL,
      message: err instanceof Error ? err.message : String(err),
    };
    this.#step(`${phase}: ${this.#p.error.message}`);
  }

  #emit(): void {
    this.#i.onProgress?.(this.progress);
  }
}

function union(a: Uint32Array, b: Uint32Array): Uint32Array {
  const s = new Set(a);
  for (const x of b) s.add(x);
  return Uint32Array.from([...s].sort((x, y) => x - y));
}
