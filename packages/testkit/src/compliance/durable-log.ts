import { CoreErrorCode, type DurableLog, type LogEntry } from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link durableLogCompliance} tests. */
export interface DurableLogFixture {
  /** A fresh, unopened log over empty storage. */
  readonly log: DurableLog;
  /**
   * Closes nothing; returns a new, unopened instance over the same storage
   * (as a restarted process would build). Leave out for a store that keeps
   * nothing across instances (the persistence tests are then skipped).
   */
  readonly reopen?: () => DurableLog | Promise<DurableLog>;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const entry = (index: number, term: number, text = `e${index}t${term}`): LogEntry => ({
  index,
  term,
  data: bytes(text),
});
const run = (from: number, to: number, term: number): LogEntry[] => {
  const out: LogEntry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
};
const summary = (log: DurableLog) => ({
  first: log.firstIndex(),
  last: log.lastIndex(),
  snapshot: log.snapshot(),
  hard: log.hardState(),
  entries: log
    .entries(log.firstIndex(), log.lastIndex() + 1)
    .map((e) => [e.index, e.term, new TextDecoder().decode(e.data)]),
});

/**
 * The `DurableLog` contract as a vitest suite: an empty log's indexes,
 * append and read back, replacing a suffix by appending over it, explicit
 * suffix truncation, compaction (inside the log and past its end),
 * `entries` byte limits, hard state, argument checks (gaps, lower terms,
 * ranges) and, when the fixture can reopen its storage, that everything
 * acknowledged survives a close and reopen, including after compaction, a
 * snapshot installed over a conflicting suffix, and many mutations issued
 * without awaiting each one.
 *
 * ```ts
 * import { durableLogCompliance } from '@novacron/testkit/compliance/durable-log';
 * durableLogCompliance('memory', { setup: () => ({ log: new MemoryDurableLog() }) });
 * ```
 */
export function durableLogCompliance(name: string, fixtures: ComplianceFixtures<DurableLogFixture>): void {
  describe(`DurableLog compliance: ${name}`, () => {
    let f: DurableLogFixture;
    let log: DurableLog;
    const reopened: DurableLog[] = [];

    beforeEach(async () => {
      f = await fixtures.setup();
      log = f.log;
      await log.open();
    });
    afterEach(async () => {
      await log.close();
      for (const l of reopened.splice(0)) await l.close();
      await fixtures.teardown?.(f);
    });

    const reopen = async (): Promise<DurableLog> => {
      await log.close();
      const next = await f.reopen!();
      reopened.push(next);
      await next.open();
      return next;
    };

    it('starts empty', () => {
      expect(log.firstIndex()).toBe(1);
      expect(log.lastIndex()).toBe(0);
      expect(log.term(0)).toBe(0);
      expect(log.term(1)).toBeUndefined();
      expect(log.snapshot()).toEqual({ index: 0, term: 0 });
      expect(log.hardState()).toEqual({ term: 0, vote: null, commit: 0 });
      expect(log.entries(1, 1)).toEqual([]);
    });

    it('appends and reads back', async () => {
      await log.append(run(1, 3, 1));
      await log.append(run(4, 5, 2));
      expect(log.lastIndex()).toBe(5);
      expect(log.term(3)).toBe(1);
      expect(log.term(4)).toBe(2);
      expect(log.entries(2, 5).map((e) => e.index)).toEqual([2, 3, 4]);
      expect(new TextDecoder().decode(log.entries(5, 6)[0]!.data)).toBe('e5t2');
    });

    it('appending over a suffix replaces it', async () => {
      await log.append(run(1, 5, 1));
      await log.append([entry(3, 2, 'new3')]);
      expect(log.lastIndex()).toBe(3);
      expect(log.entries(1, 4).map((e) => [e.index, e.term])).toEqual([
        [1, 1],
        [2, 1],
        [3, 2],
      ]);
    });

    it('truncates a suffix', async () => {
      await log.append(run(1, 5, 1));
      await log.truncateSuffix(3);
      expect(log.lastIndex()).toBe(2);
      await log.truncateSuffix(3); // empty suffix: no change
      expect(log.lastIndex()).toBe(2);
      await log.append(run(3, 4, 3));
      expect(log.term(4)).toBe(3);
    });

    it('compacts a prefix and keeps the snapshot term', async () => {
      await log.append(run(1, 10, 1));
      await log.append(run(11, 12, 2));
      await log.compact(10, 1);
      expect(log.firstIndex()).toBe(11);
      expect(log.lastIndex()).toBe(12);
      expect(log.term(10)).toBe(1);
      expect(log.term(9)).toBeUndefined();
      expect(log.snapshot()).toEqual({ index: 10, term: 1 });
      await log.compact(5, 1); // older: ignored
      expect(log.snapshot()).toEqual({ index: 10, term: 1 });
      expect(() => log.entries(9, 11)).toThrow(expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT }));
    });

    it('compaction past the end empties the log (installed snapshot)', async () => {
      await log.append(run(1, 3, 1));
      await log.compact(100, 7);
      expect(log.firstIndex()).toBe(101);
      expect(log.lastIndex()).toBe(100);
      expect(log.term(100)).toBe(7);
      await log.append([entry(101, 7)]);
      expect(log.lastIndex()).toBe(101);
    });

    it('entries honours maxBytes but returns at least one entry', async () => {
      await log.append([entry(1, 1, 'aaaa'), entry(2, 1, 'bbbb'), entry(3, 1, 'cccc')]);
      expect(log.entries(1, 4, 8).length).toBe(2);
      expect(log.entries(1, 4, 1).length).toBe(1);
    });

    it('keeps the hard state', async () => {
      await log.setHardState({ term: 3, vote: 'node-b', commit: 2 });
      expect(log.hardState()).toEqual({ term: 3, vote: 'node-b', commit: 2 });
      await log.setHardState({ term: 4, vote: null, commit: 2 });
      expect(log.hardState()).toEqual({ term: 4, vote: null, commit: 2 });
    });

    it('rejects gaps, non-consecutive batches, lower terms and bad ranges', async () => {
      await log.append(run(1, 2, 2));
      const invalid = expect.objectContaining({ code: CoreErrorCode.INVALID_ARGUMENT });
      await expect(log.append([entry(4, 2)])).rejects.toEqual(invalid);
      await expect(log.append([entry(3, 2), entry(5, 2)])).rejects.toEqual(invalid);
      await expect(log.append([entry(3, 1)])).rejects.toEqual(invalid);
      await expect(log.append([entry(3, 3), entry(4, 2)])).rejects.toEqual(invalid);
      await expect(log.truncateSuffix(5)).rejects.toEqual(invalid);
      await expect(log.setHardState({ term: -1, vote: null, commit: 0 })).rejects.toEqual(invalid);
      expect(() => log.entries(1, 5)).toThrow(invalid);
      expect(log.lastIndex()).toBe(2);
    });

    it('mutations after close fail with CORE_INVALID_STATE', async () => {
      await log.close();
      await expect(log.append([entry(1, 1)])).rejects.toMatchObject({ code: CoreErrorCode.INVALID_STATE });
    });

    describe('persistence', () => {
      it('everything acknowledged survives a reopen', async (ctx) => {
        if (!f.reopen) return ctx.skip();
        await log.append(run(1, 5, 1));
        await log.setHardState({ term: 2, vote: 'n1', commit: 3 });
        await log.append([entry(4, 2)]);
        await log.truncateSuffix(4);
        await log.append(run(4, 6, 2));
        const before = summary(log);
        const again = await reopen();
        expect(summary(again)).toEqual(before);
      });

      it('many unawaited mutations are applied in order', async (ctx) => {
        if (!f.reopen) return ctx.skip();
        const all: Promise<void>[] = [];
        for (let i = 1; i <= 200; i++) {
          all.push(log.append([entry(i, 1 + Math.floor(i / 50))]));
          if (i % 7 === 0) all.push(log.setHardState({ term: 1 + Math.floor(i / 50), vote: `v${i}`, commit: i - 3 }));
          if (i % 40 === 0) all.push(log.truncateSuffix(i - 2), log.append(run(i - 2, i, 1 + Math.floor(i / 50))));
        }
        all.push(log.compact(120, log.term(120)!));
        await Promise.all(all);
        const before = summary(log);
        const again = await reopen();
        expect(summary(again)).toEqual(before);
        await again.append([entry(again.lastIndex() + 1, 9)]);
        expect(again.term(again.lastIndex())).toBe(9);
      });

      it('a snapshot installed over a conflicting suffix (truncate, then compact at it) survives a reopen', async (ctx) => {
        if (!f.reopen) return ctx.skip();
        await log.append(run(1, 6, 1));
        await log.truncateSuffix(4);
        await log.compact(4, 2);
        const before = summary(log);
        expect(before.entries).toEqual([]);
        const again = await reopen();
        expect(summary(again)).toEqual(before);
        await again.append([entry(5, 2)]);
        const after = summary(again);
        await again.close();
        const third = await reopen();
        expect(summary(third)).toEqual(after);
      });

      it('survives compaction past the end and further appends', async (ctx) => {
        if (!f.reopen) return ctx.skip();
        await log.append(run(1, 3, 1));
        await log.compact(50, 4);
        await log.append(run(51, 53, 4));
        const before = summary(log);
        const again = await reopen();
        expect(summary(again)).toEqual(before);
      });
    });
  });
}
