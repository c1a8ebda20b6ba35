import { type Clock, NovacronError, assertNumber, assertString, isNovacronError } from '@novacron/core';
import { PbaErrorCode } from '../errors.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';

/** Named numeric features or outputs: the whole vocabulary of the bridge. */
export type Features = Readonly<Record<string, number>>;

/** Protocol version spoken by {@link RemoteModel} (docs/protocol/pba-bridge.md). */
export const BRIDGE_PROTOCOL_VERSION = 1;
/** Largest response body accepted, in bytes. */
export const MAX_BRIDGE_RESPONSE_BYTES = 64 * 1024;
/** Most features or outputs in one message. */
export const MAX_BRIDGE_FIELDS = 256;
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The `fetch` the bridge needs (the global one by default; injectable for tests). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<BridgeHttpResponse>;

/** The part of a fetch `Response` the bridge reads. */
export interface BridgeHttpResponse {
  readonly ok: boolean;
  readonly status: number;
  /** When present (real fetch), read with a size limit instead of `text()`. */
  readonly body?: {
    getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> };
  } | null;
  text(): Promise<string>;
}

/** Options of {@link RemoteModel}. */
export interface RemoteModelOptions {
  /** Base URL of the model service, e.g. `http://127.0.0.1:8500`; requests go to `<url>/v1/predict`. */
  readonly url: string;
  /** Times the timeout and the breaker. */
  readonly clock: Clock;
  /** Per-call deadline in ms (default 80, so a fallback decision lands within 100 ms). */
  readonly timeoutMs?: number;
  /** Circuit breaker settings. */
  readonly breaker?: CircuitBreakerOptions;
  /** HTTP client (default: global `fetch`). */
  readonly fetch?: FetchLike;
}

/** The outcome of {@link RemoteModel.predictOr}: where the outputs came from, and why when not remote. */
export interface BridgeResult {
  /** The outputs used. */
  readonly outputs: Features;
  /** `remote` when the service answered, `fallback` otherwise. */
  readonly source: 'remote' | 'fallback';
  /** Why the fallback was used (a `PBA_BRIDGE_*` error). */
  readonly error?: NovacronError;
}

/**
 * A client for a model served outside the process over HTTP/JSON (schema
 * in docs/protocol/pba-bridge.md): named numeric features in, named
 * numeric outputs out. Every call has a deadline and passes a circuit
 * breaker; `predictOr` turns any failure (timeout, refused connection,
 * HTTP error, malformed answer, open circuit) into the caller's local
 * fallback, so no decision waits on, or is lost to, a slow or dead
 * service. pba's `RemotePredictor` is built on it; itp's learned scorer
 * reuses it.
 */
export class RemoteModel {
  private readonly endpoint: string;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly fetchFn: FetchLike;
  /** The breaker guarding the service. */
  readonly breaker: CircuitBreaker;

