import { type Clock, assertInteger, assertNumber, invalidArgument, systemClock } from '@novacron/core';
import { History, type HistoryOperation } from './history.js';
import { type Model, type HistoryPartition, UNKNOWN_OUTPUT, type UnknownOutput } from './model.js';

/** Options for {@link checkLinearizability}. */
export interface LinearizabilityOptions {
  /**
   * Wall-clock budget for the whole check; when it runs out the result is
   * `{ ok: 'unknown' }`. Linearizability checking is NP-complete, so a
   * pathological history can take forever; default: no limit.
   */
  timeoutMs?: number;
  /**
   * Deterministic budget: the most search steps (operations tried) summed
   * over partitions before giving up with `{ ok: 'unknown' }`. Default: no limit.
   */
  maxSteps?: number;
  /** Clock for `timeoutMs` (the real clock by default). */
  clock?: Pick<Clock, 'now'>;
}

/** Counters describing the work a check did. */
export interface LinearizabilityStats {
  /** Partitions (keys) the history split into. */
  readonly partitions: number;
  /** Operations checked (ok and unknown; failed ones are dropped). */
  readonly operations: number;
  /** Search steps: operations tried against the model. */
  readonly steps: number;
  /** Times the search undid a tentative linearization. */
  readonly backtracks: number;
  /** Configurations (linearized set, state) remembered by the cache, summed over partitions. */
  readonly cacheEntries: number;
}

/** The history is linearizable; here is a witness. */
export interface LinearizableResult {
  /** Linearizable. */
  readonly ok: true;
  /**
   * For each partition key, the ids of its operations in an order that is
   * consistent with real time and legal for the model. Operations with an
   * unknown outcome that never took effect appear too (placed where their
   * effect is harmless, usually last).
   */
  readonly linearization: ReadonlyMap<string, readonly number[]>;
  /** Work done. */
  readonly stats: LinearizabilityStats;
}

/** One operation the checker could not place after the longest linearizable prefix. */
export interface UnplaceableOperation<I, O> {
  /** The operation. */
  readonly operation: HistoryOperation<I, O>;
  /**
   * The latest operation of the prefix (in linearization order) that had
   * completed before this one was invoked, so this one must follow it;
   * absent when nothing in the prefix is forced to precede it.
   */
  readonly mustFollow?: HistoryOperation<I, O>;
  /** One line, e.g. `#7 get k1 → 1 [30, 41] cannot follow #5 put k1=2 completed at 22 (state 2)`. */
  readonly reason: string;
}

/**
 * Why a partition has no linearization: the longest prefix the search could
 * linearize, the state it leaves, and the operations none of which can go
 * next before `deadline` returns.
 */
export interface ViolationExplanation<S, I, O> {
  /** Ids of the longest linearizable prefix, in linearization order. */
  readonly prefix: readonly number[];
  /** Model state after the prefix. */
  readonly state: S;
  /** The operation whose response closes the window: something had to take effect before it returned. */
  readonly deadline: HistoryOperation<I, O>;
  /** Every operation invoked before `deadline` returned and not in the prefix: none of them can be placed next. */
  readonly unplaceable: readonly UnplaceableOperation<I, O>[];
  /** A readable multi-line account of the above. */
  readonly message: string;
}

/** The history is not linearizable; `key` names the partition that fails. */
export interface NonLinearizableResult<S, I, O> {
  /** Not linearizable. */
  readonly ok: false;
  /** The failing partition (the key for key-value models). */
  readonly key: string;
  /** The longest linearizable prefix and what cannot follow it. */
  readonly explanation: ViolationExplanation<S, I, O>;
  /** Work done. */
  readonly stats: LinearizabilityStats;
}

/** The budget ran out before the answer was known. */
export interface UnknownLinearizabilityResult {
  /** Undecided. */
  readonly ok: 'unknown';
  /** Which budget ran out. */
  readonly reason: 'timeout' | 'step-limit';
  /** The partition being searched when it ran out. */
  readonly key: string;
  /** Partitions proven linearizable before that. */
  readonly checkedKeys: readonly string[];
  /** Work done. */
  readonly stats: LinearizabilityStats;
}

