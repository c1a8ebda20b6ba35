import { type LogEntry, seededRng } from '@novacron/core';
import { type RaftCoreConfig, RaftCore } from '../../src/raft/core.js';
import type { RaftMessage } from '../../src/raft/messages.js';

/** Builds entries with the given terms, starting at index 1. */
export function logOf(terms: readonly number[]): LogEntry[] {
  return terms.map((term, i) => ({ index: i + 1, term, data: new Uint8Array([1, i & 0xff]) }));
}

/**
 * A synchronous in-memory cluster of {@link RaftCore}s: persistence is
 * instant, messages are queued and delivered in order unless a link is cut.
 */
export class CoreCluster {
  readonly nodes = new Map<string, RaftCore>();
  readonly queue: RaftMessage[] = [];
  readonly cut = new Set<string>();
  readonly applied = new Map<string, LogEntry[]>();
  readonly installed = new Map<string, Uint8Array>();
  /** Return true to drop a message. */
  dropIf: (m: RaftMessage) => boolean = () => false;
  delivered = 0;

  constructor(ids: readonly string[], per: (id: string) => Partial<RaftCoreConfig> = () => ({}), seed = 1) {
    for (const id of ids) {
      this.nodes.set(id, new RaftCore({ id, voters: ids, rng: seededRng(`${seed}/${id}`), ...per(id) }));
      this.applied.set(id, []);
    }
  }

  node(id: string): RaftCore {
    return this.nodes.get(id)!;
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut.add(`${id}>${other}`).add(`${other}>${id}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Collects every node's Ready (persisting instantly) into the queue. */
  collect(): void {
    for (const [id, n] of this.nodes) {
      while (n.hasReady()) {
        const rd = n.ready();
        this.queue.push(...rd.messages);
        this.applied.get(id)!.push(...rd.committed);
        if (rd.snapshot) this.installed.set(id, rd.snapshot.data);
        n.advance(rd);
      }
    }
  }

  /** Delivers one queued message; false when none is left. */
  deliverOne(): boolean {
    this.collect();
    const m = this.queue.shift();
    if (!m) return false;
    if (!this.cut.has(`${m.from}>${m.to}`) && !this.dropIf(m)) {
      this.nodes.get(m.to)?.step(m);
      this.delivered++;
    }
    this.collect();
    return true;
  }

  /** Delivers until quiet (bounded). */
  settle(limit = 100_000): void {
    for (let i = 0; i < limit && this.deliverOne(); i++);
  }

  /** Ticks `id` until it campaigns, then settles. */
  elect(id: string): void {
    const n = this.node(id);
    for (let i = 0; i < 100 && n.role === 'follower'; i++) {
      n.tick();
      this.collect();
    }
    this.settle();
  }

  /** Ticks every node `n` times, settling after each round. */
  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.settle();
    }
  }

  leaders(): RaftCore[] {
    return [...this.nodes.values()].filter((n) => n.role === 'leader');
  }

  terms(id: string): number[] {
    const log = this.node(id).log;
    return log.slice(log.firstIndex(), log.lastIndex() + 1).map((e) => e.term);
  }
}
