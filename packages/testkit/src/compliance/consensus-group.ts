import {
  type CommittedCommand,
  type ConsensusGroup,
  CoreErrorCode,
  isNovacronError,
  type ReplicatedStateMachine,
} from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/**
 * The state machine the suite replicates: a list of commands; applying one
 * appends it and returns the new length as a 4-byte big-endian number.
 */
export class ListStateMachine implements ReplicatedStateMachine {
  /** Commands applied, in order. */
  readonly items: Uint8Array[] = [];

  apply(command: Uint8Array): Uint8Array {
    this.items.push(command);
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.items.length);
    return out;
  }
  snapshot(): Uint8Array {
    const parts = this.items.map((c) => [c.length >>> 8, c.length & 0xff, ...c]);
    return Uint8Array.from(parts.flat());
  }
  restore(snapshot: Uint8Array): void {
    this.items.length = 0;
    for (let at = 0; at < snapshot.length; ) {
      const len = (snapshot[at]! << 8) | snapshot[at + 1]!;
      this.items.push(snapshot.slice(at + 2, at + 2 + len));
      at += 2 + len;
    }
  }
}

/** What {@link consensusGroupCompliance} tests. */
export interface ConsensusGroupFixture {
  /** Members of one group (3 or more), not yet started; member `i` replicates `machines[i]`. */
  readonly members: readonly ConsensusGroup[];
  /** Each member's {@link ListStateMachine}. */
  readonly machines: readonly ListStateMachine[];
  /**
   * Drives the group's time and network until `p` settles (a simulated
   * world's `simRun`, or just `p` with real clocks); fails after `limitMs`.
   */
  run<T>(p: Promise<T>, limitMs?: number): Promise<T>;
  /** Resolves after `ms` of the group's time (a simulated clock's `sleep` under `run`). */
  wait(ms: number): Promise<void>;
  /**
   * Every member takes proposals (PBFT: a replica orders its requests
   * through the primary itself, so no member answers `CORE_NOT_LEADER`).
   * The suite then checks that a non-leader's proposal commits everywhere.
   */
  readonly anyMemberProposes?: boolean;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const count = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);

/**
 * The `ConsensusGroup` contract as a vitest suite: a leader emerges and
 * every member agrees on it; `propose` on the leader resolves with the
 * state machine's result; committed streams agree in content and order on
 * every member; a non-leader rejects with `CORE_NOT_LEADER` naming the
 * leader; the read barrier makes a follower's state reflect earlier
 * writes; a session's retry applies once; an aborted proposal rejects with
 * `CORE_ABORTED`; `status` reports commit and apply positions.
 *
 * ```ts
 * consensusGroupCompliance('raft', { setup: () => buildSimulatedGroup(), teardown: (f) => stopAll(f.members) });
 * ```
 */
