import {
  CoreErrorCode,
  type Duplex,
  type ProviderCapabilities,
  ProviderErrorCode,
  type ProviderEvent,
  type VmCreateRequest,
  type VmInfo,
  type VmProvider,
  type VmState,
  isNovacronError,
} from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boundedPipe } from '../streams/bounded-pipe.js';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link providerCompliance} tests. */
export interface ProviderFixture {
  /** The provider under test, with no VMs. */
  readonly provider: VmProvider;
  /**
   * A create request for a small VM with id `vmId` on `hostId`. Its
   * `spec.resources` must fit a host several times over (the suite creates a
   * few VMs at once).
   */
  request(vmId: string, hostId: string): VmCreateRequest;
  /** Source and destination host ids for migration (may be equal); default: the first two hosts (or the first twice). */
  readonly migrationHosts?: readonly [string, string];
  /** Lets guest time pass (a virtual clock advances; a real provider may sleep). Default: no wait. */
  advance?(ms: number): Promise<void>;
  /** A pipe carrying a stream-style migration; default: testkit's {@link boundedPipe} with 1 MiB per direction. */
  pipe?(): readonly [Duplex, Duplex];
  /** After teardown of the VMs: descriptions of leaked resources (processes, sockets, files); expected empty. */
  leaks?(): Promise<readonly string[]>;
}

/** The groups of tests in the suite, to run a subset (e.g. a focused CI slice of a slow backend). */
export type ProviderComplianceGroup =
  | 'probe'
  | 'lifecycle'
  | 'capacity'
  | 'idempotency'
  | 'concurrency'
  | 'events'
  | 'errors'
  | 'refusal'
  | 'migration'
  | 'cleanup';

/** Options for {@link providerCompliance}. */
export interface ProviderComplianceOptions {
  /** Groups to run (default: all). */
  readonly include?: readonly ProviderComplianceGroup[];
  /** Per-test timeout in milliseconds (default 30 000). */
  readonly testTimeoutMs?: number;
}

const LIFECYCLE_OPS = ['create', 'start', 'pause', 'resume', 'stop', 'delete'] as const;

/**
 * The `VmProvider` contract as a vitest suite, the way csi-sanity proves a
 * CSI driver: probe, the lifecycle create → start → pause → resume →
 * snapshot → migrate → stop → delete, capacity accounting, idempotent
 * retries, concurrent operations on one VM, events in order, error codes,
 * refusal of unsupported operations before they start, migration in the
 * probed style (stream or pages) and cleanup. Steps a backend's probe does
 * not list are checked to be refused instead.
 *
 * ```ts
 * import { providerCompliance } from '@novacron/testkit/compliance/provider';
 * providerCompliance('my cloud', {
 *   setup: async () => ({ provider: await myProvider(), request: (id, hostId) => ({ spec: {...}, hostId }) }),
 *   teardown: (f) => f.provider.stop(),
 * });
 * ```
 */