/** Result of {@link checkLinearizability}. */
export type LinearizabilityResult<S, I, O> =
  | LinearizableResult
  | NonLinearizableResult<S, I, O>
  | UnknownLinearizabilityResult;

/** Key of the single partition used when a model has no `partition`. */
export const WHOLE_HISTORY_KEY = '*';

const NONE = -1;
/** Budget checks read the clock only this often (a power of two minus one, used as a mask). */
const CLOCK_CHECK_MASK = 1023;
/** Prefix operations shown in a violation message; the full prefix is in `explanation.prefix`. */
const PREFIX_SHOWN = 6;

/**
 * Decides whether `history` is linearizable with respect to `model`.
 *
 * The search is Wing & Gong's, with Lowe's memoisation, as in Porcupine:
 * the history becomes a doubly linked list of call and return entries in
 * real-time order; the search repeatedly takes the first call it can apply
 * to the model, unlinks it and its return (dancing links), and backtracks
 * when it meets a return whose call has not been linearized. A cache of
 * visited configurations — the set of linearized operations (a bitset with
 * an incremental Zobrist hash) together with the model state — prunes every
 * configuration reached twice, which makes typical histories near-linear.
 * When the model provides `partition`, each part is checked on its own
 * (linearizability is compositional), so a 10-key history costs ten small
 * searches instead of one enormous one.
 *
 * Operations with an unknown outcome return at +infinity and are stepped
 * with {@link UNKNOWN_OUTPUT}. Throws `CORE_INVALID_ARGUMENT` on a malformed
 * model, history or option; never hangs when a budget is given.
 */
