/** One participant of {@link waterFill}. */
export interface FillItem {
  /** Weight (> 0). */
  readonly weight: number;
  /** Rate it already has (>= 0). */
  readonly floor: number;
  /** Rate it can use at most (>= floor, may be infinite). */
  readonly cap: number;
}

/**
 * Weighted max-min fair water-filling: raises a common level λ until
 * `amount` has been added, each item at `clamp(weight · λ, floor, cap)`.
 * Returns each item's new rate. When `amount` exceeds what the caps can
 * take, every item ends at its cap. O(n log n).
 */
export function waterFill(items: readonly FillItem[], amount: number): number[] {
  const events: { at: number; slope: number }[] = [];
  let room = 0;
  for (const it of items) {
    events.push({ at: it.floor / it.weight, slope: it.weight });
    if (Number.isFinite(it.cap)) events.push({ at: it.cap / it.weight, slope: -it.weight });
    room += it.cap - it.floor;
  }
  if (!(amount > 0)) return items.map((it) => it.floor);
  if (amount >= room) return items.map((it) => it.cap);
  events.sort((a, b) => a.at - b.at || b.slope - a.slope);
  let slope = 0;
  let level = 0;
  let added = 0;
  let lambda = Number.NaN;
  for (const e of events) {
    const gain = slope * (e.at - level);
    if (slope > 0 && added + gain >= amount) {
      lambda = level + (amount - added) / slope;
      break;
    }
    added += gain;
    level = e.at;
    slope += e.slope;
  }
  // Past the last breakpoint only uncapped items still grow.
  if (Number.isNaN(lambda)) lambda = level + (amount - added) / slope;
  return items.map((it) => Math.min(it.cap, Math.max(it.floor, it.weight * lambda)));
}
