import {
  type CommitLevel,
  CoreErrorCode,
  isNovacronError,
  type StateChange,
  type StateSync,
  type StateSyncStrategy,
} from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link stateSyncCompliance} tests. */
export interface StateSyncFixture {
  /** Replicas of one cluster (2 or more), not yet started. */
  readonly replicas: readonly StateSync[];
  /** The strategy every replica reports in `status()`. */
  readonly strategy: StateSyncStrategy;
  /** The level a write gets on a healthy cluster (`strong` for log-backed strategies). */
  readonly level: CommitLevel;
  /**
   * Drives the cluster's time and network until `p` settles (a simulated
   * world's `simRun`, or just `p` with real clocks).
   */
  run<T>(p: Promise<T>): Promise<T>;
  /**
   * Lets replication finish: afterwards every replica's `entries` reflect
   * every acknowledged write (a simulated quiet period, or polling).
   */
  settle(): Promise<void>;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/**
 * The `StateSync` contract as a vitest suite: a replica reads its own
 * writes with the fixture's commit level; deletes make keys absent;
 * namespaces are independent; every replica converges to the same entries;
 * `watch` delivers a namespace's changes in order with gap-free sequence
 * numbers (remote changes included) and stops after unsubscribing; bad
 * namespaces, keys and values throw `CORE_INVALID_ARGUMENT`; calls after
 * `stop` reject with `CORE_INVALID_STATE`; `status` reports the strategy.
 *
 * ```ts
 * stateSyncCompliance('strong over raft', { setup: () => buildCluster(), teardown: (f) => stopAll(f.replicas) });
 * ```
 */
export function stateSyncCompliance(name: string, fixtures: ComplianceFixtures<StateSyncFixture>): void {
  describe(`StateSync compliance: ${name}`, () => {
    let f: StateSyncFixture;
    let stopped = false;

    beforeEach(async () => {
      stopped = false;
      f = await fixtures.setup();
      await f.run(Promise.all(f.replicas.map(async (r) => r.start())));
      // Let the cluster form (elect a leader, exchange first digests).
      await f.settle();
    });
    afterEach(async () => {
      if (!stopped) await f.run(Promise.all(f.replicas.map(async (r) => r.stop())));
      await fixtures.teardown?.(f);
    });

    it('reads its own writes at the fixture level', async () => {
      const r = f.replicas[0]!;
      const w = await f.run(r.put('vms', 'vm-1', bytes('host-a')));
      expect(w.level).toBe(f.level);
      const got = await f.run(r.get('vms', 'vm-1'));
      expect(text(got?.value)).toBe('host-a');
      expect(got?.level).toBe(f.level);
      await f.run(r.put('vms', 'vm-1', bytes('host-b')));
      expect(text((await f.run(r.get('vms', 'vm-1')))?.value)).toBe('host-b');
      expect(await f.run(r.get('vms', 'missing'))).toBeNull();
    });

    it('deletes keys, and deleting an absent key is harmless', async () => {
      const r = f.replicas[0]!;
      await f.run(r.put('vms', 'vm-1', bytes('x')));
      await f.run(r.delete('vms', 'vm-1'));
      expect(await f.run(r.get('vms', 'vm-1'))).toBeNull();
      await f.run(r.delete('vms', 'never-written'));
      expect(r.entries('vms').has('vm-1')).toBe(false);
    });

    it('keeps namespaces independent', async () => {
      const r = f.replicas[0]!;
      await f.run(r.put('a', 'k', bytes('in-a')));
      await f.run(r.put('b', 'k', bytes('in-b')));
      expect(text((await f.run(r.get('a', 'k')))?.value)).toBe('in-a');
      expect(text((await f.run(r.get('b', 'k')))?.value)).toBe('in-b');
      expect([...r.entries('a').keys()]).toEqual(['k']);
      expect(r.entries('c').size).toBe(0);
    });

    it('converges: every replica ends with the same entries', async () => {
      const n = f.replicas.length;
      for (let i = 0; i < 12; i++) {
        const r = f.replicas[i % n]!;
        await f.run(r.put('inv', `k${i % 5}`, bytes(`v${i}`)));
        if (i % 4 === 3) await f.run(r.delete('inv', `k${(i + 1) % 5}`));
      }
      await f.settle();
      const views = f.replicas.map((r) => [...r.entries('inv')].map(([k, e]) => [k, text(e.value)]));
      for (const v of views) expect(v).toEqual(views[0]);
      // The last write to each key from one writer in real-time order wins when all writes come from one replica.
      await f.run(f.replicas[0]!.put('inv', 'k0', bytes('final')));
      await f.settle();
      for (const r of f.replicas) expect(text(r.entries('inv').get('k0')?.value)).toBe('final');
    });

    it('lists entries in key order', async () => {
      const r = f.replicas[0]!;
      for (const k of ['b', 'c', 'a']) await f.run(r.put('ord', k, bytes(k)));
      expect([...r.entries('ord').keys()]).toEqual(['a', 'b', 'c']);
    });

    it('watch delivers ordered, gap-free changes, remote ones too, until unsubscribed', async () => {
      const seen: StateChange[][] = f.replicas.map(() => []);
      const offs = f.replicas.map((r, i) => r.watch('w', (c) => seen[i]!.push(c)));
      const writer = f.replicas[0]!;
      await f.run(writer.put('w', 'x', bytes('1')));
      await f.run(writer.put('w', 'x', bytes('2')));
      await f.run(writer.delete('w', 'x'));
      await f.run(writer.put('w', 'y', bytes('3')));
      await f.settle();
      for (const [i, changes] of seen.entries()) {
        expect(
          changes.map((c) => c.seq),
          `replica ${i} seqs`,
        ).toEqual(changes.map((_, j) => j + 1));
        for (const c of changes) expect(c.namespace).toBe('w');
        // The replica ends in the state the last events describe.
        const last = new Map<string, string | null>();
        for (const c of changes) last.set(c.key, c.entry === null ? null : text(c.entry.value)!);
        expect(last.get('x') ?? null, `replica ${i} x`).toBeNull();
        expect(last.get('y'), `replica ${i} y`).toBe('3');
      }
      // The writer saw all four of its own changes, in order.
      expect(seen[0]!.map((c) => (c.entry === null ? `${c.key}:-` : `${c.key}:${text(c.entry.value)}`))).toEqual([
        'x:1',
        'x:2',
        'x:-',
        'y:3',
      ]);
      for (const off of offs) off();
      const before = seen.map((s) => s.length);
      await f.run(writer.put('w', 'z', bytes('4')));
      await f.settle();
      expect(seen.map((s) => s.length)).toEqual(before);
    });

    it('rejects bad namespaces, keys and values with CORE_INVALID_ARGUMENT', async () => {
      const r = f.replicas[0]!;
      const bad: (() => Promise<unknown>)[] = [
        () => r.put('', 'k', bytes('x')),
        () => r.put('ns', '', bytes('x')),
        () => r.put('ns', 'k'.repeat(5000), bytes('x')),
        () => r.put('ns', 'k', 'not bytes' as unknown as Uint8Array),
        () => r.put('ns', 'k', new Uint8Array(2 * 1024 * 1024)),
        () => r.delete('ns', 42 as unknown as string),
        () => r.get(null as unknown as string, 'k'),
      ];
      for (const [i, call] of bad.entries()) {
        const err = await f.run(rejection(call()));
        expect(isNovacronError(err, CoreErrorCode.INVALID_ARGUMENT), `case ${i}: ${String(err)}`).toBe(true);
      }
      expect(
        isNovacronError(
          thrown(() => r.entries('')),
          CoreErrorCode.INVALID_ARGUMENT,
        ),
      ).toBe(true);
      expect(
        isNovacronError(
          thrown(() => r.watch('', () => undefined)),
          CoreErrorCode.INVALID_ARGUMENT,
        ),
      ).toBe(true);
    });

    it('reports its strategy and no pending writes when healthy', async () => {
      const r = f.replicas[0]!;
      await f.run(r.put('s', 'k', bytes('v')));
      await f.settle();
      const s = r.status();
      expect(s.strategy).toBe(f.strategy);
      expect(s.writeLevel).toBe(f.level);
      expect(s.pendingWrites).toBe(0);
      expect(Array.isArray(s.divergence)).toBe(true);
      expect(s.convergenceLagMs === null || s.convergenceLagMs >= 0).toBe(true);
    });

    it('rejects calls after stop with CORE_INVALID_STATE', async () => {
      const r = f.replicas[0]!;
      await f.run(Promise.all(f.replicas.map(async (x) => x.stop())));
      stopped = true;
      const err = await f.run(rejection(r.put('ns', 'k', bytes('x'))));
      expect(isNovacronError(err, CoreErrorCode.INVALID_STATE), String(err)).toBe(true);
      const err2 = await f.run(rejection(r.get('ns', 'k')));
      expect(isNovacronError(err2, CoreErrorCode.INVALID_STATE), String(err2)).toBe(true);
    });
  });
}
