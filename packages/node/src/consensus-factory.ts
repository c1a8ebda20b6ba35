import type {
  Clock,
  ConsensusGroup,
  DurableLog,
  Logger,
  NodeIdentity,
  PeerNetwork,
  ReplicatedStateMachine,
  Rng,
} from '@novacron/core';
import { FileSnapshotStore, PbftGroup, type PbftReplicaInfo, RaftGroup } from '@novacron/acp';
import { nodeFileIO } from '@novacron/core';
import { NodeErrorCode, nodeError } from './errors.js';

/** What a {@link ConsensusFactory} gets to build one group. */
export interface ConsensusGroupSpec {
  /** Group name (`control` for the control log). */
  readonly name: string;
  /** Trust setting from `cluster.groups.<name>.trust`. */
  readonly trust: 'trusted' | 'untrusted';
  readonly id: string;
  /** This node's identity (PBFT signs and authenticates with it). */
  readonly identity?: NodeIdentity;
  readonly voters: readonly string[];
  /** Untrusted groups: every replica's id and pinned Ed25519 public key (`cluster.groups.<name>.replicas`). */
  readonly replicas?: readonly PbftReplicaInfo[];
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
 * Builds the consensus group for a trust setting (`cluster.groups.<name>.trust`).
 * {@link defaultConsensusFactory} gives Raft to trusted groups and PBFT to
 * untrusted ones; pass your own as `createNode(..., { consensus })`.
 */
export type ConsensusFactory = (spec: ConsensusGroupSpec) => ConsensusGroup;

/**
 * acp's Raft among trusted members (crash faults); acp's PBFT among
 * untrusted ones (up to f Byzantine replicas of 3f + 1, every message
 * authenticated under the replicas' pinned Ed25519 keys). Both run over the
 * node's peer network. An untrusted group without pinned keys, with fewer
 * than four replicas, or without this node among them is
 * `NODE_TRUST_CONFIG_INVALID`.
 */
export const defaultConsensusFactory: ConsensusFactory = (spec) => {
  if (spec.trust === 'untrusted') {
    const bad = (why: string) =>
      nodeError(NodeErrorCode.TRUST_CONFIG_INVALID, `group ${spec.name} is untrusted: ${why}`, {
        group: spec.name,
        trust: spec.trust,
      });
    if (!spec.identity) throw bad("PBFT needs this node's identity");
    if (!spec.replicas || spec.replicas.length < 4)
      throw bad(`PBFT needs cluster.groups.${spec.name}.replicas: at least 4 node ids with their public keys`);
    if (!spec.replicas.some((r) => r.id === spec.id))
      throw bad(`this node (${spec.id}) is not among cluster.groups.${spec.name}.replicas`);
    return new PbftGroup({
      identity: spec.identity,
      replicas: spec.replicas,
      network: spec.network,
      log: spec.log,
      clock: spec.clock,
      stateMachine: spec.stateMachine,
      tickMs: spec.tickMs,
      proposeTimeoutMs: 5_000,
      ...(spec.logger ? { logger: spec.logger } : {}),
    });
  }
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
