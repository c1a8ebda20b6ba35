/** The class of network path a component is working over; see DESIGN.md "Network modes". */
export type LinkMode = 'datacenter' | 'hybrid' | 'internet';

/** Every {@link LinkMode}, fastest first. */
export const LINK_MODES: readonly LinkMode[] = ['datacenter', 'hybrid', 'internet'];

/**
 * One measurement of a path, from an amst transfer or a node probe.
 * RTT is required; the others are optional because a probe may not know them
 * (RTT alone then decides the mode).
 */
export interface LinkSample {
  /** When the sample was taken, in the producer's `Clock.now()` milliseconds. */
  readonly at: number;
  /** Round-trip time in milliseconds (finite, >= 0). */
  readonly rttMs: number;
  /** Achieved or available bandwidth in bits per second, when known. */
  readonly bandwidthBps?: number;
  /** Packet or segment loss as a fraction in [0, 1], when known. */
  readonly lossRate?: number;
  /** RTT variation in milliseconds, when known. */
  readonly jitterMs?: number;
  /** Who produced the sample (`amst`, `probe`, ...), for logs. */
  readonly source?: string;
}

/**
 * A smoothed view of a path produced by a forecaster (pba) or a transport
 * (amst) from many samples. Consumers (hde, amst) choose behaviour from it.
 */
export interface LinkEstimate {
  /** When the estimate was made (`Clock.now()` milliseconds). */
  readonly at: number;
  /** The path's classified mode. */
  readonly mode: LinkMode;
  /** Expected round-trip time in milliseconds. */
  readonly rttMs: number;
  /** Expected bandwidth in bits per second, when known. */
  readonly bandwidthBps?: number;
  /** Expected loss fraction in [0, 1], when known. */
  readonly lossRate?: number;
  /** Expected jitter in milliseconds, when known. */
  readonly jitterMs?: number;
  /** Forecaster's confidence in [0, 1], when it reports one. */
  readonly confidence?: number;
}
