import {
  type Clock,
  CoreErrorCode,
  NovacronError,
  type OperationOptions,
  ProviderErrorCode,
  abortedError,
  assertNumber,
  assertString,
  isNovacronError,
  providerError,
} from '@novacron/core';

/** Options for {@link OperationRunner}. */
export interface OperationRunnerInit {
  /** Time base for timeouts. */
  readonly clock: Clock;
  /** Timeout applied when a call gives none, in milliseconds. */
  readonly defaultTimeoutMs: number;
  /** How many idempotency keys to remember (oldest forgotten first; default 4096). */
  readonly maxKeys?: number;
}

interface KeyEntry {
  readonly fingerprint: string;
  readonly outcome: Promise<unknown>;
}

/**
 * Runs provider operations with the contract's uniform semantics, so every
 * adapter gets them right the same way:
 *
 * - an already-aborted signal rejects with `CORE_ABORTED` before anything runs;
 * - the operation gets one `AbortSignal` that fires on the caller's abort or
 *   on the timeout (`CORE_TIMEOUT`), and the caller's promise rejects at once
 *   either way;
 * - operations on the same VM run one at a time, in call order;
 * - an idempotency key replays the first outcome for the same request
 *   (joining it while it runs) and is a `Conflict` for a different one. A
 *   key whose operation failed is forgotten, so a retry runs again.
 */
export class OperationRunner {
  readonly #clock: Clock;
  readonly #defaultTimeoutMs: number;
  readonly #maxKeys: number;
  readonly #keys = new Map<string, KeyEntry>();
  readonly #tails = new Map<string, Promise<void>>();

  constructor(init: OperationRunnerInit) {
    assertNumber('defaultTimeoutMs', init.defaultTimeoutMs, { min: 0 });
    this.#clock = init.clock;
    this.#defaultTimeoutMs = init.defaultTimeoutMs;
    this.#maxKeys = init.maxKeys ?? 4096;
  }

  /**
   * Runs `body` as operation `op` on `lockKey` (a VM id, or `undefined` for
   * no serialization). `request` identifies the request for idempotency
   * (op name and arguments); `body` receives the combined signal.
   */
  run<T>(
    op: string,
    lockKey: string | undefined,
    request: unknown,
    options: OperationOptions | undefined,
    body: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const opts = options ?? {};
    if (opts.timeoutMs !== undefined) assertNumber('options.timeoutMs', opts.timeoutMs, { min: 0 });
    if (opts.signal?.aborted) return Promise.reject(abortedError(opts.signal));
    const key = opts.idempotencyKey;
    if (key === undefined) return this.#execute(lockKey, opts, body);
    assertString('options.idempotencyKey', key, { nonEmpty: true, maxLength: 256 });
    const fingerprint = `${op}:${fingerprintOf(request)}`;
    const prior = this.#keys.get(key);
    if (prior) {
      if (prior.fingerprint !== fingerprint)
        return Promise.reject(
          providerError(ProviderErrorCode.Conflict, `idempotency key ${key} was used for a different request`, {
            idempotencyKey: key,
          }),
        );
      return prior.outcome as Promise<T>;
    }
    const outcome = this.#execute(lockKey, opts, body);
    this.#keys.set(key, { fingerprint, outcome });
    if (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value as string);
    outcome.catch(() => {
      if (this.#keys.get(key)?.outcome === outcome) this.#keys.delete(key);
    });
    return outcome;
  }

  #execute<T>(lockKey: string | undefined, opts: OperationOptions, body: (signal: AbortSignal) => Promise<T>) {
    const controller = new AbortController();
    let failure: NovacronError | undefined;
    let rejectEarly!: (err: Error) => void;
    const early = new Promise<never>((_, reject) => {
      rejectEarly = reject;
    });
    early.catch(() => undefined);
    const fail = (err: NovacronError) => {
      if (failure) return;
      failure = err;
      controller.abort(err);
      rejectEarly(err);
    };
    const onAbort = () => fail(abortedError(opts.signal));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = opts.timeoutMs ?? this.#defaultTimeoutMs;
    const timer = this.#clock.setTimeout(
      () =>
        fail(
          new NovacronError(CoreErrorCode.TIMEOUT, `operation timed out after ${timeoutMs} ms`, {
            details: { timeoutMs },
          }),
        ),
      timeoutMs,
    );

    const previous = lockKey === undefined ? Promise.resolve() : (this.#tails.get(lockKey) ?? Promise.resolve());
    const work = previous.then(() => {
      if (failure) throw failure;
      return body(controller.signal);
    });
    if (lockKey !== undefined) {
      // The next operation on this VM waits for this one's body to settle, not for the caller's early rejection.
      const tail = work.then(
        () => undefined,
        () => undefined,
      );
      this.#tails.set(lockKey, tail);
      void tail.then(() => {
        if (this.#tails.get(lockKey) === tail) this.#tails.delete(lockKey);
      });
    }
    return Promise.race([work, early]).finally(() => {
      timer.cancel();
      opts.signal?.removeEventListener('abort', onAbort);
    });
  }
}

/** True for errors after which the same request may simply be retried. */
export function isRetryable(err: unknown): boolean {
  return isNovacronError(err, ProviderErrorCode.Transient) || isNovacronError(err, CoreErrorCode.TIMEOUT);
}

/** A stable text form of a request for idempotency comparisons (sorted keys; bytes by length and sum). */
function fingerprintOf(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) {
      let sum = 0;
      for (let i = 0; i < v.length; i++) sum = (sum * 31 + v[i]!) >>> 0;
      return `bytes:${v.length}:${sum}`;
    }
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { write?: unknown }).write !== 'function') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, o[k]]),
      );
    }
    if (v && typeof v === 'object' && typeof (v as { write?: unknown }).write === 'function') return 'stream';
    return v;
  });
}
