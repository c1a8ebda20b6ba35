import type {
  Clock,
  ConsensusGroup,
  DurableLog,
  Logger,
  PeerNetwork,
  ReplicatedStateMachine,
  Rng,
} from '@novacron/core';
import { FileSnapshotStore, RaftGroup } from '@novacron/acp';
import { nodeFileIO } from '@novacron/core';
import { NodeErrorCode, nodeError } from './errors.js';

/** What a {@link ConsensusFactory} gets to build one group. */
export interface ConsensusGroupSpec {
  /** Group name (`control` for the control log). */
  readonly name: string;
  /** Trust setting from `cluster.groups.<name>.trust`. */
  readonly trust: 'trusted' | 'untrusted';
  readonly id: string;
  readonly voters: readonly string[];
  readonly network: PeerNetwork;
  readonly log: DurableLog;
  /** Directory for the group's other files (snapshots). */
  readonly dir: string;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly stateMachine: ReplicatedStateMachine;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEvery: number;
  readonly logger?: Logger;
}

/**
 * Builds the consensus group for a trust setting. The default builds acp's
 * Raft for trusted groups; untrusted groups need a Byzantine-tolerant
 * implementation (acp's PBFT, #7) passed as `createNode(..., { consensus })`.
 */
export type ConsensusFactory = (spec: ConsensusGroupSpec) => ConsensusGroup;

/** Raft for trusted groups; a typed error for untrusted ones (no PBFT in this release). */
export const defaultConsensusFactory: ConsensusFactory = (spec) => {
  if (spec.trust === 'untrusted')
    throw nodeError(
      NodeErrorCode.COMPONENT_START_FAILED,
      `group ${spec.name} is untrusted and needs a Byzantine-tolerant protocol; pass one as createNode(..., { consensus })`,
      { component: 'control-log', group: spec.name, trust: spec.trust },
    );
  return new RaftGroup({
    id: spec.id,
    voters: spec.voters,
    network: spec.network,
    log: spec.log,
    clock: spec.clock,
    rng: spec.rng,
    stateMachine: spec.stateMachine,
    tickMs: spec.tickMs,
    electionTicks: spec.electionTicks,
    heartbeatTicks: spec.heartbeatTicks,
    snapshotEvery: spec.snapshotEvery,
    snapshots: new FileSnapshotStore({ io: nodeFileIO(), path: `${spec.dir}/snapshot` }),
    proposeTimeoutMs: 5_000,
    ...(spec.logger ? { logger: spec.logger } : {}),
  });
};
