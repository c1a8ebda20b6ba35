import { NovacronError } from '@novacron/core';
import { GossipErrorCode as AcpErrorCode } from '../errors.js';

/**
 * Tuning of a gossip member. Field names and defaults follow HashiCorp
 * memberlist (`DefaultLANConfig`, `DefaultWANConfig`) so operators can carry
 * their intuition over; the internet profile is NovaCron's own.
 */
export interface GossipConfig {
  /** Time between failure-detection probes, ms (memberlist `ProbeInterval`). Scaled by the local health multiplier. */
  readonly probeIntervalMs: number;
  /** How long a direct ping may go unanswered before indirect probes start, ms (`ProbeTimeout`). Scaled by the local health multiplier. */
  readonly probeTimeoutMs: number;
  /** Members asked to probe a target indirectly after a failed direct ping (`IndirectChecks`). */
  readonly indirectChecks: number;
  /** Suspicion timeout multiplier: the shortest suspicion lasts `mult * max(1, log10(n)) * probeInterval` (`SuspicionMult`). */
  readonly suspicionMult: number;
  /** Lifeguard: an unconfirmed suspicion lasts this many times the shortest one (`SuspicionMaxTimeoutMult`). */
  readonly suspicionMaxTimeoutMult: number;
  /** Each broadcast is retransmitted `retransmitMult * ceil(log10(n + 1))` times (`RetransmitMult`). */
  readonly retransmitMult: number;
  /** Time between gossip rounds, ms (`GossipInterval`). */
  readonly gossipIntervalMs: number;
  /** Members a gossip round sends to (`GossipNodes`, the fanout). */
  readonly gossipNodes: number;
  /** Dead members still receive gossip (so they learn they were declared dead) for this long, ms; then they are forgotten (`GossipToTheDeadTime`). */
  readonly gossipToTheDeadMs: number;
  /** Time between push-pull (full state) exchanges with one random member, ms; 0 disables (`PushPullInterval`). Scaled up past 32 members. */
  readonly pushPullIntervalMs: number;
  /** Lifeguard's local health multiplier tops out at this (`AwarenessMaxMultiplier`). */
  readonly awarenessMaxMultiplier: number;
  /**
   * Lifeguard extensions: local health multiplier, nacks, dynamic suspicion
   * timeouts with confirmations, and the buddy system. Off gives classic
   * SWIM with suspicion (fixed suspicion timeout).
   */
  readonly lifeguard: boolean;
  /** Largest datagram this member builds, bytes (memberlist `UDPBufferSize`); capped by the network's `maxMessageSize`. */
  readonly packetBytes: number;
  /** User events remembered for deduplication, by Lamport time (Serf `EventBuffer`). */
  readonly eventBufferSize: number;
  /** Most members held; alive messages about further members are dropped (a bound against hostile floods). */
  readonly maxMembers: number;
  /** Time between join attempts to the seeds until one answers, ms. */
  readonly joinRetryMs: number;
  /** How long a graceful leave waits for its announcement to go out, ms. */
  readonly leaveTimeoutMs: number;
}

/** memberlist `DefaultLANConfig`: 1 s probes, 500 ms timeout, 3 indirect checks, suspicion x4. */
export const LAN_PROFILE: GossipConfig = Object.freeze({
  probeIntervalMs: 1_000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  awarenessMaxMultiplier: 8,
  lifeguard: true,
  packetBytes: 1_400,
  eventBufferSize: 512,
  maxMembers: 65_536,
  joinRetryMs: 1_000,
  leaveTimeoutMs: 5_000,
});

/** memberlist `DefaultWANConfig`: 5 s probes, 3 s timeout, suspicion x6, fanout 4 every 500 ms. */
export const WAN_PROFILE: GossipConfig = Object.freeze({
  ...LAN_PROFILE,
  probeIntervalMs: 5_000,
  probeTimeoutMs: 3_000,
  suspicionMult: 6,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  joinRetryMs: 5_000,
  leaveTimeoutMs: 15_000,
});

