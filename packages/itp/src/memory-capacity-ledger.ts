import {
  addResources,
  type CapacityLedger,
  type Clock,
  CoreErrorCode,
  fitsWithin,
  type HostClaim,
  type LedgerHostRow,
  type LedgerReservation,
  type LedgerSnapshot,
  NovacronError,
  type ReserveOptions,
  type ResourceVector,
  subtractResources,
  validateResourceVector,
  ZERO_RESOURCES,
  assertNumber,
  assertString,
} from '@novacron/core';

interface SitePool {
  granted: ResourceVector;
  reserved: ResourceVector;
  committed: ResourceVector;
}

interface Row {
  capacity: ResourceVector;
  committed: ResourceVector;
  reserved: ResourceVector;
  escrow: Map<string, SitePool>;
  generation: number;
}

/** Options of {@link MemoryCapacityLedger}. */
export interface MemoryCapacityLedgerInit {
  /** Clock for reservation TTLs. */
  readonly clock: Clock;
}

/** Drops zero extended entries so equal amounts compare equal however they were reached. */
function canonical(v: ResourceVector): ResourceVector {
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

/**
 * The capacity ledger in memory: the reference implementation of core's
 * {@link CapacityLedger}, used by a single placer, by tests, and as the
 * state machine a consensus-backed ledger replays. Reservations carry
 * sequential ids (`r1`, `r2`, ...), so a run is deterministic.
 */
export class MemoryCapacityLedger implements CapacityLedger {
  readonly #clock: Clock;
  readonly #rows = new Map<string, Row>();
  readonly #reservations = new Map<string, LedgerReservation>();
  #seq = 0;

  constructor(init: MemoryCapacityLedgerInit) {
    this.#clock = init.clock;
  }

  #row(hostId: string): Row {
    const row = this.#rows.get(hostId);
    if (!row)
      throw new NovacronError(CoreErrorCode.LEDGER_UNKNOWN_HOST, `unknown host ${hostId}`, { details: { hostId } });
    return row;
  }

  #free(row: Row): ResourceVector {
    let f = subtractResources(subtractResources(row.capacity, row.committed), row.reserved);
    for (const p of row.escrow.values()) f = subtractResources(f, p.granted);
    return f;
  }

  #siteFree(row: Row, site: string): ResourceVector {
    const p = row.escrow.get(site);
    if (!p) return ZERO_RESOURCES;
    return subtractResources(subtractResources(p.granted, p.reserved), p.committed);
  }

  async addHost(hostId: string, capacity: ResourceVector): Promise<void> {
    assertString('hostId', hostId, { nonEmpty: true });
    validateResourceVector('capacity', capacity);
    if (this.#rows.has(hostId))
      throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `host ${hostId} is already in the ledger`, {
        details: { argument: 'hostId', expected: 'a new host id', received: 'string' },
      });
    this.#rows.set(hostId, {
      capacity,
      committed: ZERO_RESOURCES,
      reserved: ZERO_RESOURCES,
      escrow: new Map(),
      generation: 1,
    });
  }

  async available(hostId: string): Promise<ResourceVector> {
    return canonical(this.#free(this.#row(hostId)));
  }

  async generation(hostId: string): Promise<number> {
    return this.#row(hostId).generation;
  }

  async escrowAvailable(site: string, hostId: string): Promise<ResourceVector> {
    return canonical(this.#siteFree(this.#row(hostId), site));
  }

  async reserve(claims: readonly HostClaim[], options: ReserveOptions): Promise<LedgerReservation> {
    assertNumber('options.ttlMs', options?.ttlMs, { min: Number.MIN_VALUE });
    if (options.site !== undefined) assertString('options.site', options.site, { nonEmpty: true });
    if (!Array.isArray(claims) || claims.length === 0)
      throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, 'claims: expected a non-empty array', {
        details: { argument: 'claims', expected: 'a non-empty array', received: typeof claims },
      });
    await this.expire();
    // Check everything before touching anything: a gang is all or nothing.
    const need = new Map<string, ResourceVector>();
    for (const [i, c] of claims.entries()) {
      validateResourceVector(`claims[${i}].resources`, c?.resources);
      this.#row(c.hostId);
      need.set(c.hostId, addResources(need.get(c.hostId) ?? ZERO_RESOURCES, c.resources));
    }
    for (const [hostId, expected] of Object.entries(options.expectedGenerations ?? {})) {
      const g = this.#row(hostId).generation;
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
      const row = this.#row(hostId);
      const free = options.site === undefined ? this.#free(row) : this.#siteFree(row, options.site);
      if (!fitsWithin(amount, free))
        throw new NovacronError(
          CoreErrorCode.LEDGER_INSUFFICIENT,
          `host ${hostId} lacks capacity${options.site === undefined ? '' : ` in the escrow of ${options.site}`}`,
          { details: { hostId, ...(options.site === undefined ? {} : { site: options.site }) } },
        );
    }
    for (const [hostId, amount] of need) {
      const row = this.#row(hostId);
      if (options.site === undefined) row.reserved = addResources(row.reserved, amount);
      else {
        const p = row.escrow.get(options.site)!;
        p.reserved = addResources(p.reserved, amount);
      }
      row.generation++;
    }
    const id = `r${++this.#seq}`;
    const reservation: LedgerReservation = {
      id,
      claims: claims.map((c) => ({ hostId: c.hostId, resources: c.resources })),
      expiresAt: this.#clock.now() + options.ttlMs,
      ...(options.site === undefined ? {} : { site: options.site }),
    };
    this.#reservations.set(id, reservation);
    return reservation;
  }

  #take(reservationId: string): LedgerReservation {
    const r = this.#reservations.get(reservationId);
    if (!r || r.expiresAt <= this.#clock.now()) {
      if (r) this.#drop(r);
      throw new NovacronError(
        CoreErrorCode.LEDGER_UNKNOWN_RESERVATION,
        `reservation ${String(reservationId)} is not live`,
        {
          details: { reservationId: String(reservationId) },
        },
      );
    }
    return r;
  }

  /** Removes a reservation's holds (rollback and expiry). */
  #drop(r: LedgerReservation): void {
    this.#reservations.delete(r.id);
    for (const c of r.claims) {
      const row = this.#row(c.hostId);
      if (r.site === undefined) row.reserved = subtractResources(row.reserved, c.resources);
      else {
        const p = row.escrow.get(r.site)!;
        p.reserved = subtractResources(p.reserved, c.resources);
      }
      row.generation++;
    }
  }

  async commit(reservationId: string): Promise<void> {
    const r = this.#take(reservationId);
    this.#reservations.delete(r.id);
    for (const c of r.claims) {
      const row = this.#row(c.hostId);
      if (r.site === undefined) {
        row.reserved = subtractResources(row.reserved, c.resources);
        row.committed = addResources(row.committed, c.resources);
      } else {
        const p = row.escrow.get(r.site)!;
        p.reserved = subtractResources(p.reserved, c.resources);
        p.committed = addResources(p.committed, c.resources);
      }
      row.generation++;
    }
  }

  async rollback(reservationId: string): Promise<void> {
    this.#drop(this.#take(reservationId));
  }

  async expire(): Promise<string[]> {
    const now = this.#clock.now();
    const gone: string[] = [];
    for (const r of [...this.#reservations.values()])
      if (r.expiresAt <= now) {
        this.#drop(r);
        gone.push(r.id);
      }
    return gone;
  }

  async release(claims: readonly HostClaim[], options: { readonly site?: string } = {}): Promise<void> {
    const need = new Map<string, ResourceVector>();
    for (const [i, c] of claims.entries()) {
      validateResourceVector(`claims[${i}].resources`, c?.resources);
      this.#row(c.hostId);
      need.set(c.hostId, addResources(need.get(c.hostId) ?? ZERO_RESOURCES, c.resources));
    }
    for (const [hostId, amount] of need) {
      const row = this.#row(hostId);
      const held =
        options.site === undefined ? row.committed : (row.escrow.get(options.site)?.committed ?? ZERO_RESOURCES);
      if (!fitsWithin(amount, held))
        throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, `release on ${hostId} exceeds what is committed`, {
          details: { argument: 'claims', expected: 'at most the committed amount', received: 'object' },
        });
    }
    for (const [hostId, amount] of need) {
      const row = this.#row(hostId);
      if (options.site === undefined) row.committed = subtractResources(row.committed, amount);
      else {
        const p = row.escrow.get(options.site)!;
        p.committed = subtractResources(p.committed, amount);
      }
      row.generation++;
    }
  }

  async grantEscrow(site: string, claim: HostClaim): Promise<void> {
    assertString('site', site, { nonEmpty: true });
    validateResourceVector('claim.resources', claim?.resources);
    const row = this.#row(claim.hostId);
    if (!fitsWithin(claim.resources, this.#free(row)))
      throw new NovacronError(
        CoreErrorCode.LEDGER_INSUFFICIENT,
        `host ${claim.hostId} lacks capacity to escrow to ${site}`,
        {
          details: { hostId: claim.hostId, site },
        },
      );
    const p = row.escrow.get(site) ?? { granted: ZERO_RESOURCES, reserved: ZERO_RESOURCES, committed: ZERO_RESOURCES };
    p.granted = addResources(p.granted, claim.resources);
    row.escrow.set(site, p);
    row.generation++;
  }

  async revokeEscrow(site: string, claim: HostClaim): Promise<void> {
    validateResourceVector('claim.resources', claim?.resources);
    const row = this.#row(claim.hostId);
    if (!fitsWithin(claim.resources, this.#siteFree(row, site)))
      throw new NovacronError(
        CoreErrorCode.LEDGER_INSUFFICIENT,
        `site ${site} has not that much unused escrow on ${claim.hostId}`,
        {
          details: { hostId: claim.hostId, site },
        },
      );
    const p = row.escrow.get(site)!;
    p.granted = subtractResources(p.granted, claim.resources);
    if (isZero(p.granted) && isZero(p.reserved) && isZero(p.committed)) row.escrow.delete(site);
    row.generation++;
  }

  async snapshot(): Promise<LedgerSnapshot> {
    const hosts: LedgerHostRow[] = [...this.#rows.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([hostId, row]) => ({
        hostId,
        capacity: canonical(row.capacity),
        committed: canonical(row.committed),
        reserved: canonical(row.reserved),
        escrow: Object.fromEntries(
          [...row.escrow.entries()]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([site, p]) => [
              site,
              { granted: canonical(p.granted), reserved: canonical(p.reserved), committed: canonical(p.committed) },
            ]),
        ),
      }));
    return { hosts, reservations: [...this.#reservations.keys()].sort() };
  }
}

function isZero(v: ResourceVector): boolean {
  const c = canonical(v);
  return (
    c.cpuMillis === 0 && c.memoryBytes === 0 && c.diskBytes === 0 && c.networkBps === 0 && c.extended === undefined
  );
}
