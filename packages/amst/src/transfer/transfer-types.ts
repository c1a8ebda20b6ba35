import type {
  ChunkCodec,
  Clock,
  LinkEstimate,
  LinkMode,
  LinkSample,
  Logger,
  Metrics,
  Rng,
  StreamTransport,
} from '@novacron/core';
import type { LanePreset } from './lane-controller.js';

/** A progress report, emitted every `progressIntervalMs` (default 250 ms, so 4/s). */
export interface TransferProgress {
  /** Milliseconds since the transfer started. */
  readonly elapsedMs: number;
  /** Raw bytes handed to lanes so far (retransmissions included). */
  readonly bytesSent: number;
  /** Raw bytes the receiver acknowledged. */
  readonly bytesAcked: number;
  /** Total bytes, when known. */
  readonly totalBytes: number | undefined;
  /** Acknowledged bytes per second over the last interval, in bits per second. */
  readonly goodputBps: number;
  /** Smoothed chunk round-trip time (send to ack) in ms. */
  readonly rttMs: number;
  /** Lanes open now. */
  readonly lanes: number;
  /** Estimated time to completion (ms), when the total is known and goodput > 0. */
  readonly etaMs: number | undefined;
}

/** What a finished transfer reports. */
export interface TransferResult {
  /** The transfer id, also its resume token (32 hex digits). */
  readonly transferId: string;
  /** Raw bytes transferred. */
  readonly bytes: number;
  /** Bytes put on the wire (encoded chunks, headers and retransmissions). */
  readonly wireBytes: number;
  /** Milliseconds from start to the receiver's final acknowledgement. */
  readonly durationMs: number;
  /** Most lanes open at once. */
  readonly maxLanes: number;
  /** Lane count when the transfer finished. */
  readonly finalLanes: number;
  /** Chunks sent more than once (lane death, corruption, resume). */
  readonly retransmittedChunks: number;
  /** Raw bytes sent more than once. */
  readonly retransmittedBytes: number;
  /** Chunks the receiver refused as corrupt. */
  readonly corruptChunks: number;
  /** Lanes that died during the transfer. */
  readonly laneFailures: number;
  /** Times the transfer resumed after every lane had died. */
  readonly resumes: number;
  /** Average goodput, bits per second. */
  readonly goodputBps: number;
}

/** Options for {@link sendTransfer}. */
export interface SendTransferOptions {
  /** Carries the lanes (TCP, memory, simulated). */
  readonly transport: StreamTransport;
  /** The receiver's address. */
  readonly address: string;
  /** The object: bytes, or an async iterable of chunks (a Node `Readable` qualifies). */
  readonly source: Uint8Array | AsyncIterable<Uint8Array>;
  /** Total size when `source` is an iterable and the size is known (for ETA and the receiver). */
  readonly totalSize?: number;
  /** Time source (default: the system clock; the simulator passes a virtual one). */
  readonly clock?: Clock;
  /** Seeds the transfer id (default: a random id from `node:crypto`). */
  readonly rng?: Rng;
  /** Encodes chunks (default `none`: raw). */
  readonly codec?: ChunkCodec;
  /** Link mode: picks the lane preset and is passed to the codec (default `datacenter`). */
  readonly mode?: LinkMode;
  /** Latest link estimate, passed to the codec. */
  readonly link?: () => LinkEstimate | undefined;
  /** Baseline id passed to the codec. */
  readonly baselineId?: string;
  /** A fixed lane count, or `adaptive` (default) to let amst choose within the preset. */
  readonly lanes?: number | 'adaptive';
  /** Overrides the mode's {@link LanePreset}. */
  readonly preset?: Partial<LanePreset>;
  /** Raw bytes per chunk (default 256 KiB; 64 KiB in `internet` mode). */
  readonly chunkSize?: number;
  /** Sender's cap on raw bytes beyond the receiver's delivered offset (default 64 MiB; the receiver's is also honoured). */
  readonly windowBytes?: number;
  /**
   * External pacing rate in bytes/s (pba's allocation), asked every control
   * interval; `undefined` or `Infinity` means unpaced. Overrides the model rate.
   */
  readonly rate?: () => number | undefined;
  /** Pace at the model rate (1.25 × bottleneck-bandwidth estimate) after the first second. Default: on in `internet` mode. */
  readonly modelPacing?: boolean;
  /** Polite: hold the preset's minimum lane count (one by default): at most one TCP flow's share against competing traffic. */
  readonly polite?: boolean;
  /** Control-loop period (default 250 ms, or 4 path RTTs if longer, at most 2 s). */
  readonly controlIntervalMs?: number;
  /** Progress period (default 250 ms). */
  readonly progressIntervalMs?: number;
  /** How long to keep redialling once every lane has died (default 30 s). */
  readonly resumeWindowMs?: number;
  /** Corrupt-chunk refusals tolerated before failing with `AMST_TOO_MANY_CORRUPT_CHUNKS` (default 32). */
  readonly maxCorruptChunks?: number;
  /** Resume an earlier transfer: its id (the `transferId` of the result or error details). */
  readonly resumeToken?: string;
  /** Cancels the transfer: it then rejects with `AMST_ABORTED`. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: TransferProgress) => void;
  /** Link samples for pba and the mode detector, one per control interval. */
  readonly onLinkSample?: (s: LinkSample) => void;
  /** Where counters go (default: nowhere). */
  readonly metrics?: Metrics;
  /** Debug logging (default: none). */
  readonly logger?: Logger;
}
