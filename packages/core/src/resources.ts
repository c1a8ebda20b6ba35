import type { NodeId } from './identity/node-id.js';
import { assertNumber, assertObject } from './validate.js';

/**
 * An amount of capacity or demand. The named fields are the ones every
 * placement policy understands; `extended` carries the rest (GPUs, licences,
 * hugepages) by name, as Kubernetes' extended resources do.
 */
export interface ResourceVector {
  /** CPU in millicores (1000 = one core). */
  readonly cpuMillis: number;
  /** Memory in bytes. */
  readonly memoryBytes: number;
  /** Local disk in bytes (0 when not tracked). */
  readonly diskBytes?: number;
  /** Network bandwidth in bits per second (0 when not tracked). */
  readonly networkBps?: number;
  /** Named extra resources, counted in their own units. */
  readonly extended?: Readonly<Record<string, number>>;
}

/** A machine that can run VMs. itp and providers extend this. */
export interface Host {
  /** Stable host id, unique in the cluster. */
  readonly id: string;
  /** The node that manages this host, when it runs one. */
  readonly nodeId?: NodeId;
  /** Total capacity offered to VMs. */
  readonly capacity: ResourceVector;
  /** Free-form labels for selectors and affinity (`zone`, `gpu-model`, ...). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Region name, for geographic placement. */
  readonly region?: string;
  /** Failure domain within a region. */
  readonly zone?: string;
  /** Latitude/longitude in degrees, for geographic placement. */
  readonly location?: { readonly lat: number; readonly lon: number };
}

/** A VM's demand and identity as placement and providers see it. */
export interface VmSpec {
  /** Stable VM id, unique in the cluster. */
  readonly id: string;
  /** Human-readable name. */
  readonly name?: string;
  /** Resources the VM reserves while it runs. */
  readonly resources: ResourceVector;
  /** Labels for affinity and selection. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Workload class (`latency-sensitive`, `batch`, ...), used by class-aware placement. */
  readonly vmClass?: string;
  /** Higher runs first; may preempt lower (default 0). */
  readonly priority?: number;
}

/** The empty vector. */
export const ZERO_RESOURCES: ResourceVector = Object.freeze({
  cpuMillis: 0,
  memoryBytes: 0,
  diskBytes: 0,
  networkBps: 0,
});

function mergeExtended(a: ResourceVector, b: ResourceVector, sign: 1 | -1): Record<string, number> | undefined {
  if (!a.extended && !b.extended) return undefined;
  const out: Record<string, number> = { ...a.extended };
  for (const [k, v] of Object.entries(b.extended ?? {})) out[k] = (out[k] ?? 0) + sign * v;
  return out;
}

function combine(a: ResourceVector, b: ResourceVector, sign: 1 | -1): ResourceVector {
  const extended = mergeExtended(a, b, sign);
  return {
    cpuMillis: a.cpuMillis + sign * b.cpuMillis,
    memoryBytes: a.memoryBytes + sign * b.memoryBytes,
    diskBytes: (a.diskBytes ?? 0) + sign * (b.diskBytes ?? 0),
    networkBps: (a.networkBps ?? 0) + sign * (b.networkBps ?? 0),
    ...(extended ? { extended } : {}),
  };
}

/** `a + b`, field by field (extended resources by name). */
export function addResources(a: ResourceVector, b: ResourceVector): ResourceVector {
  return combine(a, b, 1);
}

/** `a - b`, field by field; results may be negative (use {@link fitsWithin} to check). */
export function subtractResources(a: ResourceVector, b: ResourceVector): ResourceVector {
  return combine(a, b, -1);
}

/** True when every field of `demand` is at most the same field of `available`. */
export function fitsWithin(demand: ResourceVector, available: ResourceVector): boolean {
  if (demand.cpuMillis > available.cpuMillis || demand.memoryBytes > available.memoryBytes) return false;
  if ((demand.diskBytes ?? 0) > (available.diskBytes ?? 0) && (demand.diskBytes ?? 0) > 0) return false;
  if ((demand.networkBps ?? 0) > (available.networkBps ?? 0) && (demand.networkBps ?? 0) > 0) return false;
  for (const [k, v] of Object.entries(demand.extended ?? {}))
    if (v > 0 && v > (available.extended?.[k] ?? 0)) return false;
  return true;
}

/** Validates a vector from outside: every field finite and >= 0. */
export function validateResourceVector(argument: string, value: unknown): ResourceVector {
  assertObject(argument, value);
  assertNumber(`${argument}.cpuMillis`, value.cpuMillis, { min: 0 });
  assertNumber(`${argument}.memoryBytes`, value.memoryBytes, { min: 0 });
  if (value.diskBytes !== undefined) assertNumber(`${argument}.diskBytes`, value.diskBytes, { min: 0 });
  if (value.networkBps !== undefined) assertNumber(`${argument}.networkBps`, value.networkBps, { min: 0 });
  if (value.extended !== undefined) {
    assertObject(`${argument}.extended`, value.extended);
    for (const [k, v] of Object.entries(value.extended)) assertNumber(`${argument}.extended.${k}`, v, { min: 0 });
  }
  return value as unknown as ResourceVector;
}
