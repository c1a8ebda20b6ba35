import { type Clock, type Timer, assertNumber, invalidArgument } from '@novacron/core';
import type { LinkConfig } from './link-config.js';

/**
 * The fault vocabulary: each key is a fault `kind`, each value the fields
 * that kind carries. Simulated components add kinds of their own by
 * declaration merging, then register a handler with {@link FaultInjector.on}:
 *
 * ```ts
 * declare module '@novacron/testkit' {
 *   interface FaultKinds { 'slow-disk': { readonly node: string; readonly latencyMs: number } }
 * }
 * world.faults.on('slow-disk', (f) => disks.get(f.node)!.slow(f.latencyMs));
 * ```
 */
export interface FaultKinds {
  /** Symmetric partition: nodes in different groups cannot reach each other (majority/minority is two groups). */
  partition: { readonly groups: readonly (readonly string[])[] };
  /** Asymmetric partition: messages from `from` to `to` are dropped; the reverse direction works. */
  'one-way': { readonly from: readonly string[]; readonly to: readonly string[] };
  /** The two sides cannot reach each other; `bridge` reaches both. */
  bridge: { readonly bridge: string; readonly left: readonly string[]; readonly right: readonly string[] };
  /** Cuts `node` off from every other node of the world, both ways. */
  isolate: { readonly node: string };
  /** Removes every partition cut. */
  heal: Record<never, never>;
  /** Crashes `node`: timers stop, in-flight messages to it are dropped, unsynced state is lost. */
  crash: { readonly node: string };
  /** Restarts a crashed `node` from its durable state. */
  restart: { readonly node: string };
  /**
   * Changes the link `a` → `b` (and `b` → `a` unless `oneWay`) on every
   * simulated network: the fields given override the current ones; `null`
   * restores the network's defaults.
   */
  link: {
    readonly a: string;
    readonly b: string;
    readonly config: Partial<LinkConfig> | null;
    readonly oneWay?: boolean;
  };
  /**
   * Resets stream connections: between `a` and `b` when both are given, every
   * connection of `a` when only it is, every connection when neither is.
   * Handled by the simulated stream transport.
   */
  'reset-streams': { readonly a?: string; readonly b?: string };
}

/** A fault kind name. */
export type FaultKind = keyof FaultKinds;

/** One fault: `{ kind, ...fields }`. */
export type Fault = { [K in FaultKind]: { readonly kind: K } & FaultKinds[K] }[FaultKind];

/** The fault of one kind. */
export type FaultOf<K extends FaultKind> = Extract<Fault, { readonly kind: K }>;

/** Carries out one kind of fault. */
export type FaultHandler<K extends FaultKind> = (fault: FaultOf<K>) => void;

/** One entry of a declarative fault schedule: at virtual time `at` (absolute, ms), inject `fault`. */
export interface ScheduledFault {
  /** Absolute virtual time in milliseconds. */
  readonly at: number;
  /** What happens then. */
  readonly fault: Fault;
}

/** What a {@link FaultInjector} needs from its world. */
export interface FaultHost {
  /** The clock scheduled faults fire on. */
  readonly clock: Clock;
  /** Records a trace event at the current time. */
  record(kind: string, fields: Record<string, string | number | boolean | null>): void;
}

/**
 * The registry of fault handlers and the one place faults enter a run:
 * {@link FaultInjector.inject} records the fault in the trace, then runs every
 * handler registered for its kind, in registration order. `SimWorld` owns
 * one (`world.faults`) with handlers for partitions and crash/restart;
 * simulated networks add `link`, the stream transport adds `reset-streams`.
 */
export class FaultInjector {
  readonly #host: FaultHost;
  readonly #handlers = new Map<string, ((fault: Fault) => void)[]>();

  /** @param host the world's clock and trace. */
  constructor(host: FaultHost) {
    this.#host = host;
  }

  /** Registers `handler` for `kind`; returns a function that unregisters it. */
  on<K extends FaultKind>(kind: K, handler: FaultHandler<K>): () => void {
    if (typeof kind !== 'string' || kind.length === 0) throw invalidArgument('kind', 'a fault kind', kind);
    if (typeof handler !== 'function') throw invalidArgument('handler', 'a function', handler);
    const fn = handler as (fault: Fault) => void;
    let list = this.#handlers.get(kind);
    if (!list) {
      list = [];
      this.#handlers.set(kind, list);
    }
    list.push(fn);
    return () => {
      const l = this.#handlers.get(kind);
      const i = l?.indexOf(fn) ?? -1;
      if (i >= 0) l!.splice(i, 1);
    };
  }

  /** True when at least one handler is registered for `kind`. */
  handles(kind: string): boolean {
    return (this.#handlers.get(kind)?.length ?? 0) > 0;
  }

  /**
   * Injects `fault` now. Throws `CORE_INVALID_ARGUMENT` for a malformed fault
   * or a kind nobody handles (a fault that silently did nothing would make a
   * test pass for the wrong reason).
   */
  inject(fault: Fault): void {
    assertFaultShape('fault', fault);
    const handlers = this.#handlers.get(fault.kind);
    if (!handlers || handlers.length === 0) {
      throw invalidArgument('fault.kind', 'a fault kind with a registered handler', fault.kind);
    }
    this.#host.record('fault', faultFields(fault));
    for (const h of [...handlers]) h(fault);
  }

  /**
   * Schedules every entry of a declarative fault list on the world's clock.
   * Entries with the same `at` fire in list order. Returns a timer that
   * cancels every entry not yet fired.
   */
  schedule(faults: readonly ScheduledFault[]): Timer {
    if (!Array.isArray(faults)) throw invalidArgument('faults', 'an array of { at, fault }', faults);
    const now = this.#host.clock.now();
    faults.forEach((entry, i) => {
      if (typeof entry !== 'object' || entry === null) throw invalidArgument(`faults[${i}]`, '{ at, fault }', entry);
      assertNumber(`faults[${i}].at`, entry.at, { min: now });
      assertFaultShape(`faults[${i}].fault`, entry.fault);
    });
    const timers = faults.map((entry) => this.#host.clock.setTimeout(() => this.inject(entry.fault), entry.at - now));
    return {
      cancel: () => {
        for (const t of timers) t.cancel();
      },
    };
  }
}

/** One line describing `fault`, stable across runs (used in traces and logs). */
export function describeFault(fault: Fault): string {
  const fields = faultFields(fault);
  return Object.keys(fields)
    .map((k) => `${k}=${String(fields[k])}`)
    .join(' ');
}

function assertFaultShape(argument: string, fault: unknown): asserts fault is Fault {
  if (typeof fault !== 'object' || fault === null || typeof (fault as { kind?: unknown }).kind !== 'string') {
    throw invalidArgument(argument, 'a fault object with a string kind', fault);
  }
}

/** Flattens a fault into trace fields; nested values become canonical text so the trace hash is stable. */
function faultFields(fault: Fault): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = { kind: fault.kind };
  const record = fault as unknown as Record<string, unknown>;
  for (const key of Object.keys(record).sort()) {
    if (key === 'kind') continue;
    const v = record[key];
    if (v === undefined) continue;
    out[key] =
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null ? v : canonical(v);
  }
  return out;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${k}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return String(v);
}
