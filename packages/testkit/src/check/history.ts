import { type Clock, CoreErrorCode, NovacronError, assertInteger, assertNumber, invalidArgument } from '@novacron/core';

/** Names the client (process, session, thread) that issued an operation. */
export type ClientId = string | number;

/**
 * One line of a raw history log, in the shape Jepsen and Porcupine use:
 * every operation is invoked once and then completes at most once, as `ok`
 * (it happened, with this output), `fail` (it definitely did not happen) or
 * `unknown` (it may or may not have happened: a timeout, a crash).
 */
export type HistoryEntry<I, O> =
  | {
      /** The client started the operation. */
      readonly type: 'invoke';
      /** Unique operation id (a non-negative integer). */
      readonly id: number;
      /** The client issuing it; a client has at most one operation outstanding. */
      readonly client: ClientId;
      /** What was asked, in the model's input vocabulary. */
      readonly input: I;
      /** When it was invoked (virtual or real milliseconds). */
      readonly time: number;
    }
  | {
      /** The operation took effect and returned `output`. */
      readonly type: 'ok';
      /** Id of the invoked operation. */
      readonly id: number;
      /** What it returned, in the model's output vocabulary. */
      readonly output: O;
      /** When the response arrived. */
      readonly time: number;
    }
  | {
      /** The operation definitely did not take effect; the checker ignores it. */
      readonly type: 'fail';
      /** Id of the invoked operation. */
      readonly id: number;
      /** When the failure was observed. */
      readonly time: number;
    }
  | {
      /** The outcome is unknown: it may take effect at any time after its invocation. */
      readonly type: 'unknown';
      /** Id of the invoked operation. */
      readonly id: number;
      /** When the client gave up on it. */
      readonly time: number;
    };

/**
 * A completed operation as the checker sees it: an interval of real time
 * from invocation to response. An operation whose outcome is unknown
 * returns at +infinity (Jepsen's and Porcupine's convention): it may take
 * effect at any point after it was invoked, or never, which for the checker
 * is the same as taking effect after everything else.
 */
export interface HistoryOperation<I, O> {
  /** Id given by {@link History.invoke} or the raw entries. */
  readonly id: number;
  /** The client that issued it. */
  readonly client: ClientId;
  /** What was asked. */
  readonly input: I;
  /** What it returned; `undefined` when `status` is `'unknown'`. */
  readonly output: O | undefined;
  /** `'ok'`: it happened and returned `output`; `'unknown'`: it may or may not have happened. */
  readonly status: 'ok' | 'unknown';
  /** Invocation time, for display. */
  readonly callTime: number;
  /** Response time, for display; `Infinity` when the outcome is unknown. */
  readonly returnTime: number;
  /**
   * Position of the invocation in the history's event order. Real-time order
   * between operations is decided by these positions, not by the times, so
   * events recorded at the same virtual instant keep the order they happened in.
   */
  readonly callSeq: number;
  /** Position of the response in the event order; `Infinity` when the outcome is unknown. */
  readonly returnSeq: number;
}

/** An operation described by its interval, for {@link History.fromOperations}. */
export interface HistoryOperationSpec<I, O> {
  /** Optional id; defaults to the operation's index in the list. */
  readonly id?: number;
  /** The issuing client. */
  readonly client: ClientId;
  /** What was asked. */
  readonly input: I;
  /** What it returned (ignored for unknown outcomes). */
  readonly output?: O;
  /** Invocation time. */
  readonly call: number;
  /** Response time; omit or pass `Infinity` for an operation whose outcome is unknown. */
  readonly return?: number;
}

interface Pending {
  readonly client: ClientId;
}

/**
 * Records client operations as they happen, stamping each event with an
 * injected clock (`ManualClock` or a `SimWorld`'s clock in simulations), and
 * validates the log as it grows: ids are unique, each operation completes
 * once, and a client has at most one operation outstanding. A client whose
 * operation ended `unknown` may issue more; the unknown one stays
 * concurrent with everything after it.
 *
 * @example
 * ```ts
 * const history = new History<KvInput, KvOutput>(clock);
 * const id = history.invoke('c1', { op: 'put', key: 'x', value: 1 });
 * history.ok(id, undefined);
 * checkLinearizability(kvModel, history);
 * ```
 */
