import { invalidArgument } from '@novacron/core';
import type { HistoryOperation } from './history.js';

/**
 * The output the checker passes to {@link Model.step} for an operation whose
 * outcome is unknown. A model must then accept the step whenever the input
 * could have been applied, whatever it would have returned: an unknown read
 * constrains nothing, an unknown write still changes the state.
 */
export const UNKNOWN_OUTPUT: unique symbol = Symbol('novacron.check.unknown-output');

/** Type of {@link UNKNOWN_OUTPUT}. */
export type UnknownOutput = typeof UNKNOWN_OUTPUT;

/** Result of applying one operation to a model state. */
export interface ModelStepResult<S> {
  /** Whether the operation, returning the recorded output, is legal in the given state. */
  readonly ok: boolean;
  /** The state after the operation (meaningful only when `ok`). */
  readonly state: S;
}

/** A sub-history checked on its own (P-compositionality), e.g. the operations on one key. */
export interface HistoryPartition<I, O> {
  /** Names the partition in results and explanations (the key, for key-value models). */
  readonly key: string;
  /** Its operations; the checker keeps their real-time order. */
  readonly operations: readonly HistoryOperation<I, O>[];
}

/**
 * A sequential specification the linearizability checker tests histories
 * against. States must be immutable values: `step` returns a new state and
 * never changes the one it was given, because the search backtracks to old
 * states.
 *
 * Implement it to check any object: a queue, a lock, a log. Provide
 * `partition` when the object is a product of independent parts (keys of a
 * map, separate registers): each part is then checked on its own, which is
 * exponentially cheaper and still exact (linearizability is local).
 */
export interface Model<S, I, O> {
  /** Short name used in messages, e.g. `"kv"`. */
  readonly name: string;
  /** The state before any operation. */
  init(): S;
  /**
   * Applies `input` with its recorded `output` (or {@link UNKNOWN_OUTPUT})
   * to `state`. Must be a pure function.
   */
  step(state: S, input: I, output: O | UnknownOutput): ModelStepResult<S>;
  /**
   * Splits a history into independent sub-histories. Omit to check the whole
   * history as one partition named `"*"`.
   */
  partition?(operations: readonly HistoryOperation<I, O>[]): readonly HistoryPartition<I, O>[];
  /** State equality for the search's cache; defaults to `Object.is`. */
  equal?(a: S, b: S): boolean;
  /**
   * A 32-bit hash consistent with `equal`; defaults to a constant, which is
   * correct but lets distinct states share cache buckets.
   */
  hash?(state: S): number;
  /** Human-readable operation, e.g. `"get x → 1"`; defaults to JSON. */
  describeOperation?(input: I, output: O | UnknownOutput): string;
  /** Human-readable state, e.g. `"x = 2"`; defaults to JSON. */
  describeState?(state: S): string;
}

/** A value stored by the key-value model. */
export type KvValue = string | number;

/** Input of the key-value model: read, blind write, or compare-and-set of one key. */
export type KvInput =
  | {
      /** Read the key. */
      readonly op: 'get';
      /** The key. */
      readonly key: string;
    }
  | {
      /** Write `value`. */
      readonly op: 'put';
      /** The key. */
      readonly key: string;
      /** The new value. */
      readonly value: KvValue;
    }
  | {
      /** Write `value` if the key currently holds `expected` (`null`: absent). */
      readonly op: 'cas';
      /** The key. */
      readonly key: string;
      /** The value the key must hold; `null` means the key must be absent. */
      readonly expected: KvValue | null;
      /** The new value. */
      readonly value: KvValue;
    };

/**
 * Output of the key-value model: `get` returns the value or `null` when the
 * key is absent; `put` returns nothing (any output is accepted); `cas`
 * returns whether it swapped.
 */
export type KvOutput = KvValue | null | boolean | undefined;

/** State of one key in the key-value model: its value, or `null` when absent. */
export type KvState = KvValue | null;

/**
 * The key-value model: get/put/cas on string keys, partitioned per key, so a
 * history of many keys is checked as many small single-register histories.
 * A key starts absent (`null`).
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'kv',
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'get':
        // A recorded `undefined` from a client library means "absent", like `null`.
        return { ok: output === UNKNOWN_OUTPUT || (output ?? null) === state, state };
      case 'put':
        return { ok: true, state: input.value };
      case 'cas': {
        const matches = state === input.expected;
        if (output === UNKNOWN_OUTPUT) return { ok: true, state: matches ? input.value : state };
        if (output === true) return { ok: matches, state: input.value };
        return { ok: output === false && !matches, state };
      }
      default:
        return { ok: false, state };
    }
  },
  partition(operations) {
    const byKey = new Map<string, HistoryOperation<KvInput, KvOutput>[]>();
    for (const op of operations) {
      assertKvInput(op);
      let list = byKey.get(op.input.key);
      if (!list) {
        list = [];
        byKey.set(op.input.key, list);
      }
      list.push(op);
    }
    return [...byKey.keys()].sort().map((key) => ({ key, operations: byKey.get(key)! }));
  },
  equal: (a, b) => a === b,
  hash: hashKvValue,
  describeOperation(input, output) {
    const result = output === UNKNOWN_OUTPUT ? ' → ?' : '';
    switch (input.op) {
      case 'get':
        return `get ${input.key} → ${output === UNKNOWN_OUTPUT ? '?' : showValue(output as KvState)}`;
      case 'put':
        return `put ${input.key}=${showValue(input.value)}${result}`;
      case 'cas':
        return `cas ${input.key} ${showValue(input.expected)}→${showValue(input.value)} → ${
          output === UNKNOWN_OUTPUT ? '?' : String(output)
        }`;
    }
  },
  describeState: (state) => showValue(state),
};

function assertKvInput(op: HistoryOperation<KvInput, KvOutput>): void {
  const input = op.input as unknown;
  const where = `operation ${op.id} input`;
  if (typeof input !== 'object' || input === null) throw invalidArgument(where, 'a kv input object', input);
  const { op: kind, key } = input as { op?: unknown; key?: unknown };
  if (kind !== 'get' && kind !== 'put' && kind !== 'cas')
    throw invalidArgument(`${where}.op`, "'get', 'put' or 'cas'", kind);
  if (typeof key !== 'string') throw invalidArgument(`${where}.key`, 'a string', key);
  if (kind === 'get') return;
  const { value, expected } = input as { value?: unknown; expected?: unknown };
  if (!isKvValue(value)) throw invalidArgument(`${where}.value`, 'a string or finite number', value);
  if (kind === 'cas' && expected !== null && !isKvValue(expected))
    throw invalidArgument(`${where}.expected`, 'a string, finite number or null', expected);
}

function isKvValue(value: unknown): value is KvValue {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

function showValue(value: KvValue | null | undefined): string {
  if (value === null || value === undefined) return 'absent';
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** FNV-1a over a type tag and the value's text: stable across runs and cheap for short values. */
function hashKvValue(value: KvState): number {
  if (value === null) return 0x2f6b1e33;
  let h = typeof value === 'string' ? 0x811c9dc5 : 0x050c5d1f;
  const text = typeof value === 'string' ? value : String(value);
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
