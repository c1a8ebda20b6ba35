import { assertNumber, invalidArgument } from '@novacron/core';

/** Per-connection TCP parameters of the simulated stream transport. */
export interface TcpConfig {
  /**
   * Largest segment in bytes. A segment is a burst of packets that costs one
   * event: bigger segments make long transfers cheaper to simulate, but drops
   * and retransmissions become coarser (a full buffer drops the whole burst,
   * a lost packet costs the whole segment). Keep it well below the bottleneck
   * buffer and the bandwidth-delay product of the paths under study.
   */
  readonly mss: number;
  /** Packet (MTU payload) size in bytes: the unit of the congestion formula and of random loss. */
  readonly packetBytes: number;
  /** Bytes a sender holds (unsent plus unacknowledged); `write` waits while it is full. */
  readonly sendBufferBytes: number;
  /** Bytes a receiver holds unread; the sender stops when the reader falls this far behind. */
  readonly recvBufferBytes: number;
  /** Initial congestion window in packets. */
  readonly initialWindowPackets: number;
  /** CUBIC's C. */
  readonly cubicC: number;
  /** CUBIC's multiplicative decrease factor. */
  readonly cubicBeta: number;
  /** Lower bound of the retransmission timeout (Linux: 200 ms). */
  readonly minRtoMs: number;
  /** Upper bound of the backed-off retransmission timeout. */
  readonly maxRtoMs: number;
  /** Retransmission timeout before the first RTT sample, and the first SYN retry delay. */
  readonly initialRtoMs: number;
  /** A connection whose data sees no acknowledgement for this long is reset (`TCP_USER_TIMEOUT`); 0 disables. */
  readonly userTimeoutMs: number;
  /** A dial that gets no answer (peer down or partitioned) fails with `CORE_DIAL_FAILED` after this long. */
  readonly connectTimeoutMs: number;
}

/** Defaults modelled on Linux with CUBIC, with 64 KiB segments. */
export const DEFAULT_TCP_CONFIG: TcpConfig = Object.freeze({
  mss: 64 * 1024,
  packetBytes: 1500,
  sendBufferBytes: 4 * 1024 * 1024,
  recvBufferBytes: 4 * 1024 * 1024,
  initialWindowPackets: 10,
  cubicC: 0.4,
  cubicBeta: 0.7,
  minRtoMs: 200,
  maxRtoMs: 60_000,
  initialRtoMs: 1000,
  userTimeoutMs: 300_000,
  connectTimeoutMs: 20_000,
});

/** Applies `override` on top of `base`, validating each field; throws `CORE_INVALID_ARGUMENT` naming it. */
export function mergeTcpConfig(base: TcpConfig, override: Partial<TcpConfig>, argument = 'tcp'): TcpConfig {
  if (typeof override !== 'object' || override === null) throw invalidArgument(argument, 'an object', override);
  const out = { ...base, ...override };
  const f = (name: string) => `${argument}.${name}`;
  assertNumber(f('mss'), out.mss, { min: 1, integer: true });
  assertNumber(f('packetBytes'), out.packetBytes, { min: 1, integer: true });
  assertNumber(f('sendBufferBytes'), out.sendBufferBytes, { min: 1, integer: true });
  assertNumber(f('recvBufferBytes'), out.recvBufferBytes, { min: 1, integer: true });
  assertNumber(f('initialWindowPackets'), out.initialWindowPackets, { min: 1 });
  assertNumber(f('cubicC'), out.cubicC, { min: Number.MIN_VALUE });
  assertNumber(f('cubicBeta'), out.cubicBeta, { min: 0.01, max: 0.99 });
  assertNumber(f('minRtoMs'), out.minRtoMs, { min: Number.MIN_VALUE });
  assertNumber(f('maxRtoMs'), out.maxRtoMs, { min: out.minRtoMs });
  assertNumber(f('initialRtoMs'), out.initialRtoMs, { min: Number.MIN_VALUE });
  assertNumber(f('userTimeoutMs'), out.userTimeoutMs, { min: 0 });
  assertNumber(f('connectTimeoutMs'), out.connectTimeoutMs, { min: Number.MIN_VALUE });
  return Object.freeze(out);
}