export class History<I, O> {
  readonly #clock: Pick<Clock, 'now'> | undefined;
  readonly #entries: HistoryEntry<I, O>[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #busy = new Set<ClientId>();
  readonly #seen = new Set<number>();
  #nextId = 0;
  #lastTime = Number.NEGATIVE_INFINITY;

  /** @param clock time source for the recorder methods (only `now()` is used). */
  constructor(clock?: Pick<Clock, 'now'>) {
    this.#clock = clock;
  }

  /**
   * Builds a history from a raw log. Entries are ordered by time; entries
   * with equal times keep the order they have in `entries`, which is taken
   * as the order they happened in. Throws `CORE_INVALID_ARGUMENT` on a
   * malformed entry and `CORE_INVALID_STATE` on an impossible sequence
   * (duplicate id, completion of an operation never invoked, a client with
   * two operations outstanding).
   */
  static fromEntries<I, O>(entries: readonly HistoryEntry<I, O>[]): History<I, O> {
    if (!Array.isArray(entries)) throw invalidArgument('entries', 'an array of history entries', entries);
    const order = entries.map((entry, index) => {
      if (typeof entry !== 'object' || entry === null)
        throw invalidArgument(`entries[${index}]`, 'a history entry', entry);
      assertNumber(`entries[${index}].time`, entry.time);
      return index;
    });
    order.sort((a, b) => entries[a]!.time - entries[b]!.time || a - b);
    const history = new History<I, O>();
    for (const index of order) history.#append(entries[index]!, `entries[${index}]`);
    return history;
  }

  /**
   * Builds a history from operation intervals, the shape of hand-written
   * examples. Events at the same instant are ordered invocations first, so
   * two operations that merely touch (`[0, 5]` and `[5, 9]`) count as
   * concurrent: equal timestamps cannot prove which came first.
   */
  static fromOperations<I, O>(operations: readonly HistoryOperationSpec<I, O>[]): History<I, O> {
    if (!Array.isArray(operations)) throw invalidArgument('operations', 'an array of operations', operations);
    const events: { time: number; rank: number; index: number; entry: HistoryEntry<I, O> }[] = [];
    operations.forEach((spec, index) => {
      const where = `operations[${index}]`;
      if (typeof spec !== 'object' || spec === null) throw invalidArgument(where, 'an operation', spec);
      const id = spec.id ?? index;
      assertNumber(`${where}.call`, spec.call);
      const ret = spec.return ?? Number.POSITIVE_INFINITY;
      if (typeof ret !== 'number' || Number.isNaN(ret) || ret < spec.call)
        throw invalidArgument(`${where}.return`, 'a time no earlier than call, or Infinity', ret);
      events.push({
        time: spec.call,
        rank: 0,
        index,
        entry: { type: 'invoke', id, client: spec.client, input: spec.input, time: spec.call },
      });
      if (ret !== Number.POSITIVE_INFINITY) {
        events.push({ time: ret, rank: 1, index, entry: { type: 'ok', id, output: spec.output as O, time: ret } });
      }
    });
    events.sort((a, b) => a.time - b.time || a.rank - b.rank || a.index - b.index);
    const history = new History<I, O>();
    for (const e of events) history.#append(e.entry, `operations[${e.index}]`);
    return history;
  }