export function checkLinearizability<S, I, O>(
  model: Model<S, I, O>,
  history: History<I, O> | readonly HistoryOperation<I, O>[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult<S, I, O> {
  assertModel(model);
  if (options.timeoutMs !== undefined) assertNumber('options.timeoutMs', options.timeoutMs, { min: 0 });
  if (options.maxSteps !== undefined) assertInteger('options.maxSteps', options.maxSteps, { min: 0 });
  const operations = history instanceof History ? history.operations() : history;
  if (!Array.isArray(operations)) throw invalidArgument('history', 'a History or an array of operations', history);

  const partitions: readonly HistoryPartition<I, O>[] = model.partition
    ? model.partition(operations)
    : [{ key: WHOLE_HISTORY_KEY, operations }];
  const clock = options.clock ?? (options.timeoutMs === undefined ? undefined : systemClock({ ref: false }));
  const budget: Budget = {
    deadline: options.timeoutMs === undefined || !clock ? Number.POSITIVE_INFINITY : clock.now() + options.timeoutMs,
    maxSteps: options.maxSteps ?? Number.POSITIVE_INFINITY,
    clock,
  };
  const counters = { steps: 0, backtracks: 0, cacheEntries: 0 };
  const stats = (): LinearizabilityStats => ({
    partitions: partitions.length,
    operations: operations.length,
    ...counters,
  });

  const linearization = new Map<string, readonly number[]>();
  for (const partition of partitions) {
    // Checked here too, so a budget smaller than one clock-check interval still binds across many small partitions.
    const outcome = timedOut(budget)
      ? ({ kind: 'exhausted', reason: 'timeout' } as const)
      : searchPartition(model, partition.operations, budget, counters);
    if (outcome.kind === 'ok') {
      linearization.set(partition.key, outcome.order);
    } else if (outcome.kind === 'exhausted') {
      return {
        ok: 'unknown',
        reason: outcome.reason,
        key: partition.key,
        checkedKeys: [...linearization.keys()],
        stats: stats(),
      };
    } else {
      return {
        ok: false,
        key: partition.key,
        explanation: explain(model, partition.key, partition.operations, outcome),
        stats: stats(),
      };
    }
  }
  return { ok: true, linearization, stats: stats() };
}

interface Budget {
  readonly deadline: number;
  readonly maxSteps: number;
  readonly clock: Pick<Clock, 'now'> | undefined;
}

interface Counters {
  steps: number;
  backtracks: number;
  cacheEntries: number;
}

/** The deepest point the search reached before failing, kept to explain the failure. */
interface Failure<S> {
  readonly kind: 'violation';
  /** HistoryOperation indices (into the partition) of the prefix, in linearization order. */
  readonly prefix: readonly number[];
  readonly state: S;
  /** Index of the operation whose return the search could not pass. */
  readonly deadline: number;
  /** Indices of the calls still linked before that return. */
  readonly candidates: readonly number[];
}

type SearchOutcome<S> =
  | { readonly kind: 'ok'; readonly order: readonly number[] }
  | { readonly kind: 'exhausted'; readonly reason: 'timeout' | 'step-limit' }
  | Failure<S>;

interface CacheEntry<S> {
  readonly bits: Uint32Array;
  readonly state: S;
}

/**
 * WGL search over one partition. Nodes 0..n-1 are calls, n..2n-1 the
 * matching returns (node n+i returns operation i), node 2n is the list head.
 */
function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly HistoryOperation<I, O>[],
  budget: Budget,
  counters: Counters,
): SearchOutcome<S> {
  const n = ops.length;
  const head = 2 * n;
  const next = new Int32Array(2 * n + 1);
  const prev = new Int32Array(2 * n + 1);
  linkInRealTimeOrder(ops, next, prev, head);

  const inputs = ops.map((op) => op.input);
  const outputs: (O | UnknownOutput)[] = ops.map((op) => (op.status === 'ok' ? (op.output as O) : UNKNOWN_OUTPUT));
  const equal = model.equal ?? Object.is;
  const hashState = model.hash ?? (() => 0);
  const zobrist = zobristKeys(n);

  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  let setHash = 0;
  const cache = new Map<number, CacheEntry<S>[]>();

  // The stack of tentative linearizations: which call, and the state before it.
  const stackOp = new Int32Array(n);
  const stackState: S[] = new Array<S>(n);
  let depth = 0;

  let state = model.init();
  let best: Failure<S> | undefined;
  let entry = next[head]!;
  let steps = 0;
  const stepLimit = budget.maxSteps - counters.steps;

  while (next[head] !== NONE) {
    if (entry < n) {
      // A call: try to linearize it now.
      steps++;
      if (steps > stepLimit || ((steps & CLOCK_CHECK_MASK) === 0 && timedOut(budget))) {
        counters.steps += steps;
        return { kind: 'exhausted', reason: steps > stepLimit ? 'step-limit' : 'timeout' };
      }
      const result = model.step(state, inputs[entry]!, outputs[entry]!);
      if (typeof result !== 'object' || result === null)
        throw invalidArgument('model.step', 'a function returning { ok, state }', result);
      if (result.ok) {
        const word = entry >>> 5;
        const mask = 1 << (entry & 31);
        const key = cacheKey(setHash ^ zobrist[entry]!, hashState(result.state));
        const bucket = cache.get(key);
        let seen = false;
        if (bucket) {
          for (const cached of bucket) {
            if (equal(cached.state, result.state) && sameSetPlus(cached.bits, bits, word, mask)) {
              seen = true;
              break;
            }
          }
        }
        if (!seen) {
          bits[word]! |= mask;
          setHash ^= zobrist[entry]!;
          const remembered = { bits: bits.slice(), state: result.state };
          if (bucket) bucket.push(remembered);
          else cache.set(key, [remembered]);
          counters.cacheEntries++;
          stackOp[depth] = entry;
          stackState[depth] = state;
          depth++;
          state = result.state;
          lift(entry, n, next, prev);
          entry = next[head]!;
          continue;
        }
      }
      entry = next[entry]!;
    } else {
      // A return whose call is not linearized: this branch is dead.
      if (!best || depth > best.prefix.length) best = snapshot(entry - n, depth, stackOp, state, next, head, n);
      if (depth === 0) {
        counters.steps += steps;
        return best;
      }
      depth--;
      counters.backtracks++;
      const op = stackOp[depth]!;
      state = stackState[depth]!;
      bits[op >>> 5]! &= ~(1 << (op & 31));
      setHash ^= zobrist[op]!;
      unlift(op, n, next, prev);
      entry = next[op]!;
    }
  }
  counters.steps += steps;
  return { kind: 'ok', order: Array.from(stackOp.subarray(0, depth), (i) => ops[i]!.id) };
}

/**
 * Links the 2n entries in real-time order. Returns at +infinity (unknown
 * outcomes) go last, in call order; a call always precedes its own return.
 */
function linkInRealTimeOrder<I, O>(
  ops: readonly HistoryOperation<I, O>[],
  next: Int32Array,
  prev: Int32Array,
  head: number,
): void {
  const n = ops.length;
  const nodes = Array.from({ length: 2 * n }, (_, i) => i);
  const seqOf = (node: number) => (node < n ? ops[node]!.callSeq : ops[node - n]!.returnSeq);
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (typeof op !== 'object' || op === null || typeof op.callSeq !== 'number' || !(op.returnSeq > op.callSeq))
      throw invalidArgument(
        `operations[${i}]`,
        'an operation with callSeq < returnSeq (from History.operations())',
        op,
      );
  }
  nodes.sort((a, b) => {
    const sa = seqOf(a);
    const sb = seqOf(b);
    if (sa !== sb) return sa < sb ? -1 : 1;
    // Only returns at +infinity tie: keep them in call order.
    return (a % n) - (b % n) || a - b;
  });
  let last = head;
  prev[head] = NONE;
  for (const node of nodes) {
    next[last] = node;
    prev[node] = last;
    last = node;
  }
  next[last] = NONE;
}

