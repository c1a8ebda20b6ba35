import type { LinkMode } from '@novacron/core';

/** Tunables whose defaults depend on the preset. */
export interface PresetDefaults {
  /** Raft tick in ms: election timeouts scale with it, so slow links get a slower tick. */
  readonly raftTickMs: number;
  /** Silence after which a member is declared down and its VMs re-placed. */
  readonly failoverAfterMs: number;
  /** RTT probe interval per peer. */
  readonly probeIntervalMs: number;
}

/**
 * The three presets. A datacenter fails over fast because RTTs are tiny and
 * a missed probe means something; over the internet a lost packet or a
 * 300 ms RTT is normal, so timeouts grow to avoid false failovers. Without a
 * preset the hybrid values apply (and the detector starts in `hybrid`).
 */
export const PRESETS: Readonly<Record<LinkMode, PresetDefaults>> = Object.freeze({
  datacenter: { raftTickMs: 50, failoverAfterMs: 2_000, probeIntervalMs: 500 },
  hybrid: { raftTickMs: 100, failoverAfterMs: 5_000, probeIntervalMs: 1_000 },
  internet: { raftTickMs: 200, failoverAfterMs: 15_000, probeIntervalMs: 2_000 },
});
