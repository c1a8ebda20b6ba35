import { decodeMsgpack, encodeMsgpack, NovacronError, type ReplicatedStateMachine } from '@novacron/core';
import { AcpErrorCode } from '../errors.js';

/** A key-value command, as replicated through the log. */
export type KvCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: Uint8Array | null; readonly value: Uint8Array }
  | { readonly op: 'range'; readonly start: string; readonly end: string; readonly limit: number };

/** Result of a {@link KvCommand}: `get` → value or null; `delete`/`cas` → boolean; `range` → pairs; `put` → null. */
export type KvResult = Uint8Array | null | boolean | readonly (readonly [string, Uint8Array])[];

/** Encodes a command for `ConsensusGroup.propose` (`[op, ...args]` in MessagePack). */
export function encodeKvCommand(c: KvCommand): Uint8Array {
  switch (c.op) {
    case 'put':
      return encodeMsgpack(['put', c.key, c.value]);
    case 'get':
      return encodeMsgpack(['get', c.key]);
    case 'delete':
      return encodeMsgpack(['delete', c.key]);
    case 'cas':
      return encodeMsgpack(['cas', c.key, c.expected, c.value]);
    case 'range':
      return encodeMsgpack(['range', c.start, c.end, c.limit]);
  }
}

const invalid = (why: string) =>
  new NovacronError(AcpErrorCode.KV_COMMAND_INVALID, `kv: invalid command: ${why}`, { details: { why } });

/** Decodes a command; throws `ACP_KV_COMMAND_INVALID`. */
export function decodeKvCommand(bytes: Uint8Array): KvCommand {
  let v: unknown;
  try {
    v = decodeMsgpack(bytes);
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : 'not MessagePack');
  }
  if (!Array.isArray(v) || typeof v[0] !== 'string') throw invalid('not [op, ...]');
  const str = (x: unknown) => {
    if (typeof x !== 'string') throw invalid('expected a string key');
    return x;
  };
  const bin = (x: unknown) => {
    if (!(x instanceof Uint8Array)) throw invalid('expected a binary value');
    return x;
  };
  switch (v[0]) {
    case 'put':
      return { op: 'put', key: str(v[1]), value: bin(v[2]) };
    case 'get':
      return { op: 'get', key: str(v[1]) };
    case 'delete':
      return { op: 'delete', key: str(v[1]) };
    case 'cas':
      return { op: 'cas', key: str(v[1]), expected: v[2] === null ? null : bin(v[2]), value: bin(v[3]) };
    case 'range': {
      const limit = v[3];
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) throw invalid('bad range limit');
      return { op: 'range', start: str(v[1]), end: str(v[2]), limit };
    }
    default:
      throw invalid(`unknown op ${String(v[0]).slice(0, 32)}`);
  }
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** MessagePack `nil`. */
const MSGPACK_NIL = new Uint8Array([0xc0]);

/** Decodes a {@link KvResult} as returned by {@link KvStateMachine.apply}. */
export function decodeKvResult(bytes: Uint8Array): KvResult {
  return bytes.length === 1 && bytes[0] === 0xc0 ? null : (decodeMsgpack(bytes) as KvResult);
}

/**
 * A key-value store as a {@link ReplicatedStateMachine}: put, get, delete,
 * compare-and-swap and range over string keys with binary values.
 * Snapshots are the sorted pairs in MessagePack. A malformed command
 * applies as a no-op with a `null` result (the log must never stall on it).
 */
export class KvStateMachine implements ReplicatedStateMachine {
  readonly #data = new Map<string, Uint8Array>();

  /** Applies one encoded {@link KvCommand}; returns the encoded {@link KvResult}. */
  apply(command: Uint8Array): Uint8Array {
    let c: KvCommand;
    try {
      c = decodeKvCommand(command);
    } catch {
      return MSGPACK_NIL.slice();
    }
    const result = this.execute(c);
    // Puts, the common case, answer nil: no encoder run per write.
    return result === null ? MSGPACK_NIL.slice() : encodeMsgpack(result);
  }

  /** Runs a command against the local state (reads after a `ConsensusGroup.read` barrier are linearizable). */
  execute(c: KvCommand): KvResult {
    switch (c.op) {
      case 'put':
        this.#data.set(c.key, c.value);
        return null;
      case 'get':
        return this.#data.get(c.key) ?? null;
      case 'delete':
        return this.#data.delete(c.key);
      case 'cas': {
        const cur = this.#data.get(c.key);
        const matches = c.expected === null ? cur === undefined : cur !== undefined && equalBytes(cur, c.expected);
        if (matches) this.#data.set(c.key, c.value);
        return matches;
      }
      case 'range': {
        const keys = [...this.#data.keys()].filter((k) => k >= c.start && (c.end === '' || k < c.end)).sort();
        return keys.slice(0, c.limit === 0 ? undefined : c.limit).map((k) => [k, this.#data.get(k)!] as const);
      }
    }
  }

  /** Local read of one key (no barrier). */
  get(key: string): Uint8Array | null {
    return this.#data.get(key) ?? null;
  }

  /** Number of keys. */
  get size(): number {
    return this.#data.size;
  }

  snapshot(): Uint8Array {
    return encodeMsgpack([...this.#data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  restore(snapshot: Uint8Array): void {
    const pairs = decodeMsgpack(snapshot) as [string, Uint8Array][];
    this.#data.clear();
    for (const [k, v] of pairs) this.#data.set(k, v);
  }
}
