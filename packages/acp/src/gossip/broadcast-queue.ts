import type { GossipItem } from './messages.js';
import { gossipItemSize } from './wire.js';

interface Queued {
  readonly item: GossipItem;
  readonly key: string;
  readonly size: number;
  readonly id: number;
  transmits: number;
  readonly onDone: (() => void) | undefined;
}

/**
 * memberlist's `TransmitLimitedQueue`: gossip waiting to be piggybacked.
 * Each item goes out at most `limit(n)` times (`retransmitMult *
 * ceil(log10(n + 1))`), least-sent first, newest first among equals. A new
 * item about a member replaces any queued item about the same member, so
 * only the latest news about anyone is spread.
 */
export class BroadcastQueue {
  readonly #items = new Map<string, Queued>();
  #nextId = 0;

  /** Items waiting. */
  get size(): number {
    return this.#items.size;
  }

  /**
   * Queues `item`, replacing an older one with the same key (member id, or
   * the event's identity). `onDone` runs when the item has been sent its
   * last time or was replaced.
   */
  enqueue(item: GossipItem, onDone?: () => void): void {
    const key =
      item.kind === 'event' ? `e\u0000${item.origin}\u0000${item.ltime}\u0000${item.name}` : `m\u0000${item.id}`;
    const old = this.#items.get(key);
    if (old) {
      this.#items.delete(key);
      old.onDone?.();
    }
    this.#items.set(key, { item, key, size: gossipItemSize(item), id: this.#nextId++, transmits: 0, onDone });
  }

  /**
   * Takes items fitting in `budget` bytes for one datagram and counts a
   * transmission for each; items reaching `limit` leave the queue.
   */
  take(budget: number, limit: number, first?: GossipItem): GossipItem[] {
    const out: GossipItem[] = [];
    let room = budget;
    if (first) {
      const size = gossipItemSize(first);
      if (size <= room) {
        out.push(first);
        room -= size;
      }
    }
    if (this.#items.size === 0 || room <= 0) return out;
    const ordered = [...this.#items.values()].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    for (const q of ordered) {
      if (q.size > room) continue;
      room -= q.size;
      out.push(q.item);
      q.transmits++;
      if (q.transmits >= limit) {
        this.#items.delete(q.key);
        q.onDone?.();
      }
      if (room < 8) break;
    }
    return out;
  }

  /** Drops everything (running `onDone` callbacks). */
  clear(): void {
    const all = [...this.#items.values()];
    this.#items.clear();
    for (const q of all) q.onDone?.();
  }
}
