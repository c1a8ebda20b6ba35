import { type Socket, createConnection } from 'node:net';
import type { Clock } from '@novacron/core';

/** What a {@link HeartbeatMonitor} saw. */
export interface HeartbeatReport {
  /** Heartbeats seen (unique sequence numbers). */
  readonly count: number;
  /** First and last sequence numbers seen. */
  readonly firstSeq: number | undefined;
  readonly lastSeq: number | undefined;
  /** Sequence numbers missing between the first and the last. */
  readonly lost: readonly number[];
  /** Longest time between consecutive heartbeats, in ms of the monitor's clock, and the seq that ended it. */
  readonly maxGapMs: number;
  readonly maxGapEndSeq: number | undefined;
  /** Heartbeats by source name. */
  readonly bySource: Readonly<Record<string, number>>;
}

/**
 * Reads the workload guest's serial console (`HB <seq>` lines, one per
 * millisecond of guest time) from one or more QEMU serial sockets and
 * records when each sequence number arrived. Attached to both the source
 * and the destination of a migration, the longest gap between consecutive
 * heartbeats is the downtime as the guest's users see it, and a missing
 * sequence number is guest work lost.
 */
export class HeartbeatMonitor {
  readonly #clock: Clock;
  readonly #arrivals = new Map<number, number>();
  readonly #bySource: Record<string, number> = {};
  readonly #sockets: Socket[] = [];
  readonly #waiters: { seq: number; resolve: () => void }[] = [];
  readonly #partials = new Map<string, string>();
  #maxSeq = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Connects to a serial socket (QEMU's chardev server) and starts reading it under `source`. */
  attach(source: string, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      this.#sockets.push(socket);
      let first = true;
      socket.setEncoding('latin1');
      socket.once('connect', () => resolve());
      socket.once('error', reject);
      socket.on('data', (text: string) => {
        const lines = ((this.#partials.get(source) ?? '') + text).split('\n');
        const rest = lines.pop() ?? '';
        this.#partials.set(source, rest.length > 64 ? '' : rest);
        for (const line of lines) {
          // A line cut by a migration's switchover begins on the source and ends on the destination.
          if (first && !/^HB \d+$/.test(line.trim()))
            for (const [other, partial] of this.#partials)
              if (other !== source && /^HB \d+$/.test((partial + line).trim())) {
                this.#partials.set(other, '');
                this.#line(source, (partial + line).trim());
              }
          first = false;
          this.#line(source, line.trim());
        }
      });
    });
  }

  /** Resolves once a heartbeat with sequence number >= `seq` has arrived. */
  waitFor(seq: number): Promise<void> {
    if (this.#maxSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }));
  }

  /** The highest sequence number seen so far. */
  get lastSeq(): number {
    return this.#maxSeq;
  }

  /** Summarizes what was seen. */
  report(): HeartbeatReport {
    const seqs = [...this.#arrivals.keys()].sort((a, b) => a - b);
    const lost: number[] = [];
    let maxGapMs = 0;
    let maxGapEndSeq: number | undefined;
    for (let i = 1; i < seqs.length; i++) {
      for (let s = seqs[i - 1]! + 1; s < seqs[i]! && lost.length < 10_000; s++) lost.push(s);
      const gap = this.#arrivals.get(seqs[i]!)! - this.#arrivals.get(seqs[i - 1]!)!;
      if (gap > maxGapMs) {
        maxGapMs = gap;
        maxGapEndSeq = seqs[i];
      }
    }
    return {
      count: seqs.length,
      firstSeq: seqs[0],
      lastSeq: seqs.at(-1),
      lost,
      maxGapMs,
      maxGapEndSeq,
      bySource: { ...this.#bySource },
    };
  }

  /** Disconnects from every socket. */
  close(): void {
    for (const s of this.#sockets) s.destroy();
  }

  #line(source: string, line: string): void {
    const m = /^HB (\d+)$/.exec(line);
    if (!m) return;
    const seq = Number(m[1]);
    if (this.#arrivals.has(seq)) return;
    this.#arrivals.set(seq, this.#clock.now());
    this.#bySource[source] = (this.#bySource[source] ?? 0) + 1;
    if (seq > this.#maxSeq) this.#maxSeq = seq;
    for (const w of [...this.#waiters])
      if (this.#maxSeq >= w.seq) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
  }
}
