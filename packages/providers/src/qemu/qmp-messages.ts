import { NovacronError } from '@novacron/core';
import { ProvidersErrorCode } from '../errors.js';

/** The greeting QEMU sends when a QMP client connects. */
export interface QmpGreeting {
  /** QEMU's version, e.g. `{ major: 10, minor: 0, micro: 2 }`. */
  readonly version: {
    readonly major: number;
    readonly minor: number;
    readonly micro: number;
    readonly package: string;
  };
  /** Optional protocol capabilities offered (`oob`, ...). */
  readonly capabilities: readonly string[];
}

/** An asynchronous QMP event. */
export interface QmpEvent {
  /** Event name, e.g. `STOP`, `MIGRATION`. */
  readonly event: string;
  /** Event data (an object; empty when QEMU sends none). */
  readonly data: Readonly<Record<string, unknown>>;
  /** QEMU's timestamp in microseconds since the epoch (host wall clock). */
  readonly timestampUs: number;
}

/** One decoded server message. */
export type QmpServerMessage =
  | { readonly kind: 'greeting'; readonly greeting: QmpGreeting }
  | { readonly kind: 'return'; readonly id: string | undefined; readonly value: unknown }
  | { readonly kind: 'error'; readonly id: string | undefined; readonly errorClass: string; readonly desc: string }
  | { readonly kind: 'event'; readonly event: QmpEvent };

function protocolError(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
  return new NovacronError(ProvidersErrorCode.QMP_PROTOCOL, message, { details, cause });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Classifies one QMP line (QEMU's JSON, one object per line). Anything that
 * is not a greeting, a return, an error or an event fails with
 * `PROVIDERS_QMP_PROTOCOL`. Ids are whatever JSON the client sent; this
 * client only sends strings, so other ids come back as their JSON text.
 */
export function decodeQmpLine(line: string): QmpServerMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw protocolError('QMP line is not JSON', { length: line.length }, err);
  }
  if (!isObject(value)) throw protocolError('QMP message is not an object');
  const idOf = (v: unknown) => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));
  if ('QMP' in value) {
    const qmp = value.QMP;
    if (!isObject(qmp) || !isObject(qmp.version) || !isObject(qmp.version.qemu))
      throw protocolError('QMP greeting lacks a version');
    const v = qmp.version.qemu;
    const num = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : undefined);
    const major = num(v.major);
    const minor = num(v.minor);
    const micro = num(v.micro);
    if (major === undefined || minor === undefined || micro === undefined)
      throw protocolError('QMP greeting has a malformed version');
    const caps = Array.isArray(qmp.capabilities) ? qmp.capabilities.filter((c) => typeof c === 'string') : [];
    return {
      kind: 'greeting',
      greeting: {
        version: { major, minor, micro, package: typeof qmp.version.package === 'string' ? qmp.version.package : '' },
        capabilities: caps as string[],
      },
    };
  }
  if ('return' in value) return { kind: 'return', id: idOf(value.id), value: value.return };
  if ('error' in value) {
    const e = value.error;
    if (!isObject(e)) throw protocolError('QMP error is not an object');
    return {
      kind: 'error',
      id: idOf(value.id),
      errorClass: typeof e.class === 'string' ? e.class : 'GenericError',
      desc: typeof e.desc === 'string' ? e.desc : '',
    };
  }
  if ('event' in value) {
    if (typeof value.event !== 'string' || value.event.length === 0) throw protocolError('QMP event has no name');
    const ts = isObject(value.timestamp) ? value.timestamp : {};
    const seconds = typeof ts.seconds === 'number' ? ts.seconds : 0;
    const micros = typeof ts.microseconds === 'number' ? ts.microseconds : 0;
    return {
      kind: 'event',
      event: {
        event: value.event,
        data: isObject(value.data) ? value.data : {},
        timestampUs: seconds * 1e6 + micros,
      },
    };
  }
  throw protocolError('QMP message is neither a greeting, a return, an error nor an event');
}

/**
 * Splits a QMP byte stream into lines, refusing to buffer more than
 * `maxLineBytes` without a newline, so a peer that never ends a line cannot
 * make the client allocate without bound.
 */
export class QmpLineSplitter {
  readonly #maxLineBytes: number;
  readonly #decoder = new TextDecoder('utf-8', { fatal: false });
  #partial: Uint8Array[] = [];
  #partialBytes = 0;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /** Feeds bytes; returns the complete, non-blank lines they finish (without line endings). */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = chunk.subarray(start, nl);
      if (this.#partialBytes + piece.length > this.#maxLineBytes) throw this.#oversized();
      this.#partial.push(piece);
      const line = this.#decoder.decode(concat(this.#partial, this.#partialBytes + piece.length)).trim();
      this.#partial = [];
      this.#partialBytes = 0;
      if (line.length > 0) lines.push(line);
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.#partialBytes + rest.length > this.#maxLineBytes) throw this.#oversized();
      this.#partial.push(rest.slice());
      this.#partialBytes += rest.length;
    }
    return lines;
  }

  #oversized() {
    return protocolError(`QMP line exceeds ${this.#maxLineBytes} bytes`, { maxLineBytes: this.#maxLineBytes });
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
