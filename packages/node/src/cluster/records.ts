import { decodeMsgpack, encodeMsgpack, type PlacementRequest, type ResourceVector } from '@novacron/core';

/** Key prefixes of the control plane's strong namespace. */
export const KEYS = {
  host: (id: string) => `hosts/${id}`,
  hostsStart: 'hosts/',
  hostsEnd: 'hosts0',
  vm: (id: string) => `vms/${id}`,
  vmsStart: 'vms/',
  vmsEnd: 'vms0',
  migration: (id: string) => `migrations/${id}`,
  migrationsStart: 'migrations/',
  migrationsEnd: 'migrations0',
  ledger: 'ledger/v1',
} as const;

/** A host in the inventory (one per node in this release). */
export interface HostRecord {
  readonly v: 1;
  /** Host id. */
  readonly id: string;
  /** Node that runs it. */
  readonly nodeId: string;
  /** Capacity offered. */
  readonly capacity: ResourceVector;
  /** Labels for selectors. */
  readonly labels: Readonly<Record<string, string>>;
  readonly zone?: string;
  readonly region?: string;
  /** False while its node is down: it receives no new VMs. */
  readonly schedulable: boolean;
}

/** Desired run state of a VM. */
export type VmDesiredState = 'running' | 'stopped';

/** One placement in a VM's history. */
export interface VmPlacementEvent {
  /** Host it went to (`null`: nowhere fitted). */
  readonly hostId: string | null;
  /** Ownership epoch it started. */
  readonly epoch: number;
  /** `created`, `failover` (its host went down), `retry` (was pending), `escrow` (placed on its site's escrow while the log was unreachable), `migrated` (live migration, #13). */
  readonly reason: 'created' | 'failover' | 'retry' | 'escrow' | 'migrated';
}

/**
 * A VM as the cluster records it. `epoch` is the ownership epoch: every
 * move to another host increments it in the same log entry that changes
 * `hostId`, so a node acts on a VM only while the log says it owns it.
 */
export interface VmRecord {
  readonly v: 1;
  /** The placement request (spec, labels, affinity). */
  readonly request: PlacementRequest;
  /** Owning host, or `null` while no host fits (pending). */
  readonly hostId: string | null;
  /** Ownership epoch (starts at 1). */
  readonly epoch: number;
  /** What the owner should make of it. */
  readonly desired: VmDesiredState;
  /** Where it has been. */
  readonly history: readonly VmPlacementEvent[];
  /**
   * Escrow site whose capacity it holds (placed while the log was
   * unreachable). That site's node returns the escrow to its site once the
   * VM leaves its host; the leader never releases it into the shared pool.
   */
  readonly site?: string;
  /** A live migration in flight (#13): the destination may receive it; nobody else may move it meanwhile. */
  readonly migration?: VmMigrationMarker;
}

/** The in-flight migration of a VM, recorded in its {@link VmRecord} while pre-copy runs. */
export interface VmMigrationMarker {
  /** Migration id. */
  readonly id: string;
  /** Destination host id. */
  readonly to: string;
  /** Destination node id. */
  readonly toNode: string;
}

/** Encodes a record for the store. */
export function encodeRecord(r: HostRecord | VmRecord): Uint8Array {
  return encodeMsgpack(JSON.parse(JSON.stringify(r)));
}

/** Decodes a host record (`undefined` when malformed). */
export function decodeHost(bytes: Uint8Array): HostRecord | undefined {
  const r = safeDecode(bytes) as HostRecord | undefined;
  return r && r.v === 1 && typeof r.id === 'string' && typeof r.capacity === 'object' ? r : undefined;
}

/** Decodes a VM record (`undefined` when malformed). */
export function decodeVm(bytes: Uint8Array): VmRecord | undefined {
  const r = safeDecode(bytes) as VmRecord | undefined;
  return r && r.v === 1 && typeof r.request?.id === 'string' && typeof r.epoch === 'number' ? r : undefined;
}

function safeDecode(bytes: Uint8Array): unknown {
  try {
    return decodeMsgpack(bytes);
  } catch {
    return undefined;
  }
}
