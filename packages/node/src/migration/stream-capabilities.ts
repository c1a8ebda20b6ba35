import type { LinkMode } from '@novacron/core';
import { StreamRelayErrorCode, streamRelayError } from './stream-errors.js';

/** What the byte carrier between the two backends can do. */
export interface StreamCarrier {
  /**
   * Separate connections it can carry for one migration. QEMU's multifd
   * opens one per channel, so multifd needs more than one; the
   * `QemuProvider` stream today is a single connection (1).
   */
  readonly channels: number;
  /** Whether bytes flow back from destination to source (QEMU's return path: postcopy needs it). */
  readonly returnPath: boolean;
  /** Whether the carrier compresses on its own (the relay's hde codecs): backend compression is then skipped. */
  readonly compresses: boolean;
}

/** What {@link chooseStreamCapabilities} decides from. */
export interface StreamCapabilityInput {
  /** Link mode of the path between the nodes. */
  readonly mode: LinkMode;
  /** Downtime budget in ms (QEMU's `downtime-limit`). */
  readonly downtimeBudgetMs: number;
  /** Guest memory in bytes. */
  readonly memoryBytes: number;
  /** Predicted or measured guest dirty rate, bytes/s (unknown: assume it converges and let QEMU measure). */
  readonly dirtyBytesPerSecond?: number;
  /** Rate the path (or pba's allocation) gives this migration, bytes/s; unknown: unlimited. */
  readonly pathBytesPerSecond?: number;
  /** The carrier between source and destination. */
  readonly carrier: StreamCarrier;
  /** Capabilities the backend offers (`ProviderCapabilities.migrationCapabilities`); others are never chosen. */
  readonly backendCapabilities?: readonly string[];
  /** CPU cores the source may spend on migration threads (default 2). */
  readonly cores?: number;
}

/** How pre-copy is expected to end under the chosen settings. */
export type StreamConvergence =
  /** Dirty rate well under the path rate: plain pre-copy meets the budget. */
  | 'pre-copy'
  /** Dirty rate close to or above the path rate: QEMU throttles the guest's vCPUs until it fits. */
  | 'auto-converge'
  /** Throttling alone is not expected to fit the budget: switch to post-copy (`migrate-start-postcopy`) when pre-copy stalls. */
  | 'post-copy';

/** QEMU capabilities and parameters for one migration, with the reasons. */
export interface StreamCapabilityChoice {
  /** For `StreamMigrationOptions.capabilities` (QEMU `migrate-set-capabilities`). */
  readonly capabilities: Readonly<Record<string, boolean>>;
  /** For `StreamMigrationOptions.parameters` (QEMU `migrate-set-parameters`). */
  readonly parameters: Readonly<Record<string, number | string | boolean>>;
  /** How pre-copy is expected to end. */
  readonly convergence: StreamConvergence;
  /** One line per decision, for logs and the API. */
  readonly reasons: readonly string[];
}

/** QEMU's `max-bandwidth` when lifted: far above any path, so only backpressure paces QEMU. */
export const LIFTED_MAX_BANDWIDTH = 2 ** 40;

/**
 * Chooses QEMU migration capabilities for one stream-style migration from
 * the link mode, the downtime budget, the predicted dirty and path rates and
 * what the carrier can carry.
 *
 * - `downtime-limit` is the budget; `max-bandwidth` is lifted, because the
 *   relay's bounded buffers already hold QEMU to the path (and pba's rate);
 *   the path rate, when known, becomes `avail-switchover-bandwidth` so the
 *   switchover estimate uses it rather than a burst.
 * - `multifd` when the carrier has several channels: 2 in `datacenter`
 *   (one socket nearly fills loopback; more only costs CPU), up to 8 on
 *   long paths, never more than the carrier's or the cores'; `zstd` over
 *   multifd only off-datacenter and only if the carrier does not compress.
 * - `xbzrle` off-datacenter when the guest dirties memory and multifd is off
 *   (QEMU does not combine them): resent pages go as deltas.
 * - `auto-converge` when the dirty rate exceeds half the path rate.
 * - `postcopy-ram` when even a guest throttled to 1% cannot fit the budget
 *   (dirty rate ≥ path rate) and the carrier has a return path; without one
 *   the choice stays `auto-converge` and says so in `reasons`.
 *
 * @throws `NODE_STREAM_RELAY_INVALID_OPTIONS` for a non-positive budget or memory size, or a carrier with no channel.
 */