export function consensusGroupCompliance(name: string, fixtures: ComplianceFixtures<ConsensusGroupFixture>): void {
  describe(`ConsensusGroup compliance: ${name}`, () => {
    let f: ConsensusGroupFixture;

    beforeEach(async () => {
      f = await fixtures.setup();
      await f.run(Promise.all(f.members.map((m) => m.start())));
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    /** Waits (in the fixture's time) until every member names the same leader that takes proposals; returns its position. */
    const leader = (): Promise<number> =>
      f.run(
        (async () => {
          for (;;) {
            const names = f.members.map((m) => m.status().leader);
            const l = names[0];
            const i = f.members.findIndex((m) => m.status().id === l);
            if (l && i >= 0 && names.every((n) => n === l)) {
              // Some implementations must commit in their term before taking proposals.
              const ok = await f.members[i]!.propose(bytes('probe')).then(
                () => true,
                (err: unknown) => {
                  if (isNovacronError(err)) return false;
                  throw err;
                },
              );
              if (ok) return i;
            }
            await f.wait(20);
          }
        })(),
        120_000,
      );

    const settleAll = (index: number) =>
      f.run(
        (async () => {
          while (f.members.some((m) => m.status().appliedIndex < index)) await f.wait(10);
        })(),
        60_000,
      );

    it('elects one leader that every member names', async () => {
      const i = await leader();
      expect(f.members[i]!.status().leader).toBe(f.members[i]!.status().id);
    });

    it('propose resolves with the state machine result, in order', async () => {
      const i = await leader();
      const a = await f.run(f.members[i]!.propose(bytes('a')));
      const b = await f.run(f.members[i]!.propose(bytes('b')));
      expect(b.index).toBeGreaterThan(a.index);
      expect(count(b.result)).toBe(count(a.result) + 1);
      expect(text(f.machines[i]!.items.at(-1)!)).toBe('b');
      expect(f.members[i]!.status().commitIndex).toBeGreaterThanOrEqual(b.index);
    });

    it('every member applies the same commands in the same order', async () => {
      const seen = f.members.map(() => [] as CommittedCommand[]);
      f.members.forEach((m, k) => {
        m.onCommitted((c) => {
          seen[k]!.push(c);
        });
      });
      const i = await leader();
      const results = await f.run(Promise.all(['x', 'y', 'z'].map((c) => f.members[i]!.propose(bytes(c)))));
      await settleAll(Math.max(...results.map((r) => r.index)));
      const lists = f.machines.map((mc) => mc.items.map(text).join(','));
      for (const l of lists) expect(l).toBe(lists[0]);
      expect(lists[0]).toMatch(/x.*y.*z|x.*z.*y|y.*x.*z|y.*z.*x|z.*x.*y|z.*y.*x/);
      const streams = seen.map((s) => s.map((c) => `${c.index}:${text(c.command)}`).join(','));
      for (const s of streams) expect(s).toBe(streams[0]);
    });

    it('a non-leader refuses proposals with CORE_NOT_LEADER naming the leader (or, when every member proposes, commits them)', async () => {
      const i = await leader();
      const j = (i + 1) % f.members.length;
      if (f.anyMemberProposes) {
        const r = await f.run(f.members[j]!.propose(bytes('via-backup')));
        await settleAll(r.index);
        for (const mc of f.machines) expect(mc.items.map(text)).toContain('via-backup');
        return;
      }
      const err = await f.members[j]!.propose(bytes('nope')).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: CoreErrorCode.NOT_LEADER });
      expect((err as { details: { leader: unknown } }).details.leader).toBe(f.members[i]!.status().id);
    });

    it('the read barrier makes a follower reflect every earlier write', async () => {
      const i = await leader();
      const j = (i + 1) % f.members.length;
      await f.run(f.members[i]!.propose(bytes('before-read')));
      await f.run(f.members[j]!.read());
      expect(f.machines[j]!.items.map(text)).toContain('before-read');
    });

    it('a retried command in the same session applies once', async () => {
      const i = await leader();
      const session = { client: 'compliance-client', seq: 1 };
      const first = await f.run(f.members[i]!.propose(bytes('once'), { session }));
      const again = await f.run(f.members[i]!.propose(bytes('once'), { session }));
      expect(count(again.result)).toBe(count(first.result));
      expect(f.machines[i]!.items.filter((c) => text(c) === 'once').length).toBe(1);
    });

    it('an aborted proposal rejects with CORE_ABORTED', async () => {
      const i = await leader();
      const ac = new AbortController();
      const p = f.members[i]!.propose(bytes('aborted'), { signal: ac.signal });
      ac.abort();
      await expect(f.run(p)).rejects.toMatchObject({ code: CoreErrorCode.ABORTED });
    });

    it('changeMembership (when implemented) removes a member; proposals still commit', async () => {
      const i = await leader();
      const lead = f.members[i]!;
      if (!lead.changeMembership) return; // optional: fixed-membership groups omit it
      const j = (i + 1) % f.members.length;
      const follower = f.members[j]!;
      const gone = follower.status().id;
      const refused = await follower.changeMembership!({ type: 'remove', id: gone }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: CoreErrorCode.NOT_LEADER });
      const r = await f.run(lead.changeMembership({ type: 'remove', id: gone }));
      expect(r.index).toBeGreaterThan(0);
      expect(lead.status().voters).not.toContain(gone);
      const after = await f.run(lead.propose(bytes('after-remove')));
      expect(after.index).toBeGreaterThan(r.index);
    });
  });
}