/** Unlinks a call and its return; their own pointers stay so {@link unlift} can restore them. */
function lift(call: number, n: number, next: Int32Array, prev: Int32Array): void {
  next[prev[call]!] = next[call]!;
  prev[next[call]!] = prev[call]!; // a call is never last: its return follows it
  const ret = call + n;
  next[prev[ret]!] = next[ret]!;
  if (next[ret] !== NONE) prev[next[ret]!] = prev[ret]!;
}

/** Relinks what {@link lift} removed; valid because lifts are undone in reverse order. */
function unlift(call: number, n: number, next: Int32Array, prev: Int32Array): void {
  const ret = call + n;
  next[prev[ret]!] = ret;
  if (next[ret] !== NONE) prev[next[ret]!] = ret;
  next[prev[call]!] = call;
  prev[next[call]!] = call;
}

function snapshot<S>(
  deadline: number,
  depth: number,
  stackOp: Int32Array,
  state: S,
  next: Int32Array,
  head: number,
  n: number,
): Failure<S> {
  const candidates: number[] = [];
  for (let node = next[head]!; node !== NONE && node !== deadline + n; node = next[node]!) {
    if (node < n) candidates.push(node);
  }
  return { kind: 'violation', prefix: Array.from(stackOp.subarray(0, depth)), state, deadline, candidates };
}

/** True when `cached` equals `bits` with one more bit (`word`, `mask`) set. */
function sameSetPlus(cached: Uint32Array, bits: Uint32Array, word: number, mask: number): boolean {
  for (let w = 0; w < bits.length; w++) {
    const expected = w === word ? (bits[w]! | mask) >>> 0 : bits[w]!;
    if (cached[w] !== expected) return false;
  }
  return true;
}

/** Mixes the set's Zobrist hash with the state hash into a small integer (a V8 Smi keeps Map lookups fast). */
function cacheKey(setHash: number, stateHash: number): number {
  return (setHash ^ Math.imul(stateHash | 0, 0x9e3779b1)) & 0x3fffffff;
}

/** One pseudo-random 32-bit word per operation (a fixed mixing function, so runs are reproducible). */
function zobristKeys(n: number): Int32Array {
  const keys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let x = Math.imul(i + 1, 0x9e3779b9);
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    keys[i] = x ^ (x >>> 16);
  }
  return keys;
}

