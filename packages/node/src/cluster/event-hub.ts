/** One cluster event, as streamed by `GET /v1/events` (server-sent events). */
export interface ClusterEvent {
  /** Increasing per node (SSE `id`). */
  readonly id: number;
  /** `vm.updated`, `vm.deleted`, `host.updated`, `member.changed`, `mode.changed`, `leader.changed`. */
  readonly type: string;
  /** Wall-clock time (ms since the epoch). */
  readonly at: number;
  /** Event body. */
  readonly data: unknown;
}

/**
 * Fan-out of cluster events to subscribers (SSE connections, the CLI), with
 * a bounded backlog so a client reconnecting with `Last-Event-ID` misses
 * nothing recent. Every node derives vm/host events from the committed log,
 * so any node's stream shows the whole cluster's changes.
 */
export class EventHub {
  readonly #listeners = new Set<(e: ClusterEvent) => void>();
  readonly #backlog: ClusterEvent[] = [];
  readonly #max: number;
  readonly #now: () => number;
  #seq = 0;

  constructor(options: { readonly backlog?: number; readonly now?: () => number } = {}) {
    this.#max = options.backlog ?? 256;
    this.#now = options.now ?? (() => Date.now());
  }

  /** Publishes an event. */
  emit(type: string, data: unknown): ClusterEvent {
    const e = { id: ++this.#seq, type, at: this.#now(), data };
    this.#backlog.push(e);
    if (this.#backlog.length > this.#max) this.#backlog.shift();
    for (const l of [...this.#listeners]) {
      try {
        l(e);
      } catch {
        // A failing subscriber must not stop the others.
      }
    }
    return e;
  }

  /** Events after `id` still in the backlog. */
  since(id: number): ClusterEvent[] {
    return this.#backlog.filter((e) => e.id > id);
  }

  /** Subscribes; returns the unsubscribe function. */
  subscribe(listener: (e: ClusterEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Number of subscribers. */
  get subscribers(): number {
    return this.#listeners.size;
  }
}
