import {
  assertInteger,
  assertNumber,
  NovacronError,
  normalQuantile,
  type PlacementRequest,
  type Rng,
} from '@novacron/core';
import { ItpErrorCode } from '../errors.js';
import type { WorkloadPreset } from './parameters.js';

/** One event of a synthetic workload. */
export type WorkloadEvent =
  | {
      /** Seconds since the start. */
      readonly time: number;
      /** A VM asks to be placed. */
      readonly kind: 'arrive';
      /** The placement request (demand from the preset's mix). */
      readonly request: PlacementRequest;
      /** Name of its VM type. */
      readonly type: string;
      /** True for a VM of the steady-state population present at time 0 (see {@link WorkloadOptions.steadyStart}). */
      readonly initial?: boolean;
    }
  | {
      /** Seconds since the start. */
      readonly time: number;
      /** A VM leaves (its lifetime ran out). */
      readonly kind: 'depart';
      /** The departing VM. */
      readonly vmId: string;
    };

/** Options of {@link generateWorkload}. */
export interface WorkloadOptions {
  /** VM mix and lifetime model. */
  readonly preset: WorkloadPreset;
  /** Seeded randomness (same seed, same stream). */
  readonly rng: Rng;
  /** Number of arrivals. */
  readonly arrivals: number;
  /** Poisson arrival rate per second; see {@link arrivalRateFor} to size it for a target utilisation. */
  readonly ratePerSecond: number;
  /** Prefix of VM ids (default `vm`). */
  readonly idPrefix?: string;
  /**
   * Start at steady state: before the first of `arrivals`, emit at time 0
   * the VMs that would still be alive had the stream already run for the
   * lifetime cap (Poisson arrivals over the preceding `maxSeconds`, kept
   * only if their lifetime outlasts their age, departing when it runs
   * out). With lifetimes capped at `maxSeconds` this is exactly the
   * stationary population, so utilisation starts at the Little's-law
   * target instead of climbing from an empty cluster. These extra VMs have
   * ids `<prefix>init<n>` and `initial: true`; they are not counted in
   * `arrivals`. Default false.
   */
  readonly steadyStart?: boolean;
}

/** Mean vCPUs of a preset's mix. */
export function meanVcpus(preset: WorkloadPreset): number {
  return preset.types.reduce((a, t) => a + t.share * t.vcpus, 0);
}

/** Mean lifetime in seconds of the (capped) log-normal model, by numeric integration of the cap. */
export function meanLifetimeSeconds(preset: WorkloadPreset): number {
  const { medianSeconds: m, sigma: s, maxSeconds: cap } = preset.lifetime;
  // E[min(L, cap)] for L = m·e^{sZ}: integrate over the normal quantiles.
  const steps = 20_000;
  let acc = 0;
  for (let i = 0; i < steps; i++) {
    const u = (i + 0.5) / steps;
    acc += Math.min(cap, m * Math.exp(s * normalQuantile(u)));
  }
  return acc / steps;
}

/**
 * The Poisson rate that keeps, by Little's law, a mean of `utilisation` of
 * `totalVcpus` busy at steady state: λ = u·C / (E[vCPU]·E[lifetime]).
 */
export function arrivalRateFor(preset: WorkloadPreset, totalVcpus: number, utilisation: number): number {
  assertNumber('totalVcpus', totalVcpus, { min: Number.MIN_VALUE });
  assertNumber('utilisation', utilisation, { min: Number.MIN_VALUE, max: 1 });
  return (utilisation * totalVcpus) / (meanVcpus(preset) * meanLifetimeSeconds(preset));
}

/** A uniform draw in (0, 1), never 0 (logs and quantiles need that). */
const open01 = (rng: Rng) => (rng.nextUint32() + 0.5) / 4294967296;

/**
 * A synthetic VM stream: Poisson arrivals at `ratePerSecond`, sizes drawn
 * from the preset's mix, log-normal lifetimes (capped), departures
 * interleaved in time order. Deterministic for a given seed.
 */
export function generateWorkload(options: WorkloadOptions): WorkloadEvent[] {
  const { preset, rng, arrivals, ratePerSecond } = options;
  assertInteger('arrivals', arrivals, { min: 0, max: 10_000_000 });
  assertNumber('ratePerSecond', ratePerSecond, { min: Number.MIN_VALUE });
  const total = preset.types.reduce((a, t) => a + t.share, 0);
  if (preset.types.length === 0 || Math.abs(total - 1) > 1e-9)
    throw new NovacronError(ItpErrorCode.INVALID_CONFIG, `preset ${preset.name}: shares must sum to 1 (got ${total})`, {
      details: {},
    });
  const prefix = options.idPrefix ?? 'vm';
  const cumulative: number[] = [];
  let acc = 0;
  for (const t of preset.types) {
    acc += t.share;
    cumulative.push(acc);
  }
  const events: WorkloadEvent[] = [];
  const draw = () => {
    const u = rng.next();
    let k = cumulative.findIndex((c) => u < c);
    if (k < 0) k = preset.types.length - 1;
    const type = preset.types[k]!;
    const life = Math.min(
      preset.lifetime.maxSeconds,
      preset.lifetime.medianSeconds * Math.exp(preset.lifetime.sigma * normalQuantile(open01(rng))),
    );
    return { type, life };
  };
  if (options.steadyStart === true) {
    if (ratePerSecond * preset.lifetime.maxSeconds > 50_000_000)
      throw new NovacronError(
        ItpErrorCode.INVALID_CONFIG,
        `steadyStart would draw ${Math.round(ratePerSecond * preset.lifetime.maxSeconds)} past arrivals (limit 50,000,000)`,
        { details: {} },
      );
    // Walk back from time 0: arrivals at ages a1 < a2 < ... up to the cap.
    // One alive at 0 iff its lifetime exceeds its age; it leaves at life - age.
    const initial: { age: number; type: (typeof preset.types)[number]; left: number }[] = [];
    let age = 0;
    for (;;) {
      age += -Math.log(open01(rng)) / ratePerSecond;
      if (age >= preset.lifetime.maxSeconds) break;
      const { type, life } = draw();
      if (life > age) initial.push({ age, type, left: life - age });
    }
    // Oldest first, the order they arrived in.
    initial.reverse();
    for (const [i, v] of initial.entries()) {
      const id = `${prefix}init${i}`;
      events.push({
        time: 0,
        kind: 'arrive',
        type: v.type.name,
        initial: true,
        request: { id, resources: { cpuMillis: v.type.vcpus * 1000, memoryBytes: v.type.memoryGiB * 2 ** 30 } },
      });
      events.push({ time: v.left, kind: 'depart', vmId: id });
    }
  }
  let time = 0;
  for (let i = 0; i < arrivals; i++) {
    time += -Math.log(open01(rng)) / ratePerSecond;
    const { type, life } = draw();
    const id = `${prefix}${i}`;
    events.push({
      time,
      kind: 'arrive',
      type: type.name,
      request: { id, resources: { cpuMillis: type.vcpus * 1000, memoryBytes: type.memoryGiB * 2 ** 30 } },
    });
    events.push({ time: time + life, kind: 'depart', vmId: id });
  }
  // Stable sort: at equal times an arrival stays before its own departure.
  return events.sort((a, b) => a.time - b.time);
}
