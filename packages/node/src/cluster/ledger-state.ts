import {
  addResources,
  CoreErrorCode,
  fitsWithin,
  type HostClaim,
  type LedgerHostRow,
  type LedgerReservation,
  type LedgerSnapshot,
  NovacronError,
  type ResourceVector,
  subtractResources,
  ZERO_RESOURCES,
} from '@novacron/core';

/** One site's escrow on a host. */
export interface SitePool {
  granted: ResourceVector;
  reserved: ResourceVector;
  committed: ResourceVector;
}

/** One host's account. */
export interface LedgerRow {
  capacity: ResourceVector;
  committed: ResourceVector;
  reserved: ResourceVector;
  escrow: Record<string, SitePool>;
  generation: number;
}

/** The whole ledger as plain data (stored as MessagePack under one key). */
export interface LedgerData {
  /** Format version. */
  v: 1;
  rows: Record<string, LedgerRow>;
  reservations: Record<string, LedgerReservation>;
}

/** An empty ledger. */
export function emptyLedger(): LedgerData {
  return { v: 1, rows: {}, reservations: {} };
}

/** Drops zero extended entries so equal amounts compare equal however they were reached. */
export function canonicalResources(v: ResourceVector): ResourceVector {
  const ext: Record<string, number> = {};
  for (const [k, x] of Object.entries(v.extended ?? {})) if (x !== 0) ext[k] = x;
  const out = {
    cpuMillis: v.cpuMillis,
    memoryBytes: v.memoryBytes,
    diskBytes: v.diskBytes ?? 0,
    networkBps: v.networkBps ?? 0,
  };
  return Object.keys(ext).length > 0 ? { ...out, extended: Object.fromEntries(Object.entries(ext).sort()) } : out;
}

function isZero(v: ResourceVector): boolean {
  const c = canonicalResources(v);
  return (
    c.cpuMillis === 0 && c.memoryBytes === 0 && c.diskBytes === 0 && c.networkBps === 0 && c.extended === undefined
  );
}

/**
 * The capacity ledger's rules as pure functions on {@link LedgerData}
 * (mutating the copy they are given). The same rules as itp's
 * `MemoryCapacityLedger`; the node's `StoreCapacityLedger` runs them inside
 * a compare-and-swap on the strong store, so every change is one atomic
 * log entry.
 */
export const ledgerRules = {
  row(d: LedgerData, hostId: string): LedgerRow {
    const row = Object.hasOwn(d.rows, hostId) ? d.rows[hostId] : undefined;
    if (!row)
      throw new NovacronError(CoreErrorCode.LEDGER_UNKNOWN_HOST, `unknown host ${hostId}`, { details: { hostId } });
    return row;
  },

  free(row: LedgerRow): ResourceVector {
    let f = subtractResources(subtractResources(row.capacity, row.committed), row.reserved);
    for (const p of Object.values(row.escrow)) f = subtractResources(f, p.granted);
    return f;
  },

  siteFree(row: LedgerRow, site: string): ResourceVector {
    const p = Object.hasOwn(row.escrow, site) ? row.escrow[site] : undefined;
    if (!p) return ZERO_RESOURCES;
    return subtractResources(subtractResources(p.granted, p.reserved), p.committed);
  },

  expire(d: LedgerData, now: number): string[] {
    const gone: string[] = [];
    for (const r of Object.values(d.reservations))
      if (r.expiresAt <= now) {
        ledgerRules.drop(d, r);
        gone.push(r.id);
      }
    return gone.sort();
  },

  drop(d: LedgerData, r: LedgerReservation): void {
    delete d.reservations[r.id];
    for (const c of r.claims) {
      const row = ledgerRules.row(d, c.hostId);
      if (r.site === undefined) row.reserved = subtractResources(row.reserved, c.resources);
      else {
        const p = row.escrow[r.site]!;
        p.reserved = subtractResources(p.reserved, c.resources);
      }
      row.generation++;
    }
  },

  take(d: LedgerData, reservationId: string, now: number): LedgerReservation {
    const r =
      typeof reservationId === 'string' && Object.hasOwn(d.reservations, reservationId)
        ? d.reservations[reservationId]
        : undefined;
    if (!r || r.expiresAt <= now) {
      if (r) ledgerRules.drop(d, r);
      throw new NovacronError(
        CoreErrorCode.LEDGER_UNKNOWN_RESERVATION,
        `reservation ${String(reservationId)} is not live`,
        {
          details: { reservationId: String(reservationId) },
        },
      );
    }
    return r;
  },

  snapshot(d: LedgerData): LedgerSnapshot {
    const hosts: LedgerHostRow[] = Object.entries(d.rows)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([hostId, row]) => ({
        hostId,
        capacity: canonicalResources(row.capacity),
        committed: canonicalResources(row.committed),
        reserved: canonicalResources(row.reserved),
        escrow: Object.fromEntries(
          Object.entries(row.escrow)
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([site, p]) => [
              site,
              {
                granted: canonicalResources(p.granted),
                reserved: canonicalResources(p.reserved),
                committed: canonicalResources(p.committed),
              },
            ]),
        ),
      }));
    return { hosts, reservations: Object.keys(d.reservations).sort() };
  },

  /** Sums claims per host after validating them. */
  need(d: LedgerData, claims: readonly HostClaim[]): Map<string, ResourceVector> {
    const need = new Map<string, ResourceVector>();
    for (const c of claims) {
      ledgerRules.row(d, c.hostId);
      need.set(c.hostId, addResources(need.get(c.hostId) ?? ZERO_RESOURCES, c.resources));
    }
    return need;
  },

  fits: fitsWithin,
  isZero,
};
