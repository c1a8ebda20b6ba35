import { type Rng, assertNumber, invalidArgument } from '@novacron/core';

/**
 * How the extra delay on top of a link's base latency is spread over
 * `[0, jitterMs]`: `uniform`; `normal` (centred on `jitterMs / 2`, standard
 * deviation `jitterMs / 6`, clamped); `exponential` (mean `jitterMs / 5`,
 * truncated at `jitterMs`: mostly fast with a long tail).
 */
export type JitterDistribution = 'uniform' | 'normal' | 'exponential';

/** The behaviour of one direction of a simulated link. */
export interface LinkConfig {
  /** Base one-way propagation delay in milliseconds. */
  readonly latencyMs: number;
  /** Largest extra delay per message in milliseconds, drawn per message (and per duplicate). */
  readonly jitterMs: number;
  /** Shape of the jitter within `[0, jitterMs]`. */
  readonly jitterDistribution: JitterDistribution;
  /**
   * Serialisation rate in bytes per second: a message occupies the link for
   * `size / bytesPerSecond` seconds and queues behind earlier ones.
   * `Infinity` means no serialisation delay.
   */
  readonly bytesPerSecond: number;
  /** Probability in [0, 1] that a message is lost. */
  readonly loss: number;
  /** Probability in [0, 1] that a delivered message arrives twice. */
  readonly duplicate: number;
  /** Probability in [0, 1] that a message is held back so later messages overtake it. */
  readonly reorder: number;
  /** Largest hold-back of a reordered message in milliseconds (drawn uniformly in (0, reorderDelayMs]). */
  readonly reorderDelayMs: number;
}

/** The link every direction has unless configured otherwise: 1 ms, no jitter, no faults, unlimited rate. */
export const DEFAULT_LINK_CONFIG: LinkConfig = Object.freeze({
  latencyMs: 1,
  jitterMs: 0,
  jitterDistribution: 'uniform',
  bytesPerSecond: Number.POSITIVE_INFINITY,
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 10,
});

const DISTRIBUTIONS: readonly JitterDistribution[] = ['uniform', 'normal', 'exponential'];

/**
 * Applies `override` on top of `base`, validating every field given; throws
 * `CORE_INVALID_ARGUMENT` naming the bad field (prefixed with `argument`).
 */
export function mergeLinkConfig(base: LinkConfig, override: Partial<LinkConfig>, argument = 'config'): LinkConfig {
  if (typeof override !== 'object' || override === null) {
    throw invalidArgument(argument, 'a partial link config object', override);
  }
  const o = override;
  const field = (name: string) => `${argument}.${name}`;
  if (o.latencyMs !== undefined) assertNumber(field('latencyMs'), o.latencyMs, { min: 0 });
  if (o.jitterMs !== undefined) assertNumber(field('jitterMs'), o.jitterMs, { min: 0 });
  if (o.jitterDistribution !== undefined && !DISTRIBUTIONS.includes(o.jitterDistribution)) {
    throw invalidArgument(field('jitterDistribution'), DISTRIBUTIONS.join(' | '), o.jitterDistribution);
  }
  if (o.bytesPerSecond !== undefined && o.bytesPerSecond !== Number.POSITIVE_INFINITY) {
    assertNumber(field('bytesPerSecond'), o.bytesPerSecond, { min: Number.MIN_VALUE });
  }
  for (const p of ['loss', 'duplicate', 'reorder'] as const) {
    if (o[p] !== undefined) assertNumber(field(p), o[p], { min: 0, max: 1 });
  }
  if (o.reorderDelayMs !== undefined) assertNumber(field('reorderDelayMs'), o.reorderDelayMs, { min: 0 });
  return {
    latencyMs: o.latencyMs ?? base.latencyMs,
    jitterMs: o.jitterMs ?? base.jitterMs,
    jitterDistribution: o.jitterDistribution ?? base.jitterDistribution,
    bytesPerSecond: o.bytesPerSecond ?? base.bytesPerSecond,
    loss: o.loss ?? base.loss,
    duplicate: o.duplicate ?? base.duplicate,
    reorder: o.reorder ?? base.reorder,
    reorderDelayMs: o.reorderDelayMs ?? base.reorderDelayMs,
  };
}

/** Draws one jitter value in `[0, config.jitterMs]` from `rng`; draws nothing when jitter is zero. */
export function drawJitter(config: LinkConfig, rng: Rng): number {
  const j = config.jitterMs;
  if (j === 0) return 0;
  switch (config.jitterDistribution) {
    case 'uniform':
      return rng.next() * j;
    case 'normal': {
      // Box–Muller; 1 - next() keeps the logarithm's argument in (0, 1].
      const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      return Math.min(j, Math.max(0, j / 2 + (z * j) / 6));
    }
    case 'exponential':
      return Math.min(j, (-Math.log(1 - rng.next()) * j) / 5);
  }
}
