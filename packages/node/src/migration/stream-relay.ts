import {
  AmstReceiver,
  noneCodec,
  type TransferProgress,
  type TransferResult,
  type TransferSink,
  sendTransfer,
} from '@novacron/amst';
import {
  type ChunkCodec,
  type Clock,
  type Duplex,
  type LinkEstimate,
  type LinkMode,
  type LinkSample,
  type Logger,
  type Metrics,
  type MigrationResult,
  type Rng,
  type StreamMigrationOptions,
  type StreamTransport,
  type VmProvider,
  isNovacronError,
  systemClock,
} from '@novacron/core';
import { hdeCodec } from '@novacron/hde';
import { StreamRelayErrorCode, streamRelayError } from './stream-errors.js';
import { StreamRelayHeaderReader, encodeStreamRelayHeader } from './stream-header.js';
import { boundedDuplexPair } from './stream-pair.js';

/**
 * Bytes amst may hold beyond what the destination backend has consumed, by
 * link mode. Kept near one bandwidth-delay product: every byte of slack is
 * a byte the source believes delivered, and at switchover it must still
 * cross the path while the VM is stopped.
 */
export const STREAM_RELAY_WINDOW: Readonly<Record<LinkMode, number>> = {
  datacenter: 2 * 1024 * 1024,
  hybrid: 4 * 1024 * 1024,
  internet: 8 * 1024 * 1024,
};

/**
 * The source's codec by link mode: raw chunks in `datacenter` mode, where the
 * link outruns the CPU (hde's per-chunk framing halved the relay's loopback
 * throughput in bench measurements, 44 vs 89 MiB/s, even when its selector
 * then sent the bytes uncompressed), and {@link hdeCodec} with its selector
 * on `hybrid` and `internet` links. The destination decodes both.
 */
export function defaultStreamRelayCodec(mode: LinkMode): ChunkCodec {
  return mode === 'datacenter' ? noneCodec() : hdeCodec();
}

/** How long a finished receiver waits for the sender to close its lanes before resetting them. */
const LANE_CLOSE_GRACE_MS = 5_000;

/** Default bytes each in-process pipe (provider ↔ relay, at each end) holds. */
export const STREAM_RELAY_BUFFER = 256 * 1024;

/** Options both halves of the relay take. */
export interface StreamRelayOptions {
  /** Carries the amst lanes (TCP or TLS in production, memory in tests). */
  readonly transport: StreamTransport;
  /** The migration this stream belongs to; both halves must name the same one. */
  readonly migrationId: string;
  /**
   * Chunk codec. Default on the source: {@link defaultStreamRelayCodec} of
   * the mode; on the destination {@link hdeCodec}, which also takes raw chunks.
   */
  readonly codec?: ChunkCodec;
  /** Link mode: lane preset, codec context and default window (default `datacenter`). */
  readonly mode?: LinkMode;
  /** amst window in bytes (default {@link STREAM_RELAY_WINDOW} of the mode). */
  readonly windowBytes?: number;
  /** Bytes each in-process pipe holds (default {@link STREAM_RELAY_BUFFER}). */
  readonly bufferBytes?: number;
  /**
   * How long amst keeps a transfer whose lanes all died, waiting for the
   * sender to redial and resume it (default amst's, 30 s). A migration
   * cannot outlive QEMU's own patience, so keep it short.
   */
  readonly resumeWindowMs?: number;
  /** Time source (default: the system clock). */
  readonly clock?: Clock;
  /** Cancels the relay: it then rejects with `NODE_STREAM_RELAY_ABORTED` and the provider's stream is reset. */
  readonly signal?: AbortSignal;
  /** Debug logging. */
  readonly logger?: Logger;
  /** Counters of the amst transfer. */
  readonly metrics?: Metrics;
}

