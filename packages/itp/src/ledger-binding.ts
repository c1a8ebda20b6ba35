import type { BindPlugin, CapacityLedger, PlacementContext, ReservePlugin } from '@novacron/core';

const KEY = 'itp/ledger-reservation';

/** Options of {@link ledgerBinding}. */
export interface LedgerBindingOptions {
  /** TTL of each reservation in ms (how long bind may take before the capacity goes back). */
  readonly ttlMs: number;
  /** Place onto this site's escrow instead of shared capacity. */
  readonly site?: string;
}

/**
 * Connects a profile to a {@link CapacityLedger}: the reserve plugin
 * reserves the VM's demand on the chosen host, the bind plugin commits it,
 * and unreserve rolls back a reservation not yet committed. A ledger
 * refusal (another placer took the capacity, the escrow ran out) fails the
 * placement and the pipeline undoes its own bookkeeping.
 */
export function ledgerBinding(
  ledger: CapacityLedger,
  options: LedgerBindingOptions,
): { reserve: ReservePlugin; bind: BindPlugin } {
  const reserve: ReservePlugin = {
    name: 'capacity-ledger',
    async reserve(ctx: PlacementContext, host: number) {
      const hostId = ctx.snapshot.hosts[host]!.id;
      const r = await ledger.reserve([{ hostId, resources: ctx.request.resources }], {
        ttlMs: options.ttlMs,
        ...(options.site === undefined ? {} : { site: options.site }),
      });
      ctx.cycle.set(KEY, { id: r.id, committed: false });
    },
    async unreserve(ctx: PlacementContext) {
      const r = ctx.cycle.get(KEY) as { id: string; committed: boolean } | undefined;
      if (!r || r.committed) return;
      ctx.cycle.delete(KEY);
      // Already expired is fine: the capacity is back either way.
      await ledger.rollback(r.id).catch(() => undefined);
    },
  };
  const bind: BindPlugin = {
    name: 'capacity-ledger',
    async bind(ctx: PlacementContext) {
      const r = ctx.cycle.get(KEY) as { id: string; committed: boolean } | undefined;
      if (!r) return;
      await ledger.commit(r.id);
      r.committed = true;
    },
  };
  return { reserve, bind };
}
