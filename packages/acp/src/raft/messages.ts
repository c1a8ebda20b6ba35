import type { LogEntry } from '@novacron/core';

/** Kinds of Raft messages. */
export type RaftMessageKind =
  | 'prevote'
  | 'prevote-resp'
  | 'vote'
  | 'vote-resp'
  | 'append'
  | 'append-resp'
  | 'heartbeat'
  | 'heartbeat-resp'
  | 'timeout-now'
  | 'read-index'
  | 'read-index-resp'
  | 'snapshot'
  | 'snapshot-resp';

/**
 * One Raft message. A single flat shape (as in etcd's `raftpb.Message`)
 * keeps the state machine's dispatch simple; fields a kind does not use
 * are zero. See docs/protocol/raft.md for which kind uses which field.
 */
export interface RaftMessage {
  /** Message kind. */
  readonly kind: RaftMessageKind;
  /** Sender's node id. */
  readonly from: string;
  /** Recipient's node id. */
  readonly to: string;
  /** Sender's term (for `prevote`, the term it would campaign in). */
  readonly term: number;
  /** `append`: index before the first entry; `*-vote`: candidate's last index; `append-resp`: match index or rejected index; `read-index-resp`: read index. */
  readonly index: number;
  /** `append`: term at `index`; `*-vote`: candidate's last term; rejected `append-resp`: term at `hint`. */
  readonly logTerm: number;
  /** `append`: entries to append. */
  readonly entries: readonly LogEntry[];
  /** `append`, `heartbeat`: leader's commit index. */
  readonly commit: number;
  /** Responses: true for a refusal. */
  readonly reject: boolean;
  /** Rejected `append-resp`: the follower's suggestion where to probe next. */
  readonly hint: number;
  /** `heartbeat(-resp)`, `read-index(-resp)`: read-request context (0: none). */
  readonly ctx: number;
  /** `vote`: campaign triggered by a leadership transfer (bypasses leases). */
  readonly transfer: boolean;
  /** `snapshot`: byte offset of `data` in the snapshot; `snapshot-resp`: next offset wanted. */
  readonly offset: number;
  /** `snapshot`: one chunk of the snapshot (`index`/`logTerm` name the snapshot). */
  readonly data: Uint8Array;
  /** `snapshot`: this chunk is the last. */
  readonly done: boolean;
}

const EMPTY = new Uint8Array(0);

/** Builds a message, filling unused fields with zeros. */
export function message(
  fields: Partial<RaftMessage> & Pick<RaftMessage, 'kind' | 'from' | 'to' | 'term'>,
): RaftMessage {
  return {
    index: 0,
    logTerm: 0,
    entries: [],
    commit: 0,
    reject: false,
    hint: 0,
    ctx: 0,
    transfer: false,
    offset: 0,
    data: EMPTY,
    done: false,
    ...fields,
  };
}
