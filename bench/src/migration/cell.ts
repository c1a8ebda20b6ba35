/** One measured cell of the migration benchmark. */
export interface CellResult {
  readonly path: string;
  readonly dirtyMiBps: number;
  /** `novacron` or a QEMU setting name. */
  readonly way: string;
  readonly status: 'ok' | 'dnf' | 'failed';
  /** From the start command to the destination running (ms). */
  readonly totalTimeMs?: number;
  /** Longest gap between guest heartbeats across both consoles (ms). */
  readonly downtimeMs?: number;
  /** QEMU's own downtime figure (ms). */
  readonly qemuDowntimeMs?: number;
  /** Bytes on the wire: the emulator's forwarded bytes on WAN paths; QEMU's or amst's count on loopback. */
  readonly wireBytes?: number;
  /** Where `wireBytes` comes from. */
  readonly wireSource?: string;
  /** Bytes QEMU wrote into its migration channel(s). */
  readonly streamBytes?: number;
  /** Heartbeats lost (guest work lost): must be 0. */
  readonly lostBeats?: number;
  readonly detail?: Readonly<Record<string, unknown>>;
  readonly error?: string;
}
