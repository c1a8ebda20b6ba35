import { type Rng, invalidArgument } from '@novacron/core';

/** Records a partition change in the run's trace (the world passes its own). */
export type PartitionRecorder = (kind: string, fields: Record<string, string | number | boolean | null>) => void;

/** Called after every change to the partition state (cuts added or healed). */
export type PartitionListener = (table: PartitionTable) => void;

/** One blocked direction: messages from `from` to `to` are dropped. */
export interface BlockedLink {
  /** Sending node id. */
  readonly from: string;
  /** Receiving node id. */
  readonly to: string;
}

/**
 * The world's partition state: a set of blocked directed links. Every
 * simulated component that moves bytes between nodes (the peer network, the
 * stream transport) asks {@link PartitionTable.reachable} before sending and
 * again before delivering, and may {@link PartitionTable.onChange subscribe}
 * to react at once (a stream transport resets connections that cross a new
 * cut).
 *
 * Cuts accumulate until {@link PartitionTable.heal}: a one-way cut added on
 * top of a symmetric split keeps both. A node is always reachable from itself.
 */
export class PartitionTable {
  // from -> set of blocked destinations; Maps and Sets iterate in insertion
  // order, so listings (and anything hashed from them) are deterministic.
  readonly #blocked = new Map<string, Set<string>>();
  readonly #listeners: PartitionListener[] = [];
  readonly #record: PartitionRecorder | undefined;

  /** @param record where partition changes are traced (SimWorld passes its trace). */
  constructor(record?: PartitionRecorder) {
    this.#record = record;
  }

  /** True when a message from `from` may reach `to` as far as partitions are concerned. */
  reachable(from: string, to: string): boolean {
    if (from === to) return true;
    return !(this.#blocked.get(from)?.has(to) ?? false);
  }

  /** True while any cut is in place. */
  get partitioned(): boolean {
    return this.#blocked.size > 0;
  }

  /** Every blocked direction, in the order the cuts were made. */
  blockedLinks(): BlockedLink[] {
    const out: BlockedLink[] = [];
    for (const [from, tos] of this.#blocked) for (const to of tos) out.push({ from, to });
    return out;
  }

  /** Subscribes to partition changes; returns a function that unsubscribes. */
  onChange(listener: PartitionListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** Blocks the single direction `from` → `to`. */
  block(from: string, to: string): void {
    assertId('from', from);
    assertId('to', to);
    if (this.#cut(from, to)) this.#changed('block', { from, to });
  }

  /** Reopens the single direction `from` → `to`. */
  unblock(from: string, to: string): void {
    assertId('from', from);
    assertId('to', to);
    const set = this.#blocked.get(from);
    if (!set?.delete(to)) return;
    if (set.size === 0) this.#blocked.delete(from);
    this.#changed('unblock', { from, to });
  }

  /**
   * Symmetric partition: nodes in different groups cannot reach each other in
   * either direction; nodes within a group still can. Nodes named in no group
   * are unaffected. A majority/minority split is `split([[a, b, c], [d, e]])`
   * (see {@link majorityMinority}).
   */
  split(groups: readonly (readonly string[])[]): void {
    assertGroups('groups', groups);
    let n = 0;
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) if (this.#cut(a, b)) n++;
      }
    }
    this.#changed('split', { groups: groups.map((g) => g.join(',')).join('|'), cuts: n });
  }

  /**
   * Asymmetric partition: messages from any node in `from` to any node in
   * `to` are dropped, while the reverse direction still works.
   */
  oneWay(from: readonly string[], to: readonly string[]): void {
    assertGroups('groups', [from, to]);
    let n = 0;
    for (const a of from) for (const b of to) if (this.#cut(a, b)) n++;
    this.#changed('one-way', { from: from.join(','), to: to.join(','), cuts: n });
  }

  /**
   * Bridge partition (Jepsen's "bridge"): the two sides cannot reach each
   * other, but the `bridge` node reaches and is reached by both, so a
   * protocol that needs a majority may find two overlapping ones.
   */
  bridge(bridge: string, left: readonly string[], right: readonly string[]): void {
    assertId('bridge', bridge);
    assertGroups('sides', [left, right]);
    if (left.includes(bridge) || right.includes(bridge)) {
      throw invalidArgument('bridge', 'a node on neither side', bridge);
    }
    let n = 0;
    for (const a of left) {
      for (const b of right) {
        if (this.#cut(a, b)) n++;
        if (this.#cut(b, a)) n++;
      }
    }
    this.#changed('bridge', { bridge, left: left.join(','), right: right.join(','), cuts: n });
  }

  /** Cuts `node` off from every node in `others`, both ways. */
  isolate(node: string, others: readonly string[]): void {
    this.split([[node], others.filter((o) => o !== node)]);
  }

  /** Removes every cut. */
  heal(): void {
    if (this.#blocked.size === 0) return;
    this.#blocked.clear();
    this.#changed('heal', {});
  }

  #cut(from: string, to: string): boolean {
    if (from === to) return false;
    let set = this.#blocked.get(from);
    if (!set) {
      set = new Set();
      this.#blocked.set(from, set);
    }
    if (set.has(to)) return false;
    set.add(to);
    return true;
  }

  #changed(what: string, fields: Record<string, string | number | boolean | null>): void {
    this.#record?.('partition', { op: what, ...fields });
    // Copy: a listener may unsubscribe while we iterate.
    for (const l of [...this.#listeners]) l(this);
  }
}

/**
 * Splits `nodes` into a random majority (⌊n/2⌋ + 1 nodes) and the minority
 * (the rest), drawing from `rng`. Feed the result to
 * {@link PartitionTable.split}.
 */
export function majorityMinority(nodes: readonly string[], rng: Rng): [string[], string[]] {
  if (nodes.length < 2) throw invalidArgument('nodes', 'at least two node ids', nodes);
  const shuffled = rng.shuffle([...nodes]);
  const majority = Math.floor(nodes.length / 2) + 1;
  return [shuffled.slice(0, majority), shuffled.slice(majority)];
}

function assertId(argument: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw invalidArgument(argument, 'a non-empty node id', id);
}

function assertGroups(argument: string, groups: unknown): asserts groups is readonly (readonly string[])[] {
  if (!Array.isArray(groups)) throw invalidArgument(argument, 'an array of node-id arrays', groups);
  const seen = new Set<string>();
  for (let i = 0; i < groups.length; i++) {
    const g: unknown = groups[i];
    if (!Array.isArray(g)) throw invalidArgument(`${argument}[${i}]`, 'an array of node ids', g);
    for (const id of g) {
      assertId(`${argument}[${i}]`, id);
      if (seen.has(id)) throw invalidArgument(`${argument}[${i}]`, 'each node in at most one group', id);
      seen.add(id);
    }
  }
}