  /** Records that `client` invoked `input` now; returns the operation's id. */
  invoke(client: ClientId, input: I): number {
    while (this.#seen.has(this.#nextId)) this.#nextId++;
    const id = this.#nextId++;
    this.#append({ type: 'invoke', id, client, input, time: this.#now() }, 'invoke');
    return id;
  }

  /** Records that operation `id` took effect and returned `output`. */
  ok(id: number, output: O): void {
    this.#append({ type: 'ok', id, output, time: this.#now() }, 'ok');
  }

  /** Records that operation `id` definitely did not take effect; the checker drops it. */
  fail(id: number): void {
    this.#append({ type: 'fail', id, time: this.#now() }, 'fail');
  }

  /** Records that operation `id` may or may not take effect (timeout, crash): it returns at +infinity. */
  unknown(id: number): void {
    this.#append({ type: 'unknown', id, time: this.#now() }, 'unknown');
  }

  /** Jepsen's name for {@link unknown}. */
  info(id: number): void {
    this.unknown(id);
  }

  /** Number of entries recorded. */
  get length(): number {
    return this.#entries.length;
  }

  /** Ids of operations invoked but not yet completed. */
  get pending(): readonly number[] {
    return [...this.#pending.keys()];
  }

  /** The raw log, in event order (a copy). */
  entries(): HistoryEntry<I, O>[] {
    return this.#entries.slice();
  }

  /**
   * The operations to check: every `ok` and `unknown` one, in invocation
   * order. Failed operations are left out; operations still pending are
   * treated as unknown, since they may yet take effect.
   */
  operations(): HistoryOperation<I, O>[] {
    type Invoke = HistoryEntry<I, O> & { type: 'invoke' };
    const records: { call: Invoke; callSeq: number; end?: HistoryEntry<I, O>; endSeq: number }[] = [];
    const slot = new Map<number, number>();
    this.#entries.forEach((entry, seq) => {
      if (entry.type === 'invoke') {
        slot.set(entry.id, records.length);
        records.push({ call: entry, callSeq: seq, endSeq: Number.POSITIVE_INFINITY });
      } else {
        const record = records[slot.get(entry.id)!]!;
        record.end = entry;
        record.endSeq = seq;
      }
    });
    const ops: HistoryOperation<I, O>[] = [];
    for (const { call, callSeq, end, endSeq } of records) {
      if (end?.type === 'fail') continue;
      const known = end?.type === 'ok';
      ops.push({
        id: call.id,
        client: call.client,
        input: call.input,
        output: end?.type === 'ok' ? end.output : undefined,
        status: known ? 'ok' : 'unknown',
        callTime: call.time,
        returnTime: known ? end.time : Number.POSITIVE_INFINITY,
        callSeq,
        returnSeq: known ? endSeq : Number.POSITIVE_INFINITY,
      });
    }
    return ops;
  }

  #now(): number {
    if (!this.#clock) {
      throw new NovacronError(
        CoreErrorCode.INVALID_STATE,
        'History: recording needs a clock; pass one to the constructor (histories built from entries are read-only)',
      );
    }
    return this.#clock.now();
  }

  #append(entry: HistoryEntry<I, O>, where: string): void {
    assertInteger(`${where}.id`, entry.id, { min: 0 });
    assertNumber(`${where}.time`, entry.time);
    if (entry.time < this.#lastTime)
      throw invalidArgument(
        `${where}.time`,
        `a time no earlier than the previous entry (${this.#lastTime})`,
        entry.time,
      );
    switch (entry.type) {
      case 'invoke': {
        if (typeof entry.client !== 'string' && typeof entry.client !== 'number')
          throw invalidArgument(`${where}.client`, 'a string or number client id', entry.client);
        if (this.#seen.has(entry.id)) throw invalidState(`operation id ${entry.id} is used twice`, entry.id);
        if (this.#busy.has(entry.client))
          throw invalidState(
            `client ${String(entry.client)} invoked an operation while another is outstanding`,
            entry.id,
          );
        this.#seen.add(entry.id);
        this.#busy.add(entry.client);
        this.#pending.set(entry.id, { client: entry.client });
        break;
      }
      case 'ok':
      case 'fail':
      case 'unknown': {
        const pending = this.#pending.get(entry.id);
        if (!pending) {
          throw invalidState(
            this.#seen.has(entry.id)
              ? `operation ${entry.id} completed twice`
              : `operation ${entry.id} completed but was never invoked`,
            entry.id,
          );
        }
        this.#pending.delete(entry.id);
        this.#busy.delete(pending.client);
        break;
      }
      default:
        throw invalidArgument(
          `${where}.type`,
          "'invoke', 'ok', 'fail' or 'unknown'",
          (entry as { type: unknown }).type,
        );
    }
    this.#lastTime = entry.time;
    this.#entries.push(entry);
  }
}

function invalidState(message: string, id: number): NovacronError {
  return new NovacronError(CoreErrorCode.INVALID_STATE, `History: ${message}`, { details: { id } });
}
