import {
  addResources,
  assertNumber,
  assertString,
  type CapacityLedger,
  CoreErrorCode,
  decodeMsgpack,
  encodeMsgpack,
  type HostClaim,
  type LedgerReservation,
  type LedgerSnapshot,
  NovacronError,
  type ReserveOptions,
  type ResourceVector,
  subtractResources,
  validateResourceVector,
  ZERO_RESOURCES,
} from '@novacron/core';
import { canonicalResources, emptyLedger, type LedgerData, ledgerRules as L } from './ledger-state.js';
import { equalBytes, type StrongStore } from './strong-store.js';

/** Options of {@link StoreCapacityLedger}. */
export interface StoreCapacityLedgerInit {
  /** The strong namespace holding the ledger. */
  readonly store: StrongStore;
  /** Key of the ledger document (default `ledger/v1`). */
  readonly key?: string;
  /**
   * Time for reservation TTLs. It must be comparable across nodes (any
   * member may expire a reservation another made), so the default is wall
   * time (`Date.now`); skew between nodes shortens or lengthens TTLs by it.
   */
  readonly now?: () => number;
  /** Prefix of reservation ids; unique per ledger client (e.g. node id + boot nonce). */
  readonly idPrefix: string;
  /** Compare-and-swap attempts before giving up with `CORE_LEDGER_CONFLICT` (default 64). */
  readonly maxAttempts?: number;
}

/**
 * core's {@link CapacityLedger} kept in a {@link StrongStore} (the control
 * log's replicated KV). The whole ledger is one MessagePack document; each
 * operation reads it (linearizably), applies the ledger rules and writes it
 * back with compare-and-swap, retrying when another node changed it in
 * between. So every reservation, commit or release is one atomic log entry
 * and no interleaving of placers on different nodes can overcommit a host.
 * One document suits clusters up to a few hundred hosts; a per-host layout
 * would need multi-key transactions the KV does not offer.
 */
export class StoreCapacityLedger implements CapacityLedger {
  readonly #store: StrongStore;
  readonly #key: string;
  readonly #now: () => number;
  readonly #prefix: string;
  readonly #maxAttempts: number;
  #seq = 0;

  constructor(init: StoreCapacityLedgerInit) {
    this.#store = init.store;
    this.#key = init.key ?? 'ledger/v1';
    this.#now = init.now ?? (() => Date.now());
    this.#prefix = init.idPrefix;
    this.#maxAttempts = init.maxAttempts ?? 64;
  }

  /** Reads the ledger document (linearizable). */
  async read(): Promise<LedgerData> {
    const bytes = await this.#store.get(this.#key);
    return bytes ? decodeLedger(bytes) : emptyLedger();
  }

