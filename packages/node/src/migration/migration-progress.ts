/** Where a migration is. */
export type MigrationPhase =
  | 'planning'
  | 'precopy'
  | 'switchover'
  | 'committing'
  | 'postcopy'
  | 'completed'
  | 'rolled-back'
  | 'cancelled'
  | 'failed';

/** A migration's progress, as events, the API and the CLI show it. */
export interface MigrationProgress {
  readonly id: string;
  readonly vmId: string;
  readonly source: string;
  readonly destination: string;
  readonly phase: MigrationPhase;
  /** Pre-copy rounds done. */
  readonly round: number;
  /** Page bytes sent (raw, before hde). */
  readonly rawBytes: number;
  /** Bytes amst put on the wire (encoded, with headers and resends). */
  readonly wireBytes: number;
  /** Elapsed ms at which `wireBytes` was last measured (rates from two snapshots divide by this). */
  readonly wireSampledMs: number;
  /** Pages sent (a page sent in two rounds counts twice). */
  readonly pagesSent: number;
  /** Bytes of the VM's memory. */
  readonly memoryBytes: number;
  /** Pages dirty now (what the next round sends). */
  readonly dirtyPages: number;
  /** Guest dirty rate over the last round, bytes per second. */
  readonly dirtyBytesPerSecond: number;
  /** Raw bytes per second of the last round (or of the current stream while it runs). */
  readonly rateBytesPerSecond: number;
  /** pba's allocation for this migration, bytes per second (absent when unpaced). */
  readonly allocatedBytesPerSecond?: number;
  /** Downtime a switchover now would cost, in ms. */
  readonly estimatedDowntimeMs: number;
  /** Estimated time to switchover, in ms. */
  readonly etaMs?: number;
  /** Dirty-rate cap in force (auto-converge), bytes per second. */
  readonly throttleBytesPerSecond?: number;
  /** Most amst lanes a stream used. */
  readonly lanes: number;
  /** hde codec → pages batches encoded with it. */
  readonly codecs: Readonly<Record<string, number>>;
  /** Pages still at the source after a post-copy switch. */
  readonly postCopyRemaining?: number;
  /** Post-copy page faults served. */
  readonly faults?: number;
  /** Milliseconds since the migration started. */
  readonly elapsedMs: number;
  /** Measured pause (source paused → destination running), once known. */
  readonly downtimeMs?: number;
  /** Time from start to completion, once done. */
  readonly totalMs?: number;
  /** How the switchover went: `precopy` or `postcopy`. */
  readonly mode?: 'precopy' | 'postcopy';
  /** Digest (strong hash) of the source memory at switchover (pre-copy only). */
  readonly sourceDigest?: string;
  /** Digest of the destination memory when it arrived complete (pre-copy, `verifyDigest` on). */
  readonly destinationDigest?: string;
  /** Why it failed or was rolled back. */
  readonly error?: { readonly code: string; readonly message: string };
  /** The log of steps, oldest first (at most 64). */
  readonly steps: readonly { readonly at: number; readonly step: string }[];
}
