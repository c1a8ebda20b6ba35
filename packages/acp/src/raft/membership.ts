import { type ConsensusMembershipChange, decodeMsgpack, encodeMsgpack, NovacronError } from '@novacron/core';
import { AcpErrorCode } from '../errors.js';

/** A Raft group's configuration: who votes, and who only replicates. */
export interface Membership {
  /** Voting members: elections and commitment count only these. */
  readonly voters: readonly string[];
  /** Non-voting members (learners): receive the log, never vote or count for quorum. */
  readonly learners: readonly string[];
}

/**
 * One single-server configuration change (Raft thesis §4.1): a new member
 * joins as a learner, catches up, then is promoted; any member can be
 * removed. One change is in flight at a time.
 */
export type MembershipChange = ConsensusMembershipChange;

/** Longest member id accepted in a configuration entry, in characters. */
export const MAX_MEMBER_ID_LENGTH = 256;
/** Most members a configuration entry may name. */
export const MAX_MEMBERS = 1024;

/**
 * Applies `change` to `current`; throws `ACP_RAFT_MEMBERSHIP_INVALID` when
 * it makes no sense (adding a member twice, promoting a non-learner,
 * removing a stranger or the last voter).
 */
export function applyMembershipChange(current: Membership, change: MembershipChange): Membership {
  const invalid = (why: string) =>
    new NovacronError(AcpErrorCode.RAFT_MEMBERSHIP_INVALID, `raft membership: ${why}`, {
      details: { type: change.type, id: change.id },
    });
  const { id } = change;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MEMBER_ID_LENGTH) throw invalid('bad member id');
  const isVoter = current.voters.includes(id);
  const isLearner = current.learners.includes(id);
  switch (change.type) {
    case 'add-learner':
      if (isVoter || isLearner) throw invalid(`${id} is already a member`);
      if (current.voters.length + current.learners.length >= MAX_MEMBERS) throw invalid('too many members');
      return { voters: current.voters, learners: [...current.learners, id] };
    case 'promote':
      if (!isLearner) throw invalid(`${id} is not a learner`);
      return { voters: [...current.voters, id], learners: current.learners.filter((x) => x !== id) };
    case 'remove':
      if (!isVoter && !isLearner) throw invalid(`${id} is not a member`);
      if (isVoter && current.voters.length === 1) throw invalid('cannot remove the last voter');
      return { voters: current.voters.filter((x) => x !== id), learners: current.learners.filter((x) => x !== id) };
    default:
      throw invalid('unknown change type');
  }
}

/** Encodes a configuration as the payload of a configuration entry (MessagePack `[voters, learners]`). */
export function encodeMembership(m: Membership): Uint8Array {
  return encodeMsgpack([[...m.voters], [...m.learners]]);
}

/**
 * Decodes {@link encodeMembership}'s output; anything else (or a
 * configuration with duplicates, no voters, or oversized ids) is
 * `ACP_RAFT_PROTOCOL_VIOLATION`.
 */
export function decodeMembership(bytes: Uint8Array): Membership {
  const bad = (why: string) =>
    new NovacronError(AcpErrorCode.RAFT_PROTOCOL_VIOLATION, `raft: bad configuration entry: ${why}`, {
      details: { length: bytes.length },
    });
  let v: unknown;
  try {
    v = decodeMsgpack(bytes);
  } catch {
    throw bad('undecodable');
  }
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1])) throw bad('shape');
  const [voters, learners] = v as [unknown[], unknown[]];
  if (voters.length === 0 || voters.length + learners.length > MAX_MEMBERS) throw bad('member count');
  const all = [...voters, ...learners];
  for (const id of all) {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MEMBER_ID_LENGTH) throw bad('member id');
  }
  if (new Set(all).size !== all.length) throw bad('duplicate member');
  return { voters: voters as string[], learners: learners as string[] };
}

/** True when both configurations name the same voters and learners in the same order. */
export function sameMembership(a: Membership, b: Membership): boolean {
  const eq = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.voters, b.voters) && eq(a.learners, b.learners);
}
