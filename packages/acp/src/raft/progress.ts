/**
 * What a leader knows about one follower's log (etcd's `Progress`):
 * `probe` sends one append at a time until a response shows where the
 * logs match; `replicate` streams appends optimistically, at most
 * `maxInflight` unacknowledged at once.
 */
export class Progress {
  /** Highest index known replicated on the follower. */
  match = 0;
  /** Next index to send. */
  next: number;
  /** Flow-control state. */
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** Snapshot state: the snapshot being sent and the next byte offset to send. */
  snapshot: { index: number; term: number; data: Uint8Array; offset: number } | undefined;
  /** In probe state: an append is outstanding, wait for a response or a heartbeat round. */
  probeSent = false;
  /** Last index of each in-flight append, oldest first (replicate state). */
  readonly inflight: number[] = [];
  /** Heard from since the last check-quorum round. */
  recentActive = false;

  constructor(next: number) {
    this.next = next;
  }

  /** True when no further append may be sent now. */
  paused(maxInflight: number): boolean {
    return this.state === 'replicate' ? this.inflight.length >= maxInflight : this.probeSent;
  }

  /** Records that entries up to `last` were sent. */
  sent(last: number): void {
    if (this.state === 'replicate') {
      this.next = last + 1;
      this.inflight.push(last);
    } else {
      this.probeSent = true;
    }
  }

  /** Applies an acknowledgement of `index`; returns true when it moved `match`. */
  ack(index: number): boolean {
    let moved = false;
    if (index > this.match) {
      this.match = index;
      moved = true;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    this.probeSent = false;
    if (this.state !== 'replicate' && moved) this.becomeReplicate();
    return moved;
  }

  /** Switches to streaming. */
  becomeReplicate(): void {
    this.state = 'replicate';
    this.snapshot = undefined;
    this.next = this.match + 1;
    this.inflight.length = 0;
  }

  /** Switches to probing from `next`. */
  becomeProbe(next: number): void {
    this.state = 'probe';
    this.snapshot = undefined;
    this.next = Math.max(next, this.match + 1);
    this.inflight.length = 0;
    this.probeSent = false;
  }
}
