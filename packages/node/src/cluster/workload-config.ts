import type { PlacementRequest } from '@novacron/core';

/** VM label setting the simulated guest's dirty rate (bytes per second) on the memory provider. */
export const DIRTY_RATE_LABEL = 'novacron.io/dirty-bytes-per-second';
/** VM label setting the simulated guest's working set (bytes) on the memory provider. */
export const WORKING_SET_LABEL = 'novacron.io/working-set-bytes';

/** VM label giving the simulated guest's memory seeded random contents (the label's value is the seed). */
export const FILL_RANDOM_LABEL = 'novacron.io/fill-random';

/**
 * The provider config a VM's labels ask for: the memory provider's guest
 * workload model (`dirtyBytesPerSecond`, `workingSetBytes`, `fillRandom`) from the
 * labels above, so a cluster can run (and migrate) VMs that dirty memory.
 * Other providers get none.
 */
export function workloadConfig(request: PlacementRequest, provider: string): Record<string, number> | undefined {
  if (provider !== 'memory') return undefined;
  const out: Record<string, number> = {};
  const rate = Number(request.labels?.[DIRTY_RATE_LABEL]);
  const ws = Number(request.labels?.[WORKING_SET_LABEL]);
  if (request.labels?.[DIRTY_RATE_LABEL] !== undefined && Number.isFinite(rate) && rate >= 0)
    out.dirtyBytesPerSecond = rate;
  if (request.labels?.[WORKING_SET_LABEL] !== undefined && Number.isFinite(ws) && ws >= 0) out.workingSetBytes = ws;
  const fill = Number(request.labels?.[FILL_RANDOM_LABEL]);
  if (request.labels?.[FILL_RANDOM_LABEL] !== undefined && Number.isFinite(fill)) out.fillRandom = fill;
  return Object.keys(out).length > 0 ? out : undefined;
}