  /**
   * Runs `fn` on a copy of the ledger and stores the result atomically. If
   * `fn` throws after changing the copy (an expired reservation dropped on
   * the way), the change is still stored, then the error rethrown, exactly
   * as an in-memory ledger would behave.
   */
  async #update<T>(fn: (d: LedgerData) => T): Promise<T> {
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      const before = await this.#store.get(this.#key);
      const d = before ? decodeLedger(before) : emptyLedger();
      let result: T | undefined;
      let failure: { err: unknown } | undefined;
      try {
        result = fn(d);
      } catch (err) {
        failure = { err };
      }
      const after = encodeMsgpack(d);
      if (before !== null && equalBytes(before, after)) {
        if (failure) throw failure.err;
        return result as T;
      }
      if (await this.#store.cas(this.#key, before, after)) {
        if (failure) throw failure.err;
        return result as T;
      }
    }
    throw new NovacronError(CoreErrorCode.LEDGER_CONFLICT, `ledger kept changing under ${this.#maxAttempts} attempts`, {
      details: { attempts: this.#maxAttempts },
    });
  }

  async addHost(hostId: string, capacity: ResourceVector): Promise<void> {
    assertString('hostId', hostId, { nonEmpty: true });
    validateResourceVector('capacity', capacity);
    await this.#update((d) => {
      if (Object.hasOwn(d.rows, hostId))
        throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `host ${hostId} is already in the ledger`, {
          details: { argument: 'hostId', expected: 'a new host id', received: 'string' },
        });
      d.rows[hostId] = { capacity, committed: ZERO_RESOURCES, reserved: ZERO_RESOURCES, escrow: {}, generation: 1 };
    });
  }

  /** Adds the host, or updates its capacity when it exists (a node re-registering). */
  async upsertHost(hostId: string, capacity: ResourceVector): Promise<void> {
    assertString('hostId', hostId, { nonEmpty: true });
    validateResourceVector('capacity', capacity);
    await this.#update((d) => {
      const row = Object.hasOwn(d.rows, hostId) ? d.rows[hostId] : undefined;
      if (!row)
        d.rows[hostId] = { capacity, committed: ZERO_RESOURCES, reserved: ZERO_RESOURCES, escrow: {}, generation: 1 };
      else if (
        !equalBytes(encodeMsgpack(canonicalResources(row.capacity)), encodeMsgpack(canonicalResources(capacity)))
      ) {
        row.capacity = capacity;
        row.generation++;
      }
    });
  }

  async available(hostId: string): Promise<ResourceVector> {
    return canonicalResources(L.free(L.row(await this.read(), hostId)));
  }

  async generation(hostId: string): Promise<number> {
    return L.row(await this.read(), hostId).generation;
  }

  async escrowAvailable(site: string, hostId: string): Promise<ResourceVector> {
    return canonicalResources(L.siteFree(L.row(await this.read(), hostId), site));
  }

  async reserve(claims: readonly HostClaim[], options: ReserveOptions): Promise<LedgerReservation> {
    assertNumber('options.ttlMs', options?.ttlMs, { min: Number.MIN_VALUE });
    if (options.site !== undefined) assertString('options.site', options.site, { nonEmpty: true });
    if (!Array.isArray(claims) || claims.length === 0)
      throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, 'claims: expected a non-empty array', {
        details: { argument: 'claims', expected: 'a non-empty array', received: typeof claims },
      });
    for (const [i, c] of claims.entries()) validateResourceVector(`claims[${i}].resources`, c?.resources);
    const id = `${this.#prefix}-r${++this.#seq}`;
    return this.#update((d) => {
      const now = this.#now();
      L.expire(d, now);
      const need = L.need(d, claims);
      for (const [hostId, expected] of Object.entries(options.expectedGenerations ?? {})) {
        const g = L.row(d, hostId).generation;
        if (g !== expected)
          throw new NovacronError(
            CoreErrorCode.LEDGER_CONFLICT,
            `host ${hostId} is at generation ${g}, not ${expected}`,
            {
              details: { hostId, expected, actual: g },
            },
          );
      }
      for (const [hostId, amount] of need) {
        const row = L.row(d, hostId);
        const free = options.site === undefined ? L.free(row) : L.siteFree(row, options.site);
        if (!L.fits(amount, free))
          throw new NovacronError(
            CoreErrorCode.LEDGER_INSUFFICIENT,
            `host ${hostId} lacks capacity${options.site === undefined ? '' : ` in the escrow of ${options.site}`}`,
            { details: { hostId, ...(options.site === undefined ? {} : { site: options.site }) } },
          );
      }
      for (const [hostId, amount] of need) {
        const row = L.row(d, hostId);
        if (options.site === undefined) row.reserved = addResources(row.reserved, amount);
        else {
          const p = row.escrow[options.site]!;
          p.reserved = addResources(p.reserved, amount);
        }
        row.generation++;
      }
      const r: LedgerReservation = {
        id,
        claims: claims.map((c) => ({ hostId: c.hostId, resources: c.resources })),
        expiresAt: now + options.ttlMs,
        ...(options.site === undefined ? {} : { site: options.site }),
      };
      d.reservations[id] = r;
      return r;
    });
  }

  async commit(reservationId: string): Promise<void> {
    await this.#update((d) => {
      const r = L.take(d, reservationId, this.#now());
      delete d.reservations[r.id];
      for (const c of r.claims) {
        const row = L.row(d, c.hostId);
        if (r.site === undefined) {
          row.reserved = subtractResources(row.reserved, c.resources);
          row.committed = addResources(row.committed, c.resources);
        } else {
          const p = row.escrow[r.site]!;
          p.reserved = subtractResources(p.reserved, c.resources);
          p.committed = addResources(p.committed, c.resources);
        }
        row.generation++;
      }
    });
  }

  async rollback(reservationId: string): Promise<void> {
    await this.#update((d) => L.drop(d, L.take(d, reservationId, this.#now())));
  }

  async expire(): Promise<string[]> {
    return this.#update((d) => L.expire(d, this.#now()));
  }

  async release(claims: readonly HostClaim[], options: { readonly site?: string } = {}): Promise<void> {
    for (const [i, c] of claims.entries()) validateResourceVector(`claims[${i}].resources`, c?.resources);
    await this.#update((d) => {
      const need = L.need(d, claims);
      for (const [hostId, amount] of need) {
        const row = L.row(d, hostId);
        const held =
          options.site === undefined
            ? row.committed
            : ((Object.hasOwn(row.escrow, options.site) ? row.escrow[options.site]?.committed : undefined) ??
              ZERO_RESOURCES);
        if (!L.fits(amount, held))
          throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `release on ${hostId} exceeds what is committed`, {
            details: { argument: 'claims', expected: 'at most the committed amount', received: 'object' },
          });
      }
      for (const [hostId, amount] of need) {
        const row = L.row(d, hostId);
        if (options.site === undefined) row.committed = subtractResources(row.committed, amount);
        else {
          const p = row.escrow[options.site]!;
          p.committed = subtractResources(p.committed, amount);
        }
        row.generation++;
      }
    });
  }

  async grantEscrow(site: string, claim: HostClaim): Promise<void> {
    assertString('site', site, { nonEmpty: true });
    validateResourceVector('claim.resources', claim?.resources);
    await this.#update((d) => {
      const row = L.row(d, claim.hostId);
      if (!L.fits(claim.resources, L.free(row)))
        throw new NovacronError(
          CoreErrorCode.LEDGER_INSUFFICIENT,
          `host ${claim.hostId} lacks capacity to escrow to ${site}`,
          {
            details: { hostId: claim.hostId, site },
          },
        );
      const p = (Object.hasOwn(row.escrow, site) ? row.escrow[site] : undefined) ?? {
        granted: ZERO_RESOURCES,
        reserved: ZERO_RESOURCES,
        committed: ZERO_RESOURCES,
      };
      p.granted = addResources(p.granted, claim.resources);
      row.escrow[site] = p;
      row.generation++;
    });
  }

  async revokeEscrow(site: string, claim: HostClaim): Promise<void> {
    validateResourceVector('claim.resources', claim?.resources);
    await this.#update((d) => {
      const row = L.row(d, claim.hostId);
      if (!L.fits(claim.resources, L.siteFree(row, site)))
        throw new NovacronError(
          CoreErrorCode.LEDGER_INSUFFICIENT,
          `site ${site} has not that much unused escrow on ${claim.hostId}`,
          { details: { hostId: claim.hostId, site } },
        );
      const p = row.escrow[site]!;
      p.granted = subtractResources(p.granted, claim.resources);
      if (L.isZero(p.granted) && L.isZero(p.reserved) && L.isZero(p.committed)) delete row.escrow[site];
      row.generation++;
    });
  }

  async snapshot(): Promise<LedgerSnapshot> {
    return L.snapshot(await this.read());
  }
}

/** Decodes a stored ledger document; a malformed one is `CORE_LOG_CORRUPT` (the log itself holds it). */
export function decodeLedger(bytes: Uint8Array): LedgerData {
  let d: unknown;
  try {
    d = decodeMsgpack(bytes);
  } catch (cause) {
    throw new NovacronError(CoreErrorCode.LOG_CORRUPT, 'stored capacity ledger is not MessagePack', {
      cause,
      details: {},
    });
  }
  const x = d as Partial<LedgerData>;
  if (
    typeof d !== 'object' ||
    d === null ||
    x.v !== 1 ||
    typeof x.rows !== 'object' ||
    typeof x.reservations !== 'object'
  )
    throw new NovacronError(CoreErrorCode.LOG_CORRUPT, 'stored capacity ledger has an unknown shape', { details: {} });
  return d as LedgerData;
}
