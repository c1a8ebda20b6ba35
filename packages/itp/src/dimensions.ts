import type { ResourceVector } from '@novacron/core';

/** The resource dimensions every inventory has, in index order; extended resources follow. */
export const BASE_DIMENSIONS = ['cpuMillis', 'memoryBytes', 'diskBytes', 'networkBps'] as const;

/** Writes `v` into `out` in the order of `dimensions`; returns names of extended resources `dimensions` lacks. */
export function vectorInto(v: ResourceVector, dimensions: readonly string[], out: Float64Array): string[] {
  out[0] = v.cpuMillis;
  out[1] = v.memoryBytes;
  out[2] = v.diskBytes ?? 0;
  out[3] = v.networkBps ?? 0;
  for (let d = 4; d < dimensions.length; d++) out[d] = v.extended?.[dimensions[d]!] ?? 0;
  const unknown: string[] = [];
  if (v.extended)
    for (const [k, x] of Object.entries(v.extended)) if (x > 0 && !dimensions.includes(k)) unknown.push(k);
  return unknown;
}