function timedOut(budget: Budget): boolean {
  return budget.clock !== undefined && budget.clock.now() >= budget.deadline;
}

function assertModel(model: unknown): asserts model is Model<unknown, unknown, unknown> {
  const m = model as Partial<Model<unknown, unknown, unknown>> | null;
  if (typeof m !== 'object' || m === null || typeof m.init !== 'function' || typeof m.step !== 'function')
    throw invalidArgument('model', 'a Model with init() and step()', model);
  for (const name of ['partition', 'equal', 'hash', 'describeOperation', 'describeState'] as const) {
    if (m[name] !== undefined && typeof m[name] !== 'function')
      throw invalidArgument(`model.${name}`, 'a function or undefined', m[name]);
  }
}

function explain<S, I, O>(
  model: Model<S, I, O>,
  key: string,
  ops: readonly HistoryOperation<I, O>[],
  failure: Failure<S>,
): ViolationExplanation<S, I, O> {
  const describeBody = (op: HistoryOperation<I, O>): string => {
    const output = op.status === 'ok' ? (op.output as O) : UNKNOWN_OUTPUT;
    const text = model.describeOperation
      ? model.describeOperation(op.input, output)
      : `${safeJson(op.input)} → ${output === UNKNOWN_OUTPUT ? '?' : safeJson(output)}`;
    return `#${op.id} ${text}`;
  };
  const describeOp = (op: HistoryOperation<I, O>): string =>
    `${describeBody(op)} [${formatTime(op.callTime)}, ${formatTime(op.returnTime)}]`;
  const describeState = (s: S): string => (model.describeState ? model.describeState(s) : safeJson(s));
  const prefix = failure.prefix.map((i) => ops[i]!);
  const deadline = ops[failure.deadline]!;
  const stateText = describeState(failure.state);

  const unplaceable = failure.candidates.map((index): UnplaceableOperation<I, O> => {
    const operation = ops[index]!;
    let mustFollow: HistoryOperation<I, O> | undefined;
    for (let k = prefix.length - 1; k >= 0; k--) {
      if (prefix[k]!.returnSeq < operation.callSeq) {
        mustFollow = prefix[k]!;
        break;
      }
    }
    const output = operation.status === 'ok' ? (operation.output as O) : UNKNOWN_OUTPUT;
    // After a complete search every candidate fails its step; a legal one is
    // only reachable through a branch already refuted elsewhere.
    const legal = model.step(failure.state, operation.input, output).ok;
    const what = legal ? 'leads only to dead ends' : 'cannot take effect';
    const reason = mustFollow
      ? `${describeOp(operation)} ${legal ? what + ' after' : 'cannot follow'} ${describeBody(mustFollow)} completed at ${formatTime(mustFollow.returnTime)} (state after the prefix: ${stateText})`
      : `${describeOp(operation)} ${what} in state ${stateText}${prefix.length === 0 ? ' (the initial state)' : ''}`;
    return mustFollow ? { operation, mustFollow, reason } : { operation, reason };
  });

  const shown = prefix.slice(-PREFIX_SHOWN).map(describeOp);
  if (prefix.length > PREFIX_SHOWN) shown.unshift(`… ${prefix.length - PREFIX_SHOWN} earlier`);
  const lines = [
    `${model.name}: partition ${JSON.stringify(key)} is not linearizable.`,
    prefix.length === 0
      ? `No operation can be linearized first (initial state ${stateText}).`
      : `Longest linearizable prefix (${prefix.length} of ${ops.length} operations): ${shown.join(' · ')} → state ${stateText}`,
    `Cannot place next (invoked before ${describeOp(deadline)} returned at ${formatTime(deadline.returnTime)}):`,
    ...unplaceable.map((u) => `  ${u.reason}`),
  ];
  return {
    prefix: prefix.map((op) => op.id),
    state: failure.state,
    deadline,
    unplaceable,
    message: lines.join('\n'),
  };
}

function formatTime(t: number): string {
  return t === Number.POSITIVE_INFINITY ? '∞' : String(t);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