/** Options of the source half. */
export interface StreamRelaySendOptions extends StreamRelayOptions {
  /** The destination relay's address ({@link StreamRelayReceiver.address}). */
  readonly address: string;
  /** The VM being migrated (written into the header). */
  readonly vmId: string;
  /** Fixed lane count or `adaptive` (default: amst decides within the mode's preset). */
  readonly lanes?: number | 'adaptive';
  /** Raw bytes per amst chunk (amst's default for the mode otherwise). */
  readonly chunkSize?: number;
  /** pba's rate for this migration in bytes/s, asked every control interval (unpaced when absent). */
  readonly rate?: () => number | undefined;
  /** Latest link estimate, for the codec. */
  readonly link?: () => LinkEstimate | undefined;
  /** Seeds the amst transfer id. */
  readonly rng?: Rng;
  /** amst progress, four times a second. */
  readonly onProgress?: (p: TransferProgress) => void;
  /** Link samples for pba and the mode detector. */
  readonly onLinkSample?: (s: LinkSample) => void;
}

/** What the source half of the relay moved. */
export interface StreamRelaySendResult {
  /** Backend bytes carried (the relay header excluded). */
  readonly bytes: number;
  /** Bytes amst put on the wire (encoded chunks, headers, retransmissions). */
  readonly wireBytes: number;
  /** The amst transfer's own report. */
  readonly transfer: TransferResult;
}

/** The source half, open: give `stream` to `provider.migrateSend`, then await `done`. */
export interface StreamRelaySender {
  /** The provider's end: what the backend writes here crosses the lanes. */
  readonly stream: Duplex;
  /** Resolves when the destination relay has delivered every byte. */
  readonly done: Promise<StreamRelaySendResult>;
}

/** Options of the destination half. */
export interface StreamRelayReceiveOptions extends StreamRelayOptions {
  /** Where to listen (`0.0.0.0:0`, `127.0.0.1:0`, a memory host). */
  readonly listenAddress: string;
}

/** What the destination half of the relay delivered. */
export interface StreamRelayReceiveResult {
  /** Backend bytes handed to the provider (the relay header excluded). */
  readonly bytes: number;
  /** The VM id the source put in the header. */
  readonly vmId: string;
  /** The amst transfer id. */
  readonly transferId: string;
}

/** The destination half, listening: tell the source `address`, give `stream` to `provider.migrateReceive`. */
export interface StreamRelayReceiver {
  /** The address actually bound. */
  readonly address: string;
  /** The provider's end: it yields the source backend's bytes in order. */
  readonly stream: Duplex;
  /** Resolves once every byte was handed to the provider's end (the listener and lanes are then released in the background; await {@link StreamRelayReceiver.close} to wait for that). */
  readonly done: Promise<StreamRelayReceiveResult>;
  /** Stops listening and resets the provider's end if the stream is not complete. Idempotent. */
  close(): Promise<void>;
}

function positive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value > 0))
    throw streamRelayError(StreamRelayErrorCode.INVALID_OPTIONS, `${name} must be a positive integer`, {
      option: name,
      value,
    });
}

function validate(o: StreamRelayOptions): void {
  if (typeof o.migrationId !== 'string' || o.migrationId.length === 0)
    throw streamRelayError(StreamRelayErrorCode.INVALID_OPTIONS, 'migrationId must be a non-empty string', {
      option: 'migrationId',
    });
  positive('windowBytes', o.windowBytes);
  positive('bufferBytes', o.bufferBytes);
  positive('resumeWindowMs', o.resumeWindowMs);
}

/** Maps a failure to what the relay reports: aborts by our signal as ABORTED, typed errors as they are. */
function relayFailure(err: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return streamRelayError(StreamRelayErrorCode.ABORTED, 'stream relay aborted', {}, signal.reason);
  if (isNovacronError(err)) return err;
  return streamRelayError(StreamRelayErrorCode.FAILED, `stream relay failed: ${String(err)}`, {}, err);
}

/**
 * Opens the source half of a stream-style migration relay: a bounded
 * in-process pipe whose far end is read into one amst transfer (lanes,
 * hde chunks) to the destination relay at `address`. The transfer starts
 * with a relay header (docs/protocol/stream-relay.md) naming the migration.
 *
 * Backpressure reaches the backend: the pipe holds `bufferBytes`, amst
 * reads from it only within `windowBytes` of what the destination has
 * handed on, and the destination hands on only as fast as its backend
 * reads, so QEMU's own bandwidth estimate is the path's.
 *
 * ```ts
 * const relay = await openStreamRelaySend({ transport, address, migrationId, vmId: 'vm-1', mode: 'internet' });
 * const [migration, carried] = await Promise.all([provider.migrateSend('vm-1', relay.stream, opts), relay.done]);
 * ```
 */