  constructor(options: RemoteModelOptions) {
    assertString('options.url', options.url, { nonEmpty: true, maxLength: 2048 });
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch (cause) {
      throw new NovacronError('CORE_INVALID_ARGUMENT', 'options.url: expected an http(s) URL', {
        cause,
        details: { argument: 'options.url' },
      });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new NovacronError('CORE_INVALID_ARGUMENT', 'options.url: expected an http(s) URL', {
        details: { argument: 'options.url' },
      });
    this.endpoint = `${options.url.replace(/\/+$/, '')}/v1/predict`;
    this.clock = options.clock;
    this.timeoutMs = options.timeoutMs ?? 80;
    assertNumber('options.timeoutMs', this.timeoutMs, { min: 1, max: 600_000 });
    this.fetchFn = options.fetch ?? (globalThis.fetch as unknown as FetchLike);
    this.breaker = new CircuitBreaker(options.clock, options.breaker);
  }

  /** The breaker's state. */
  get circuit(): CircuitState {
    return this.breaker.state;
  }

  /**
   * Asks the service for `model`'s outputs. Rejects with
   * `PBA_BRIDGE_CIRCUIT_OPEN`, `PBA_BRIDGE_TIMEOUT`,
   * `PBA_BRIDGE_UNAVAILABLE` or `PBA_BRIDGE_MALFORMED`.
   */
  async predict(model: string, features: Features): Promise<Features> {
    assertString('model', model, { nonEmpty: true, maxLength: 64 });
    checkFields('features', features, (why) => new NovacronError('CORE_INVALID_ARGUMENT', `features: ${why}`));
    if (!this.breaker.tryAcquire())
      throw new NovacronError(PbaErrorCode.BRIDGE_CIRCUIT_OPEN, 'model service circuit is open', {
        details: { url: this.endpoint },
      });
    try {
      const outputs = await this.call(model, features);
      this.breaker.success();
      return outputs;
    } catch (err) {
      this.breaker.failure();
      throw err;
    }
  }

  /** {@link predict}, or `fallback()` when it fails for any bridge reason. */
  async predictOr(model: string, features: Features, fallback: () => Features): Promise<BridgeResult> {
    try {
      return { outputs: await this.predict(model, features), source: 'remote' };
    } catch (err) {
      if (!isNovacronError(err) || !err.code.startsWith('PBA_BRIDGE_')) throw err;
      return { outputs: fallback(), source: 'fallback', error: err };
    }
  }

  private call(model: string, features: Features): Promise<Features> {
    const controller = new AbortController();
    return new Promise<Features>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        controller.abort();
        reject(
          new NovacronError(PbaErrorCode.BRIDGE_TIMEOUT, `model service did not answer within ${this.timeoutMs} ms`, {
            details: { url: this.endpoint, timeoutMs: this.timeoutMs },
          }),
        );
      }, this.timeoutMs);
      const body = JSON.stringify({ version: BRIDGE_PROTOCOL_VERSION, model, features });
      this.fetchFn(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: controller.signal,
      })
        .then(async (res) => {
          if (!res.ok)
            throw new NovacronError(PbaErrorCode.BRIDGE_UNAVAILABLE, `model service answered HTTP ${res.status}`, {
              details: { url: this.endpoint, status: res.status },
            });
          return parseResponse(await readLimited(res));
        })
        .then(
          (outputs) => {
            timer.cancel();
            resolve(outputs);
          },
          (err: unknown) => {
            timer.cancel();
            reject(
              isNovacronError(err)
                ? err
                : new NovacronError(PbaErrorCode.BRIDGE_UNAVAILABLE, 'model service unreachable', {
                    cause: err,
                    details: { url: this.endpoint },
                  }),
            );
          },
        );
    });
  }
}

/**
 * Reads a response body, giving up with `PBA_BRIDGE_MALFORMED` as soon as
 * it passes {@link MAX_BRIDGE_RESPONSE_BYTES}, so a hostile or broken
 * service cannot make the client buffer without bound.
 */
async function readLimited(res: BridgeHttpResponse): Promise<string> {
  if (!res.body) return res.text();
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!value) continue;
    total += value.length;
    if (total > MAX_BRIDGE_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw new NovacronError(PbaErrorCode.BRIDGE_MALFORMED, 'model service response: too large', {
        details: { reason: 'too large', limit: MAX_BRIDGE_RESPONSE_BYTES },
      });
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
}

function checkFields(what: string, value: unknown, fail: (why: string) => Error): asserts value is Features {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('not an object');
  const entries = Object.entries(value);
  if (entries.length > MAX_BRIDGE_FIELDS) throw fail(`more than ${MAX_BRIDGE_FIELDS} ${what}`);
  for (const [k, v] of entries) {
    if (!NAME.test(k)) throw fail(`bad name ${JSON.stringify(k.slice(0, 80))}`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(`${k} is not a finite number`);
  }
}

/** Parses and validates a response body; throws `PBA_BRIDGE_MALFORMED`. */
export function parseResponse(text: string): Features {
  const malformed = (why: string, cause?: unknown) =>
    new NovacronError(PbaErrorCode.BRIDGE_MALFORMED, `model service response: ${why}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { reason: why },
    });
  if (text.length > MAX_BRIDGE_RESPONSE_BYTES) throw malformed('too large');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw malformed('not JSON', cause);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw malformed('not an object');
  const msg = json as Record<string, unknown>;
  if (msg.version !== BRIDGE_PROTOCOL_VERSION) throw malformed(`unsupported version ${String(msg.version)}`);
  const outputs = msg.outputs;
  checkFields('outputs', outputs, (why) => malformed(why));
  return Object.freeze({ ...outputs });
}
