import { NovacronError } from '@novacron/core';
import { PbftErrorCode } from '../errors.js';

/** The consensus protocols the selector chooses between. */
export type ConsensusProtocol = 'raft' | 'pbft';

/** One member of a group as its trust configuration describes it. */
export interface TrustMember {
  /** Node id. */
  readonly id: string;
  /** Who operates it (an organisation, a tenant): members of one operator trust each other. */
  readonly operator: string;
  /** Exposed to the open internet or otherwise not trusted even by its own operator (default false). */
  readonly exposed?: boolean;
}

/** A group's trust configuration. */
export interface TrustConfig {
  /** The members. */
  readonly members: readonly TrustMember[];
  /** Force a protocol whatever the members say (an operator's override). */
  readonly override?: ConsensusProtocol;
}

/** Measured round-trip times between members, in milliseconds. */
export interface LatencyMeasurement {
  /** Median round-trip time. */
  readonly p50Ms: number;
  /** 99th-percentile round-trip time. */
  readonly p99Ms: number;
}

/** Timeouts for a Raft group (in `RaftGroupInit` terms). */
export interface RaftTimings {
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
}

/** Timeouts for a PBFT group (in `PbftGroupInit` terms). */
export interface PbftTimings {
  readonly tickMs: number;
  readonly viewChangeTicks: number;
  readonly statusTicks: number;
}

/** What {@link selectProtocol} decides. */
export interface ProtocolChoice {
  /** The protocol. */
  readonly protocol: ConsensusProtocol;
  /** Why, in a sentence (for logs and status pages). */
  readonly reason: string;
  /** Raft timeouts tuned to the latency. */
  readonly raft: RaftTimings;
  /** PBFT timeouts tuned to the latency. */
  readonly pbft: PbftTimings;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/**
 * Tunes timeouts to measured latency. Raft follows etcd's guidance: a
 * heartbeat about one round trip, an election timeout about ten (here at
 * least ten p99 round trips, so a tail delay does not depose a healthy
 * leader). PBFT's view-change timeout must cover a full three-phase round
 * (pre-prepare, prepare, commit: 1.5 round trips) plus batching and
 * retransmission, so it waits twenty p99 round trips; status messages go
 * every two.
 */
export function tuneTimeouts(latency?: LatencyMeasurement): { raft: RaftTimings; pbft: PbftTimings } {
  const p50 = latency ? Math.max(0.1, latency.p50Ms) : 1;
  const p99 = latency ? Math.max(p50, latency.p99Ms) : 5;
  const tickMs = Math.round(clamp(p50, 10, 500));
  return {
    raft: {
      tickMs,
      heartbeatTicks: Math.max(1, Math.round(p50 / tickMs)),
      electionTicks: Math.max(10, Math.ceil((10 * p99) / tickMs)),
    },
    pbft: {
      tickMs,
      viewChangeTicks: Math.max(20, Math.ceil((20 * p99) / tickMs)),
      statusTicks: Math.max(2, Math.ceil((2 * p99) / tickMs)),
    },
  };
}

/**
 * Chooses Raft or PBFT for a group from its trust configuration — not from
 * link speed (docs/architecture.md: trust chooses between crash- and
 * Byzantine-tolerant consensus in every link mode): Raft when every member
 * has one operator and none is exposed, PBFT otherwise; an override wins.
 * Timeouts come from {@link tuneTimeouts}.
 *
 * @throws `ACP_SELECTOR_INVALID` for an empty or duplicated member list, or
 *   PBFT with fewer than 4 members (it needs 3f + 1 to tolerate f).
 */
export function selectProtocol(trust: TrustConfig, latency?: LatencyMeasurement): ProtocolChoice {
  const ids = trust.members.map((m) => m.id);
  if (ids.length === 0 || new Set(ids).size !== ids.length) {
    throw new NovacronError(PbftErrorCode.SELECTOR_INVALID, 'selector: members must be non-empty and distinct', {
      details: { members: ids },
    });
  }
  const operators = new Set(trust.members.map((m) => m.operator));
  const exposed = trust.members.filter((m) => m.exposed).map((m) => m.id);
  let protocol: ConsensusProtocol;
  let reason: string;
  if (trust.override) {
    protocol = trust.override;
    reason = `operator override: ${protocol}`;
  } else if (operators.size > 1) {
    protocol = 'pbft';
    reason = `${operators.size} operators do not trust each other`;
  } else if (exposed.length > 0) {
    protocol = 'pbft';
    reason = `exposed members (${exposed.join(', ')}) are not trusted`;
  } else {
    protocol = 'raft';
    reason = 'one operator, no exposed member: crash faults only';
  }
  if (protocol === 'pbft' && ids.length < 4) {
    throw new NovacronError(PbftErrorCode.SELECTOR_INVALID, 'selector: PBFT needs at least 4 members', {
      details: { members: ids },
    });
  }
  return { protocol, reason, ...tuneTimeouts(latency) };
}
