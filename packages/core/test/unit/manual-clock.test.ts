import { CoreErrorCode, isNovacronError, ManualClock } from '@novacron/core';
import { describe, expect, it } from 'vitest';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('ManualClock', () => {
  it('starts where told and moves only when advanced', () => {
    expect(new ManualClock().now()).toBe(0);
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
    clock.advanceTo(2_000);
    expect(clock.now()).toBe(2_000);
    expect(() => new ManualClock(Number.NaN)).toThrow();
  });

  it('fires timers in due order with now() at each due time', () => {
    const clock = new ManualClock();
    const log: string[] = [];
    for (const d of [30, 10, 20, 5, 25, 15]) clock.setTimeout(() => log.push(`${d}@${clock.now()}`), d);
    clock.advance(100);
    expect(log).toEqual(['5@5', '10@10', '15@15', '20@20', '25@25', '30@30']);
    expect(clock.now()).toBe(100);
  });

  it('breaks ties by scheduling order', () => {
    const clock = new ManualClock();
    const log: number[] = [];
    for (let i = 0; i < 50; i++) clock.setTimeout(() => log.push(i), 10);
    clock.setTimeout(() => log.push(-1), 9);
    clock.advance(10);
    expect(log).toEqual([-1, ...Array.from({ length: 50 }, (_, i) => i)]);
  });

  it('clamps negative delays to zero and treats a NaN delay as zero', () => {
    const clock = new ManualClock(5);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`neg@${clock.now()}`), -10);
    clock.setTimeout(() => log.push(`nan@${clock.now()}`), Number.NaN);
    clock.advance(0);
    expect(log).toEqual(['neg@5', 'nan@5']);
    clock.advance(10);
    expect(clock.now()).toBe(15);
  });

  it('leaves timers past the window pending, with nextTimerAt and pending reporting them', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(1), 10);
    clock.setTimeout(() => fired.push(2), 50);
    expect(clock.pending).toBe(2);
    expect(clock.nextTimerAt()).toBe(10);
    clock.advance(10);
    expect(fired).toEqual([1]);
    expect(clock.pending).toBe(1);
    expect(clock.nextTimerAt()).toBe(50);
    clock.advance(39);
    expect(fired).toEqual([1]);
    clock.advance(1);
    expect(fired).toEqual([1, 2]);
    expect(clock.nextTimerAt()).toBeUndefined();
    expect(clock.runNext()).toBe(false);
  });

  it('runNext jumps to the next timer', () => {
    const clock = new ManualClock();
    clock.setTimeout(() => {}, 70);
    expect(clock.runNext()).toBe(true);
    expect(clock.now()).toBe(70);
  });

  it('repeats intervals until cancelled, even from inside the callback', () => {
    const clock = new ManualClock();
    const at: number[] = [];
    const timer = clock.setInterval(() => {
      at.push(clock.now());
      if (at.length === 4) timer.cancel();
    }, 10);
    clock.advance(100);
    expect(at).toEqual([10, 20, 30, 40]);
    expect(clock.pending).toBe(0);
  });

  it('a repeat counts as scheduled when the previous run fired', () => {
    const clock = new ManualClock();
    const log: string[] = [];
    clock.setInterval(() => log.push(`i@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`t@${clock.now()}`), 20);
    clock.advance(20);
    // The interval's second run was scheduled at t=10, after the timeout (t=0), so the timeout goes first.
    expect(log).toEqual(['i@10', 't@20', 'i@20']);
  });

  it('rejects non-positive or non-finite intervals', () => {
    const clock = new ManualClock();
    for (const ms of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      let thrown: unknown;
      try {
        clock.setInterval(() => {}, ms);
      } catch (err) {
        thrown = err;
      }
      expect(isNovacronError(thrown, CoreErrorCode.INVALID_ARGUMENT)).toBe(true);
    }
    expect(clock.pending).toBe(0);
  });

  it('cancel prevents firing and is idempotent, also after firing', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const a = clock.setTimeout(() => fired.push('a'), 10);
    const b = clock.setTimeout(() => fired.push('b'), 10);
    a.cancel();
    a.cancel();
    expect(clock.pending).toBe(1);
    clock.advance(10);
    b.cancel();
    expect(fired).toEqual(['b']);
    expect(clock.pending).toBe(0);
  });

  it('a callback can cancel a later timer due in the same window', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const later = clock.setTimeout(() => fired.push('later'), 20);
    clock.setTimeout(() => {
      fired.push('first');
      later.cancel();
    }, 10);
    clock.advance(30);
    expect(fired).toEqual(['first']);
  });

  it('advance fires timers scheduled by callbacks inside the window, not beyond it', () => {
    const clock = new ManualClock();
    const log: string[] = [];
    clock.setTimeout(() => {
      log.push(`a@${clock.now()}`);
      clock.setTimeout(() => log.push(`b@${clock.now()}`), 30);
      clock.setTimeout(() => log.push(`c@${clock.now()}`), 0);
      clock.setTimeout(() => log.push(`d@${clock.now()}`), 100);
    }, 40);
    clock.advance(70);
    expect(log).toEqual(['a@40', 'c@40', 'b@70']);
    expect(clock.now()).toBe(70);
    clock.advance(70);
    expect(log.at(-1)).toBe('d@140');
  });

  it('rejects advancing backwards or by a non-finite amount', () => {
    const clock = new ManualClock(100);
    expect(() => clock.advance(-1)).toThrow();
    expect(() => clock.advance(Number.NaN)).toThrow();
    expect(() => clock.advanceTo(99)).toThrow();
    expect(clock.now()).toBe(100);
  });

  it('sleep resolves when time reaches its end', async () => {
    const clock = new ManualClock();
    let done = false;
    const p = clock.sleep(100).then(() => {
      done = true;
    });
    clock.advance(99);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await p;
    expect(done).toBe(true);
  });

  it('sleep rejects with CORE_ABORTED when aborted, cancelling its timer', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const p = clock.sleep(100, ac.signal);
    expect(clock.pending).toBe(1);
    ac.abort(new Error('shutting down'));
    const err = await rejection(p);
    expect(isNovacronError(err, CoreErrorCode.ABORTED)).toBe(true);
    expect((err as Error).cause).toBeInstanceOf(Error);
    expect(((err as Error).cause as Error).message).toBe('shutting down');
    expect(clock.pending).toBe(0);
  });

  it('sleep with an already aborted signal rejects without scheduling', async () => {
    const clock = new ManualClock();
    const err = await rejection(clock.sleep(10, AbortSignal.abort()));
    expect(isNovacronError(err, CoreErrorCode.ABORTED)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('aborting after sleep resolved changes nothing', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const p = clock.sleep(10, ac.signal);
    clock.advance(10);
    await p;
    ac.abort();
    await expect(p).resolves.toBeUndefined();
  });

  it('advanceAsync lets chained sleeps progress; advance alone does not', async () => {
    const run = (clock: ManualClock, log: number[]) =>
      (async () => {
        for (let i = 0; i < 5; i++) {
          await clock.sleep(10);
          log.push(clock.now());
        }
      })();

    const syncClock = new ManualClock();
    const syncLog: number[] = [];
    void run(syncClock, syncLog);
    syncClock.advance(100);
    await Promise.resolve();
    expect(syncLog.length).toBeLessThanOrEqual(1);

    const clock = new ManualClock();
    const log: number[] = [];
    const done = run(clock, log);
    await clock.advanceAsync(100);
    await done;
    expect(log).toEqual([10, 20, 30, 40, 50]);
    expect(clock.now()).toBe(100);
  });

  it('advanceAsync stops at the end of its window', async () => {
    const clock = new ManualClock();
    const log: number[] = [];
    void (async () => {
      for (;;) {
        await clock.sleep(30);
        log.push(clock.now());
      }
    })();
    await clock.advanceAsync(100);
    expect(log).toEqual([30, 60, 90]);
    expect(clock.pending).toBe(1);
    expect(clock.nextTimerAt()).toBe(120);
  });
});