export function chooseStreamCapabilities(input: StreamCapabilityInput): StreamCapabilityChoice {
  if (!(input.downtimeBudgetMs > 0) || !(input.memoryBytes > 0) || !(input.carrier.channels >= 1))
    throw streamRelayError(
      StreamRelayErrorCode.INVALID_OPTIONS,
      'downtime budget, memory size and carrier channels must be positive',
      { option: 'input', downtimeBudgetMs: input.downtimeBudgetMs, memoryBytes: input.memoryBytes },
    );
  const offered = input.backendCapabilities ? new Set(input.backendCapabilities) : undefined;
  const reasons: string[] = [];
  const capabilities: Record<string, boolean> = {};
  const parameters: Record<string, number | string | boolean> = {
    'downtime-limit': Math.round(input.downtimeBudgetMs),
    'max-bandwidth': LIFTED_MAX_BANDWIDTH,
  };
  reasons.push(`downtime-limit ${Math.round(input.downtimeBudgetMs)} ms; max-bandwidth lifted (the relay paces QEMU)`);
  const want = (cap: string, why: string): boolean => {
    if (offered && !offered.has(cap)) {
      reasons.push(`${cap} wanted (${why}) but the backend does not offer it`);
      return false;
    }
    capabilities[cap] = true;
    reasons.push(`${cap}: ${why}`);
    return true;
  };

  const path = input.pathBytesPerSecond;
  if (path !== undefined && path > 0) {
    parameters['avail-switchover-bandwidth'] = Math.floor(path);
    reasons.push(`avail-switchover-bandwidth ${Math.floor(path)} B/s: switchover estimated on the path rate`);
  }

  const cores = Math.max(1, input.cores ?? 2);
  let multifd = false;
  if (input.carrier.channels > 1) {
    const byMode = input.mode === 'datacenter' ? 2 : input.mode === 'hybrid' ? 4 : 8;
    const channels = Math.min(byMode, input.carrier.channels, Math.max(2, cores * 2));
    multifd = want('multifd', `${channels} channels over the carrier's ${input.carrier.channels}`);
    if (multifd) {
      parameters['multifd-channels'] = channels;
      if (input.mode !== 'datacenter' && !input.carrier.compresses) {
        parameters['multifd-compression'] = 'zstd';
        parameters['multifd-zstd-level'] = 1;
        reasons.push('multifd-compression zstd level 1: the path is slower than the CPU');
      }
    }
  }

  const dirty = input.dirtyBytesPerSecond ?? 0;
  if (input.mode !== 'datacenter' && dirty > 0 && !multifd && !input.carrier.compresses) {
    if (want('xbzrle', 'resent pages go as deltas on a slow path')) {
      // QEMU wants a power of two; a quarter of RAM holds the hot set of most workloads.
      parameters['xbzrle-cache-size'] = 2 ** Math.floor(Math.log2(Math.max(input.memoryBytes / 4, 1 << 20)));
    }
  }

  let convergence: StreamConvergence = 'pre-copy';
  const rate = path !== undefined && path > 0 ? path : Number.POSITIVE_INFINITY;
  if (dirty > 0 && dirty * 2 > rate) {
    convergence = 'auto-converge';
    want('auto-converge', `dirty rate ${fmt(dirty)} exceeds half the path rate ${fmt(rate)}`);
    if (dirty >= rate) {
      if (input.carrier.returnPath) {
        if (want('postcopy-ram', 'even a throttled guest may not fit the budget: post-copy when pre-copy stalls'))
          convergence = 'post-copy';
      } else {
        reasons.push('post-copy would be next, but the carrier has no return path: relying on auto-converge');
      }
    }
  }
  return { capabilities, parameters, convergence, reasons };
}

function fmt(bytesPerSecond: number): string {
  return Number.isFinite(bytesPerSecond) ? `${(bytesPerSecond / 2 ** 20).toFixed(1)} MiB/s` : 'unlimited';
}
