import type { FilterPlugin } from '@novacron/core';
import { matchesSelector } from '../label-selector.js';

/** Latency ceilings to user regions, minimum uptime, budget, allowed regions and host label selector. */
export function constraintsFilter(): FilterPlugin {
  return {
    name: 'constraints',
    filter(ctx, host) {
      const c = ctx.request.constraints;
      if (c === undefined) return undefined;
      const h = ctx.snapshot.hosts[host]!;
      if (c.regions !== undefined && (h.region === undefined || !c.regions.includes(h.region)))
        return 'region not allowed';
      if (c.minUptime !== undefined && (h.uptime?.ratio ?? 0) < c.minUptime) return 'uptime below minimum';
      if (c.maxCostPerHour !== undefined && (h.costPerHour ?? Number.POSITIVE_INFINITY) > c.maxCostPerHour)
        return 'cost above budget';
      if (c.maxLatencyMs !== undefined)
        for (const [region, max] of Object.entries(c.maxLatencyMs)) {
          const l = h.latencyMs?.[region];
          if (l === undefined) return `no latency measurement to ${region}`;
          if (l > max) return `latency to ${region} above limit`;
        }
      if (c.hostSelector !== undefined && !matchesSelector(c.hostSelector, h.labels)) return 'host labels do not match';
      return undefined;
    },
  };
}