/** The seed design's internet profile: fanout 3 every 5 s, with WAN failure detection. */
export const INTERNET_PROFILE: GossipConfig = Object.freeze({
  ...WAN_PROFILE,
  gossipIntervalMs: 5_000,
  gossipNodes: 3,
  gossipToTheDeadMs: 120_000,
  pushPullIntervalMs: 60_000,
});

/** Named profiles accepted by {@link resolveGossipConfig}. */
export const GOSSIP_PROFILES = Object.freeze({ lan: LAN_PROFILE, wan: WAN_PROFILE, internet: INTERNET_PROFILE });

/** Name of a built-in profile. */
export type GossipProfileName = keyof typeof GOSSIP_PROFILES;

type Bounds = readonly [min: number, max: number];
const DAY = 86_400_000;
const INTEGER_FIELDS: Readonly<Record<Exclude<keyof GossipConfig, 'lifeguard'>, Bounds>> = {
  probeIntervalMs: [1, DAY],
  probeTimeoutMs: [1, DAY],
  indirectChecks: [0, 64],
  suspicionMult: [1, 1_000],
  suspicionMaxTimeoutMult: [1, 1_000],
  retransmitMult: [1, 1_000],
  gossipIntervalMs: [1, DAY],
  gossipNodes: [1, 1_024],
  gossipToTheDeadMs: [0, 30 * DAY],
  pushPullIntervalMs: [0, 30 * DAY],
  awarenessMaxMultiplier: [1, 1_000],
  packetBytes: [512, 16 * 1024 * 1024],
  eventBufferSize: [1, 1_000_000],
  maxMembers: [2, 10_000_000],
  joinRetryMs: [1, DAY],
  leaveTimeoutMs: [0, DAY],
};

function invalid(field: string, expected: string, value: unknown): NovacronError {
  return new NovacronError(AcpErrorCode.GOSSIP_CONFIG_INVALID, `gossip config: ${field} must be ${expected}`, {
    details: { field, expected, received: typeof value === 'number' ? value : typeof value },
  });
}

/**
 * A complete configuration: `profile` (default `lan`) overridden by
 * `overrides`, every field checked.
 *
 * @throws `ACP_GOSSIP_CONFIG_INVALID` naming the first bad field (unknown
 *   profile, unknown field, out-of-range number, timeout not below the
 *   interval).
 */
export function resolveGossipConfig(
  overrides: Partial<GossipConfig> = {},
  profile: GossipProfileName = 'lan',
): GossipConfig {
  const base = (GOSSIP_PROFILES as Record<string, GossipConfig | undefined>)[profile];
  if (base === undefined || !Object.hasOwn(GOSSIP_PROFILES, profile)) {
    throw invalid('profile', `one of ${Object.keys(GOSSIP_PROFILES).join(', ')}`, profile);
  }
  if (typeof overrides !== 'object' || overrides === null) throw invalid('overrides', 'an object', overrides);
  for (const key of Object.keys(overrides)) {
    if (!Object.hasOwn(base, key)) throw invalid(key, 'a known field', key);
  }
  const merged = { ...base, ...overrides } as GossipConfig;
  for (const [field, [min, max]] of Object.entries(INTEGER_FIELDS)) {
    const v = (merged as unknown as Record<string, unknown>)[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw invalid(field, `an integer in [${min}, ${max}]`, v);
    }
  }
  if (typeof merged.lifeguard !== 'boolean') throw invalid('lifeguard', 'a boolean', merged.lifeguard);
  if (merged.probeTimeoutMs >= merged.probeIntervalMs) {
    throw invalid('probeTimeoutMs', `below probeIntervalMs (${merged.probeIntervalMs})`, merged.probeTimeoutMs);
  }
  return Object.freeze(merged);
}