export async function openStreamRelaySend(options: StreamRelaySendOptions): Promise<StreamRelaySender> {
  validate(options);
  positive('chunkSize', options.chunkSize);
  const mode = options.mode ?? 'datacenter';
  const header = encodeStreamRelayHeader({ migrationId: options.migrationId, vmId: options.vmId });
  const [providerEnd, relayEnd] = await boundedDuplexPair(options.bufferBytes ?? STREAM_RELAY_BUFFER);
  const signal = options.signal;
  let carried = 0;
  async function* source(): AsyncGenerator<Uint8Array> {
    yield header;
    for await (const piece of relayEnd) {
      carried += piece.length;
      yield piece;
    }
  }
  const onAbort = () => relayEnd.abort(streamRelayError(StreamRelayErrorCode.ABORTED, 'stream relay aborted'));
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const done = (async () => {
    try {
      const transfer = await sendTransfer({
        transport: options.transport,
        address: options.address,
        source: source(),
        codec: options.codec ?? defaultStreamRelayCodec(mode),
        mode,
        windowBytes: options.windowBytes ?? STREAM_RELAY_WINDOW[mode],
        ...(options.lanes !== undefined ? { lanes: options.lanes } : {}),
        ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
        ...(options.resumeWindowMs !== undefined ? { resumeWindowMs: options.resumeWindowMs } : {}),
        ...(options.rate ? { rate: options.rate } : {}),
        ...(options.link ? { link: options.link } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.rng ? { rng: options.rng } : {}),
        ...(signal ? { signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.onLinkSample ? { onLinkSample: options.onLinkSample } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        ...(options.metrics ? { metrics: options.metrics } : {}),
      });
      await relayEnd.close().catch(() => undefined);
      return { bytes: carried, wireBytes: transfer.wireBytes, transfer };
    } catch (err) {
      const failure = relayFailure(err, signal);
      // The backend must not keep writing into a stream nobody carries.
      relayEnd.abort(failure);
      throw failure;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  })();
  done.catch(() => undefined);
  return { stream: providerEnd, done };
}

/**
 * Opens the destination half: an amst receiver on `listenAddress` that
 * accepts the one transfer whose relay header names `migrationId` and
 * hands its bytes, in order, to a bounded in-process pipe whose other end
 * (`stream`) the destination provider reads. A malformed header fails
 * `done` with `NODE_STREAM_RELAY_HEADER_CORRUPT`, another migration's with
 * `NODE_STREAM_RELAY_MIGRATION_MISMATCH` (the sender then sees amst's
 * `AMST_SINK_FAILED`); either way the provider's stream is reset.
 */
export async function openStreamRelayReceive(options: StreamRelayReceiveOptions): Promise<StreamRelayReceiver> {
  validate(options);
  const mode = options.mode ?? 'datacenter';
  const signal = options.signal;
  if (signal?.aborted) throw relayFailure(signal.reason, signal);
  const [providerEnd, relayEnd] = await boundedDuplexPair(options.bufferBytes ?? STREAM_RELAY_BUFFER);
  let settle!: { resolve: (r: StreamRelayReceiveResult) => void; reject: (e: Error) => void };
  const outcome = new Promise<StreamRelayReceiveResult>((resolve, reject) => {
    settle = { resolve, reject };
  });
  outcome.catch(() => undefined);
  let taken = false;
  let finished = false;
  const fail = (err: Error) => {
    if (finished) return;
    finished = true;
    relayEnd.abort(err);
    settle.reject(err);
  };
  const sinkFor = (transferId: string): TransferSink => {
    const reader = new StreamRelayHeaderReader();
    let vmId: string | undefined;
    let bytes = 0;
    const refuse = (err: Error): never => {
      fail(err);
      throw err;
    };
    return {
      async write(data) {
        if (finished) refuse(streamRelayError(StreamRelayErrorCode.ABORTED, 'stream relay closed'));
        let payload = data;
        if (vmId === undefined) {
          let read: ReturnType<StreamRelayHeaderReader['push']>;
          try {
            read = reader.push(data);
          } catch (err) {
            return refuse(err as Error);
          }
          if (!read) return;
          if (read.header.migrationId !== options.migrationId)
            refuse(
              streamRelayError(StreamRelayErrorCode.MIGRATION_MISMATCH, 'stream belongs to another migration', {
                expected: options.migrationId,
                got: read.header.migrationId,
              }),
            );
          vmId = read.header.vmId;
          payload = read.rest;
        }
        if (payload.length === 0) return;
        bytes += payload.length;
        try {
          await relayEnd.write(payload);
        } catch (err) {
          refuse(relayFailure(err, signal));
        }
      },
      async close() {
        if (vmId === undefined)
          refuse(
            streamRelayError(StreamRelayErrorCode.HEADER_CORRUPT, 'stream ended inside the relay header', {
              reason: 'truncated',
            }),
          );
        await relayEnd.closeWrite();
        if (finished) return;
        finished = true;
        settle.resolve({ bytes, vmId: vmId!, transferId });
      },
      abort(error) {
        fail(relayFailure(error, signal));
      },
    };
  };
  // Lanes are tracked so a finished relay can wait, in the background, for the
  // sender to end them: stopping at once would drop amst's final acknowledgement.
  const lanesRead = new Set<Promise<void>>();
  const transport: StreamTransport = {
    name: options.transport.name,
    dial: (address, dialOptions) => options.transport.dial(address, dialOptions),
    listen: (address, handler) =>
      options.transport.listen(address, (lane) => {
        const tracked = readTracked(lane);
        lanesRead.add(tracked.readDone);
        handler(tracked.lane);
      }),
  };
  const receiver = new AmstReceiver({
    transport,
    listenAddress: options.listenAddress,
    codec: options.codec ?? hdeCodec(),
    mode,
    windowBytes: options.windowBytes ?? STREAM_RELAY_WINDOW[mode],
    ...(options.resumeWindowMs !== undefined ? { resumeWindowMs: options.resumeWindowMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    onTransfer: (t) => {
      if (taken) {
        const err = streamRelayError(StreamRelayErrorCode.MIGRATION_MISMATCH, 'this relay already carries a stream', {
          expected: options.migrationId,
        });
        return {
          write: () => Promise.reject(err),
          close: () => Promise.reject(err),
        };
      }
      taken = true;
      return sinkFor(t.transferId);
    },
  });
  await receiver.start();
  const onAbort = () => fail(relayFailure(signal?.reason, signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  let stopped: Promise<void> | undefined;
  const close = () => {
    stopped ??= (async () => {
      signal?.removeEventListener('abort', onAbort);
      if (!finished)
        fail(streamRelayError(StreamRelayErrorCode.ABORTED, 'stream relay closed before the stream ended'));
      else if (lanesRead.size > 0) {
        const clock = options.clock ?? systemClock();
        let timer: { cancel(): void } | undefined;
        await Promise.race([
          Promise.all(lanesRead),
          new Promise<void>((resolve) => {
            timer = clock.setTimeout(resolve, LANE_CLOSE_GRACE_MS);
          }),
        ]);
        timer?.cancel();
      }
      await receiver.stop();
    })();
    return stopped;
  };
  // The provider has every byte when the sink closes: report it then, and release the lanes behind.
  void outcome.then(close, close).catch(() => undefined);
  return { address: receiver.address ?? options.listenAddress, stream: providerEnd, done: outcome, close };
}

/** The same lane, with a promise that settles once its reader has seen the end (or an error). */
function readTracked(lane: Duplex): { lane: Duplex; readDone: Promise<void> } {
  let ended!: () => void;
  const readDone = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const tracked: Duplex = {
    localAddress: lane.localAddress,
    remoteAddress: lane.remoteAddress,
    ...(lane.remoteNodeId !== undefined ? { remoteNodeId: lane.remoteNodeId } : {}),
    closed: lane.closed,
    write: (data) => lane.write(data),
    closeWrite: () => lane.closeWrite(),
    close: () => lane.close(),
    abort: (reason) => lane.abort(reason),
    async *[Symbol.asyncIterator]() {
      try {
        yield* lane;
      } finally {
        ended();
      }
    },
  };
  void lane.closed.then(ended, ended);
  return { lane: tracked, readDone };
}

/** The source half run to completion: the provider's migration and the relay's carriage. */
export interface StreamMigrationSendOutcome {
  /** The provider's report (QEMU's final `query-migrate` in `stats`). */
  readonly migration: MigrationResult;
  /** What the relay carried and put on the wire. */
  readonly relay: StreamRelaySendResult;
}

/**
 * The whole source half of a stream-style migration: opens the relay to
 * `address` and runs `provider.migrateSend(vmId, ...)` through it with
 * `migration` (capabilities and parameters: see `chooseStreamCapabilities`).
 * Rejects when either fails; the other is then cancelled (the provider
 * cancels QEMU's migration and the VM keeps running at the source).
 */
export async function relayStreamSend(
  options: StreamRelaySendOptions & { readonly provider: VmProvider; readonly migration?: StreamMigrationOptions },
): Promise<StreamMigrationSendOutcome> {
  const inner = new AbortController();
  const outer = options.signal;
  const onAbort = () => inner.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  outer?.addEventListener('abort', onAbort, { once: true });
  try {
    const relay = await openStreamRelaySend({ ...options, signal: inner.signal });
    const migration = options.provider.migrateSend(options.vmId, relay.stream, {
      ...options.migration,
      signal: inner.signal,
    });
    return await bothOrCancel(migration, relay.done, inner, outer, (migration, relay) => ({ migration, relay }));
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
}

/** The destination half run to completion. */
export interface StreamMigrationReceiveOutcome {
  /** The provider's report; the VM is now `paused`, to be resumed once ownership has moved. */
  readonly migration: MigrationResult;
  /** What the relay delivered. */
  readonly relay: StreamRelayReceiveResult;
}

/**
 * The whole destination half: listens (resolving with the bound `address`
 * at once, for the source to dial) and feeds the relayed stream into
 * `provider.migrateReceive(vmId, ...)`; `done` settles when both have.
 */
export async function relayStreamReceive(
  options: StreamRelayReceiveOptions & {
    readonly provider: VmProvider;
    readonly vmId: string;
    readonly migration?: StreamMigrationOptions;
  },
): Promise<{ readonly address: string; readonly done: Promise<StreamMigrationReceiveOutcome> }> {
  const inner = new AbortController();
  const outer = options.signal;
  const onAbort = () => inner.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  outer?.addEventListener('abort', onAbort, { once: true });
  let relay: StreamRelayReceiver;
  try {
    relay = await openStreamRelayReceive({ ...options, signal: inner.signal });
  } catch (err) {
    outer?.removeEventListener('abort', onAbort);
    throw err;
  }
  const migration = options.provider.migrateReceive(options.vmId, relay.stream, {
    ...options.migration,
    signal: inner.signal,
  });
  const done = bothOrCancel(migration, relay.done, inner, outer, (migration, relay) => ({ migration, relay })).finally(
    () => {
      outer?.removeEventListener('abort', onAbort);
      void relay.close();
    },
  );
  done.catch(() => undefined);
  return { address: relay.address, done };
}

/** Awaits both; the first failure cancels the other, and the reported error is the root cause. */
async function bothOrCancel<A, B, R>(
  a: Promise<A>,
  b: Promise<B>,
  inner: AbortController,
  outer: AbortSignal | undefined,
  combine: (a: A, b: B) => R,
): Promise<R> {
  let first: unknown;
  const watch = <T>(p: Promise<T>) =>
    p.catch((err: unknown) => {
      first ??= err;
      inner.abort(err);
      throw err;
    });
  const settled = await Promise.allSettled([watch(a), watch(b)]);
  if (settled[0].status === 'fulfilled' && settled[1].status === 'fulfilled')
    return combine(settled[0].value, settled[1].value);
  throw relayFailure(first, outer);
}