export function providerCompliance(
  name: string,
  fixtures: ComplianceFixtures<ProviderFixture>,
  options: ProviderComplianceOptions = {},
): void {
  const include = new Set<ProviderComplianceGroup>(
    options.include ?? [
      'probe',
      'lifecycle',
      'capacity',
      'idempotency',
      'concurrency',
      'events',
      'errors',
      'refusal',
      'migration',
      'cleanup',
    ],
  );
  const timeout = options.testTimeoutMs ?? 30_000;
  const group = (g: ProviderComplianceGroup) => (include.has(g) ? describe : describe.skip);

  describe(`VmProvider compliance: ${name}`, () => {
    let f: ProviderFixture;
    let p: VmProvider;
    let caps: ProviderCapabilities;
    let hostA: string;
    let hostB: string;
    let events: ProviderEvent[];
    let unsubscribe: () => void;
    let counter = 0;
    const newId = () => `cvm-${process.pid}-${++counter}`;
    const eventsOf = (vmId: string) => events.filter((e) => e.vmId === vmId);
    const statesOf = (vmId: string) =>
      eventsOf(vmId)
        .filter((e): e is Extract<ProviderEvent, { type: 'state' }> => e.type === 'state')
        .map((e) => e.to);
    const create = (id: string, host = hostA, extra: Partial<VmCreateRequest> = {}) =>
      p.createVm({ ...f.request(id, host), ...extra });
    const can = (op: (typeof caps.operations)[number]) => caps.operations.includes(op);

    beforeEach(async () => {
      f = await fixtures.setup();
      p = f.provider;
      events = [];
      unsubscribe = p.onEvent((e) => events.push(e));
      caps = await p.probe();
      const hosts = await p.listHosts();
      expect(hosts.length).toBeGreaterThan(0);
      hostA = f.migrationHosts?.[0] ?? hosts[0]!.id;
      hostB = f.migrationHosts?.[1] ?? (hosts[1] ?? hosts[0]!).id;
    }, timeout);

    afterEach(async () => {
      unsubscribe();
      for (const vm of await p.listVms().catch(() => [] as VmInfo[])) await p.deleteVm(vm.id).catch(() => undefined);
      await fixtures.teardown?.(f);
    }, timeout);

    group('probe')('probe', () => {
      it(
        'reports a backend, the lifecycle operations and consistent migration styles',
        async () => {
          expect(caps.backend.length).toBeGreaterThan(0);
          for (const op of LIFECYCLE_OPS) expect(caps.operations).toContain(op);
          for (const style of caps.migration) expect(caps.operations).toContain(`migrate-${style}`);
          if (caps.migration.includes('pages')) expect(caps.pageSize).toBeGreaterThan(0);
        },
        timeout,
      );
    });

    group('lifecycle')('lifecycle', () => {
      it(
        'create → start → pause → resume → snapshot → stop → delete',
        async () => {
          const id = newId();
          expect(await create(id)).toMatchObject({ id, hostId: hostA, state: 'stopped' });
          expect((await p.getVm(id)).state).toBe('stopped');
          expect((await p.startVm(id)).state).toBe('running');
          expect((await p.pauseVm(id)).state).toBe('paused');
          expect((await p.resumeVm(id)).state).toBe('running');
          if (can('snapshot')) {
            const snap = await p.snapshotVm(id);
            expect(snap.vmId).toBe(id);
            expect((await p.getVm(id)).state).toBe('running');
            expect((await p.listSnapshots(id)).map((s) => s.id)).toContain(snap.id);
            if (can('restore')) {
              expect((await p.restoreVm(id, snap.id)).state).toBe('paused');
              expect((await p.resumeVm(id)).state).toBe('running');
            }
          }
          expect((await p.stopVm(id)).state).toBe('stopped');
          await p.deleteVm(id);
          await expectCode(p.getVm(id), ProviderErrorCode.NotFound);
          expect((await p.listVms()).map((v) => v.id)).not.toContain(id);
        },
        timeout,
      );

      it(
        'a stopped VM starts again',
        async () => {
          const id = newId();
          await create(id);
          await p.startVm(id);
          await p.stopVm(id);
          expect((await p.startVm(id)).state).toBe('running');
          await p.deleteVm(id);
        },
        timeout,
      );
    });

    group('capacity')('capacity accounting', () => {
      it(
        'a VM reserves its resources from create until delete',
        async () => {
          const before = (await p.listHosts()).find((h) => h.id === hostA)!;
          const id = newId();
          const req = f.request(id, hostA);
          await p.createVm(req);
          const during = (await p.listHosts()).find((h) => h.id === hostA)!;
          expect(during.allocated.cpuMillis - before.allocated.cpuMillis).toBe(req.spec.resources.cpuMillis);
          expect(during.allocated.memoryBytes - before.allocated.memoryBytes).toBe(req.spec.resources.memoryBytes);
          expect(during.free.memoryBytes).toBe(during.capacity.memoryBytes - during.allocated.memoryBytes);
          await p.deleteVm(id);
          const after = (await p.listHosts()).find((h) => h.id === hostA)!;
          expect(after.allocated).toMatchObject({
            cpuMillis: before.allocated.cpuMillis,
            memoryBytes: before.allocated.memoryBytes,
          });
        },
        timeout,
      );

      it(
        'a VM that does not fit is refused with Quota and nothing is created',
        async () => {
          const host = (await p.listHosts()).find((h) => h.id === hostA)!;
          const id = newId();
          const req = f.request(id, hostA);
          const tooBig = {
            ...req,
            spec: { ...req.spec, resources: { ...req.spec.resources, cpuMillis: host.free.cpuMillis + 1000 } },
          };
          await expectCode(p.createVm(tooBig), ProviderErrorCode.Quota);
          await expectCode(p.getVm(id), ProviderErrorCode.NotFound);
          expect(eventsOf(id)).toEqual([]);
        },
        timeout,
      );
    });

    group('idempotency')('idempotent retries', () => {
      it(
        'a retried create with the same key creates once and returns the same VM',
        async () => {
          const id = newId();
          const req = f.request(id, hostA);
          const [a, b] = await Promise.all([
            p.createVm(req, { idempotencyKey: `create-${id}` }),
            p.createVm(req, { idempotencyKey: `create-${id}` }),
          ]);
          expect(a).toEqual(b);
          const c = await p.createVm(req, { idempotencyKey: `create-${id}` });
          expect(c.id).toBe(id);
          expect(statesOf(id)).toEqual(['stopped']);
          expect((await p.listVms()).filter((v) => v.id === id)).toHaveLength(1);
        },
        timeout,
      );

      it(
        'a retried start with the same key succeeds without acting twice',
        async () => {
          const id = newId();
          await create(id);
          await p.startVm(id, { idempotencyKey: `start-${id}` });
          expect((await p.startVm(id, { idempotencyKey: `start-${id}` })).state).toBe('running');
          expect(statesOf(id)).toEqual(['stopped', 'running']);
          // Without the key, a second start is a state conflict.
          await expectCode(p.startVm(id), ProviderErrorCode.Conflict);
        },
        timeout,
      );

      it(
        'the same key for a different request is a Conflict',
        async () => {
          const id = newId();
          await create(id);
          await p.startVm(id, { idempotencyKey: `k-${id}` });
          await expectCode(p.pauseVm(id, { idempotencyKey: `k-${id}` }), ProviderErrorCode.Conflict);
          expect((await p.getVm(id)).state).toBe('running');
        },
        timeout,
      );
    });

    group('concurrency')('concurrent operations on one VM', () => {
      it(
        'are serialized: each succeeds or is a Conflict, and the final state is the last event',
        async () => {
          const id = newId();
          await create(id);
          await p.startVm(id);
          const ops = [p.pauseVm(id), p.pauseVm(id), p.resumeVm(id), p.resumeVm(id), p.pauseVm(id), p.stopVm(id)];
          const settled = await Promise.allSettled(ops);
          for (const s of settled)
            if (s.status === 'rejected')
              expect(isNovacronError(s.reason, ProviderErrorCode.Conflict), String(s.reason)).toBe(true);
          const ok = settled.filter((s) => s.status === 'fulfilled').length;
          // pause, (pause conflicts), resume, (resume conflicts), pause, stop: serialized in call order.
          expect(ok).toBe(4);
          const states = statesOf(id);
          expect(states.at(-1)).toBe((await p.getVm(id)).state);
          expect(states).toEqual(['stopped', 'running', 'paused', 'running', 'paused', 'stopped']);
        },
        timeout,
      );

      it(
        'operations on different VMs do not interfere',
        async () => {
          const ids = [newId(), newId(), newId()];
          await Promise.all(ids.map((id) => create(id)));
          await Promise.all(ids.map((id) => p.startVm(id)));
          for (const id of ids) expect((await p.getVm(id)).state).toBe('running');
          await Promise.all(ids.map((id) => p.deleteVm(id)));
          expect((await p.listVms()).filter((v) => ids.includes(v.id))).toEqual([]);
        },
        timeout,
      );
    });

    group('events')('events', () => {
      it(
        'are numbered per VM from 1 without gaps, chain states, and end with deleted',
        async () => {
          const id = newId();
          await create(id);
          await p.startVm(id);
          await p.pauseVm(id);
          await p.resumeVm(id);
          await p.stopVm(id);
          const info = await p.getVm(id);
          await p.deleteVm(id);
          const mine = eventsOf(id);
          expect(mine.map((e) => e.seq)).toEqual(mine.map((_, i) => i + 1));
          expect(info.eventSeq).toBe(mine.length - 1);
          let prev: VmState | undefined;
          for (const e of mine.filter((x) => x.type === 'state')) {
            expect(e.from).toBe(prev);
            prev = e.to;
          }
          expect(mine.at(-1)?.type).toBe('deleted');
          for (let i = 1; i < mine.length; i++) expect(mine[i]!.at).toBeGreaterThanOrEqual(mine[i - 1]!.at);
        },
        timeout,
      );
    });

    group('errors')('errors', () => {
      it(
        'unknown VMs are NotFound, wrong states are Conflict, bad requests are Invalid',
        async () => {
          await expectCode(p.getVm('no-such-vm'), ProviderErrorCode.NotFound);
          await expectCode(p.startVm('no-such-vm'), ProviderErrorCode.NotFound);
          await expectCode(p.deleteVm('no-such-vm'), ProviderErrorCode.NotFound);
          const id = newId();
          await create(id);
          await expectCode(p.pauseVm(id), ProviderErrorCode.Conflict);
          await expectCode(p.resumeVm(id), ProviderErrorCode.Conflict);
          await expectCode(create(id), ProviderErrorCode.Conflict);
          await expectCode(p.createVm({ ...f.request(newId(), 'no-such-host') }), ProviderErrorCode.NotFound);
          const bad = f.request(newId(), hostA);
          await expectCode(
            p.createVm({ ...bad, spec: { ...bad.spec, resources: { cpuMillis: -1, memoryBytes: -1 } } }),
            ProviderErrorCode.Invalid,
          );
          expect((await p.getVm(id)).state).toBe('stopped');
        },
        timeout,
      );

      it(
        'an operation whose signal is already aborted does nothing',
        async () => {
          const id = newId();
          const ac = new AbortController();
          ac.abort();
          await expectCode(p.createVm(f.request(id, hostA), { signal: ac.signal }), CoreErrorCode.ABORTED);
          await expectCode(p.getVm(id), ProviderErrorCode.NotFound);
          expect(eventsOf(id)).toEqual([]);
        },
        timeout,
      );
    });

    group('refusal')('unsupported operations', () => {
      it(
        'are refused with Unsupported before anything changes',
        async () => {
          const id = newId();
          await create(id);
          await p.startVm(id);
          const seq = (await p.getVm(id)).eventSeq;
          const attempts: Promise<unknown>[] = [];
          if (!can('migrate-stream')) {
            const pipe = boundedPipe();
            attempts.push(p.migrateSend(id, pipe.a), p.migrateReceive(id, pipe.b));
          }
          if (!can('migrate-pages'))
            attempts.push(
              p.startDirtyTracking(id),
              p.collectDirtyPages(id),
              p.readPages(id, new Uint32Array([0])),
              p.writePages(id, new Uint32Array(0), new Uint8Array(0)),
              p.setDirtyRateLimit(id, 1),
              p.completeIncoming(id),
            );
          if (!can('snapshot')) attempts.push(p.snapshotVm(id));
          if (!can('restore')) attempts.push(p.restoreVm(id, 'x'));
          for (const a of attempts) await expectCode(a, ProviderErrorCode.Unsupported);
          const after = await p.getVm(id);
          expect(after.state).toBe('running');
          expect(after.eventSeq).toBe(seq);
        },
        timeout,
      );
    });

    group('migration')('migration', () => {
      it(
        'moves a running VM between hosts in the probed style; the destination resumes',
        async () => {
          if (caps.migration.length === 0) return;
          const src = newId();
          const dst = newId();
          await create(src, hostA);
          await p.startVm(src);
          await f.advance?.(50);
          const dest = await create(dst, hostB, { incoming: true });
          expect(dest.state).toBe('incoming');
          if (caps.migration.includes('stream')) {
            const [a, b] =
              f.pipe?.() ??
              (() => {
                const pipe = boundedPipe({ capacityBytes: 1 << 20 });
                return [pipe.a, pipe.b] as const;
              })();
            const [sent, received] = await Promise.all([p.migrateSend(src, a), p.migrateReceive(dst, b)]);
            expect(sent.status).toBe('completed');
            expect(received.status).toBe('completed');
            expect(sent.bytes).toBeGreaterThan(0);
            expect((await p.getVm(src)).state).toBe('migrated');
            expect(eventsOf(src).some((e) => e.type === 'migration')).toBe(true);
          } else {
            await p.startDirtyTracking(src);
            const copy = async () => {
              const dirty = await p.collectDirtyPages(src);
              const data = await p.readPages(src, dirty);
              await p.writePages(dst, dirty, data);
              return dirty.length;
            };
            let sent = await copy();
            expect(sent).toBeGreaterThan(0);
            for (let round = 0; round < 3; round++) {
              await f.advance?.(20);
              sent = await copy();
            }
            await p.pauseVm(src);
            await copy();
            await p.stopDirtyTracking(src);
            expect((await p.completeIncoming(dst)).state).toBe('paused');
            const { pageCount } = await p.pageGeometry(src);
            const all = Uint32Array.from({ length: pageCount }, (_, i) => i);
            expect(equalBytes(await p.readPages(src, all), await p.readPages(dst, all))).toBe(true);
          }
          expect((await p.getVm(dst)).state).toBe('paused');
          expect((await p.resumeVm(dst)).state).toBe('running');
          await p.deleteVm(src);
          await p.deleteVm(dst);
        },
        timeout,
      );

      it(
        'a source whose migration did not happen can still run (rollback)',
        async () => {
          if (caps.migration.length === 0) return;
          const src = newId();
          await create(src, hostA);
          await p.startVm(src);
          await p.pauseVm(src);
          expect((await p.resumeVm(src)).state).toBe('running');
        },
        timeout,
      );
    });

    group('cleanup')('cleanup', () => {
      it(
        'deleting every VM returns every host to zero allocation and leaks nothing',
        async () => {
          const ids = [newId(), newId()];
          for (const id of ids) await create(id);
          await p.startVm(ids[0]!);
          for (const id of ids) await p.deleteVm(id);
          expect(await p.listVms()).toEqual([]);
          for (const h of await p.listHosts()) {
            expect(h.allocated.cpuMillis).toBe(0);
            expect(h.allocated.memoryBytes).toBe(0);
          }
          expect((await f.leaks?.()) ?? []).toEqual([]);
        },
        timeout,
      );
    });
  });
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  let thrown: unknown;
  try {
    await promise;
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) expect.fail(`expected ${code}, but the operation succeeded`);
  expect(isNovacronError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
