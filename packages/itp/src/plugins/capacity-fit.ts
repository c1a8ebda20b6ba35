import type { FilterPlugin, PlacementContext } from '@novacron/core';

/** Filters out hosts without room for the VM in every resource dimension, and cordoned hosts. */
export function capacityFit(): FilterPlugin {
  return {
    name: 'capacity-fit',
    filter(ctx: PlacementContext, host: number): string | undefined {
      const s = ctx.snapshot;
      if (s.hosts[host]!.unschedulable) return 'host is cordoned';
      const demand = ctx.demand;
      for (let d = 0; d < demand.length; d++) {
        const x = demand[d]!;
        if (x > 0 && s.used(host, d) + x > s.capacity(host, d)) return `not enough ${s.dimensions[d]}`;
      }
      return undefined;
    },
  };
}
