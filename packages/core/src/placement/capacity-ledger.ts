import type { ResourceVector } from '../resources.js';
import type { HostClaim } from './placement-plugins.js';

/**
 * The capacity ledger: the single account of what each host has promised.
 * Placement reserves through it, then commits or rolls back; reservations
 * that are neither expire after their TTL on the ledger's injected clock.
 * Every host carries a generation number, bumped by every change to it, so
 * two placers sharing one inventory detect a conflict instead of both
 * spending the same capacity (optimistic concurrency). All methods are
 * async so an implementation can sit behind a consensus log.
 *
 * Escrow: capacity can be granted to a named site ahead of time (a ledger
 * entry like any other). A reservation made for a site draws only on that
 * site's escrow; one made without a site draws only on unescrowed
 * capacity. So a site cut off from the log can keep placing onto its escrow
 * without any host being overcommitted.
 */
export interface CapacityLedger {
  /** Registers a host with its total capacity (generation 1), or throws when it exists. */
  addHost(hostId: string, capacity: ResourceVector): Promise<void>;
  /** Capacity not committed, reserved or escrowed on a host (the shared pool). */
  available(hostId: string): Promise<ResourceVector>;
  /** The host's generation: any reserve, commit, rollback, expiry, release or escrow change bumps it. */
  generation(hostId: string): Promise<number>;
  /**
   * Reserves every claim or none (gang semantics). Throws
   * `CORE_LEDGER_INSUFFICIENT` when a claim does not fit,
   * `CORE_LEDGER_CONFLICT` when `expectedGenerations` names a host whose
   * generation moved on, `CORE_LEDGER_UNKNOWN_HOST` for unknown hosts.
   */
  reserve(claims: readonly HostClaim[], options: ReserveOptions): Promise<LedgerReservation>;
  /** Turns a live reservation into a committed allocation; throws `CORE_LEDGER_UNKNOWN_RESERVATION` if it expired or is unknown. */
  commit(reservationId: string): Promise<void>;
  /** Drops a live reservation; throws `CORE_LEDGER_UNKNOWN_RESERVATION` if it is unknown or already gone. */
  rollback(reservationId: string): Promise<void>;
  /** Drops every reservation whose TTL ran out by the clock's now; returns their ids. */
  expire(): Promise<string[]>;
  /** Returns committed capacity (a departing VM) to the pool it came from (`site` for escrowed capacity). */
  release(claims: readonly HostClaim[], options?: { readonly site?: string }): Promise<void>;
  /** Moves capacity from the shared pool into `site`'s escrow on one host. */
  grantEscrow(site: string, claim: HostClaim): Promise<void>;
  /** Returns unused escrow of `site` on one host to the shared pool. */
  revokeEscrow(site: string, claim: HostClaim): Promise<void>;
  /** Escrow still unused by `site` on a host. */
  escrowAvailable(site: string, hostId: string): Promise<ResourceVector>;
  /** A canonical, comparable picture of the whole ledger (for tests and audits). */
  snapshot(): Promise<LedgerSnapshot>;
}

/** Options of {@link CapacityLedger.reserve}. */
export interface ReserveOptions {
  /** Lifetime of the reservation in ms of the ledger's clock (> 0). */
  readonly ttlMs: number;
  /** Host id → the generation the caller based its decision on; a mismatch is a conflict. */
  readonly expectedGenerations?: Readonly<Record<string, number>>;
  /** Draw on this site's escrow instead of the shared pool. */
  readonly site?: string;
}

/** A live reservation. */
export interface LedgerReservation {
  /** Unique id, used to commit or roll back. */
  readonly id: string;
  /** What it holds. */
  readonly claims: readonly HostClaim[];
  /** Clock time after which it expires. */
  readonly expiresAt: number;
  /** Escrow site it draws on, if any. */
  readonly site?: string;
}

/** One host's row in a {@link LedgerSnapshot}. */
export interface LedgerHostRow {
  /** Host id. */
  readonly hostId: string;
  /** Total capacity. */
  readonly capacity: ResourceVector;
  /** Committed allocations from the shared pool. */
  readonly committed: ResourceVector;
  /** Live reservations on the shared pool. */
  readonly reserved: ResourceVector;
  /** Per site: escrow granted, and how much of it is reserved or committed. */
  readonly escrow: Readonly<
    Record<string, { granted: ResourceVector; reserved: ResourceVector; committed: ResourceVector }>
  >;
}

/** The whole ledger, hosts sorted by id, for equality checks. Generations are left out on purpose: they only grow. */
export interface LedgerSnapshot {
  /** One row per host. */
  readonly hosts: readonly LedgerHostRow[];
  /** Ids of live reservations, sorted. */
  readonly reservations: readonly string[];
}
