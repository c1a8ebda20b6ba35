import type { LinkMode, Logger } from '@novacron/core';
import { NodeErrorCode, nodeError } from '../errors.js';
import type { ComponentHealth, NodeComponent } from './component.js';

/** A component's state inside a {@link ComponentGraph}. */
export type ComponentState = 'new' | 'starting' | 'started' | 'stopping' | 'stopped' | 'failed';

/** One row of {@link ComponentGraph.health}. */
export interface ComponentReport extends ComponentHealth {
  /** Component name. */
  readonly name: string;
  /** Lifecycle state. */
  readonly state: ComponentState;
  /** Wall time its `start` took, in ms (once started). */
  readonly startMs?: number;
}

/** Options of {@link ComponentGraph}. */
export interface ComponentGraphOptions {
  /** Where start/stop progress is logged (debug) and stop failures (warn). */
  readonly logger?: Logger;
  /** Clock for start timings (default `performance.now`). */
  readonly now?: () => number;
}

/**
 * Starts and stops a set of {@link NodeComponent}s in dependency order.
 *
 * - `start` validates the graph first (duplicate names, missing
 *   dependencies and cycles are typed errors naming the culprit), then
 *   starts it level by level: every component whose dependencies are all
 *   started is started at once, in parallel with the others of its level.
 * - When a start fails, the components already started are stopped in
 *   the reverse of the order they finished starting, and `start` rejects
 *   with `NODE_COMPONENT_START_FAILED` naming the component (its error as
 *   `cause`). Components of the same level that were still starting are
 *   awaited first, and stopped too if they succeeded.
 * - `stop` stops in reverse start order, one at a time, carrying on past
 *   failures; the first is rethrown at the end.
 * - `beforeStart`/`afterStart`/`beforeStop`/`afterStop` hooks (core's
 *   Startable) run right before/after the component's own start or stop;
 *   `afterStart` hooks run once every component is started.
 */
export class ComponentGraph {
  readonly #components = new Map<string, NodeComponent>();
  readonly #state = new Map<string, ComponentState>();
  readonly #startMs = new Map<string, number>();
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  #started: NodeComponent[] = [];

  constructor(components: readonly NodeComponent[] = [], options: ComponentGraphOptions = {}) {
    this.#logger = options.logger;
    this.#now = options.now ?? (() => performance.now());
    for (const c of components) this.add(c);
  }

  /** Adds a component (before `start`). */
  add(c: NodeComponent): this {
    if (this.#components.has(c.name))
      throw nodeError(NodeErrorCode.COMPONENT_DUPLICATE, `component ${c.name} is defined twice`, {
        component: c.name,
      });
    this.#components.set(c.name, c);
    this.#state.set(c.name, 'new');
    return this;
  }

  /** The component by name, if any. */
  get(name: string): NodeComponent | undefined {
    return this.#components.get(name);
  }

  /** Component names in start order, grouped by level (components of one level start in parallel). */
  levels(): string[][] {
    const comps = [...this.#components.values()];
    for (const c of comps)
      for (const d of c.dependsOn ?? [])
        if (!this.#components.has(d))
          throw nodeError(
            NodeErrorCode.COMPONENT_MISSING_DEPENDENCY,
            `component ${c.name} depends on ${d}, which no component provides`,
            { component: c.name, missing: d },
          );
    const cycle = findCycle(comps);
    if (cycle)
      throw nodeError(
        NodeErrorCode.COMPONENT_CYCLE,
        `components depend on each other in a cycle: ${cycle.join(' -> ')}`,
        {
          cycle,
        },
      );
    const level = new Map<string, number>();
    const depth = (c: NodeComponent): number => {
      const known = level.get(c.name);
      if (known !== undefined) return known;
      let l = 0;
      for (const d of c.dependsOn ?? []) l = Math.max(l, depth(this.#components.get(d)!) + 1);
      level.set(c.name, l);
      return l;
    };
    const out: string[][] = [];
    for (const c of comps) {
      const l = depth(c);
      const row = out[l] ?? [];
      out[l] = row;
      row.push(c.name);
    }
    return out;
  }

  /** Starts every component (see the class comment). */
  async start(): Promise<void> {
    const levels = this.levels();
    this.#started = [];
    for (const names of levels) {
      const results = await Promise.allSettled(names.map((n) => this.#startOne(this.#components.get(n)!)));
      const failedAt = results.findIndex((r) => r.status === 'rejected');
      if (failedAt >= 0) {
        const name = names[failedAt]!;
        const cause = (results[failedAt] as PromiseRejectedResult).reason;
        this.#logger?.warn('component failed to start; stopping the others', { component: name });
        await this.#stopStarted().catch(() => undefined);
        throw nodeError(
          NodeErrorCode.COMPONENT_START_FAILED,
          `component ${name} failed to start: ${cause instanceof Error ? cause.message : String(cause)}`,
          { component: name },
          cause,
        );
      }
    }
    for (const c of this.#started) {
      try {
        await c.afterStart?.();
      } catch (cause) {
        await this.#stopStarted().catch(() => undefined);
        throw nodeError(
          NodeErrorCode.COMPONENT_START_FAILED,
          `component ${c.name} failed in afterStart`,
          {
            component: c.name,
          },
          cause,
        );
      }
    }
  }

  async #startOne(c: NodeComponent): Promise<void> {
    this.#state.set(c.name, 'starting');
    const t0 = this.#now();
    try {
      await c.beforeStart?.();
      await c.start();
    } catch (err) {
      this.#state.set(c.name, 'failed');
      // A component whose start failed half-way may hold resources: give it its stop.
      await Promise.resolve()
        .then(() => c.stop())
        .catch(() => undefined);
      throw err;
    }
    this.#startMs.set(c.name, this.#now() - t0);
    this.#state.set(c.name, 'started');
    this.#started.push(c);
    this.#logger?.debug('component started', { component: c.name, ms: this.#startMs.get(c.name) });
  }

  /** Stops every started component in reverse start order. */
  async stop(): Promise<void> {
    await this.#stopStarted();
  }

  async #stopStarted(): Promise<void> {
    const order = this.#started.reverse();
    this.#started = [];
    let first: unknown;
    for (const c of order) {
      this.#state.set(c.name, 'stopping');
      try {
        await c.beforeStop?.();
        await c.stop();
        await c.afterStop?.();
      } catch (err) {
        first ??= err;
        this.#logger?.warn('component failed to stop', {
          component: c.name,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      this.#state.set(c.name, 'stopped');
    }
    if (first !== undefined) throw first;
  }

  /**
   * Calls every started component's `reconfigure` hook, in start order.
   * Synchronous hooks all run in this call, before it returns: nothing else
   * can run in between (an `await` per hook would queue each behind every
   * other ready promise continuation, which is where reconfiguration tails
   * came from). Returns a promise only when some hook returned one; it
   * settles when all have (the first rejection wins).
   */
  reconfigure(mode: LinkMode): Promise<void> | undefined {
    const pending: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    for (const c of this.#started) {
      try {
        const r = c.reconfigure?.(mode);
        if (r && typeof (r as Promise<void>).then === 'function') pending.push(r as Promise<void>);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) return Promise.reject(failure.error);
    return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined);
  }

  /** Health of every component, in insertion order. */
  health(): ComponentReport[] {
    return [...this.#components.values()].map((c) => {
      const state = this.#state.get(c.name)!;
      const startMs = this.#startMs.get(c.name);
      const base = { name: c.name, state, ...(startMs === undefined ? {} : { startMs }) };
      if (state !== 'started') return { ...base, status: 'down' as const, detail: state };
      try {
        return { ...base, ...(c.health?.() ?? { status: 'ok' as const }) };
      } catch (err) {
        return { ...base, status: 'down' as const, detail: err instanceof Error ? err.message : String(err) };
      }
    });
  }

  /** True when every component is started and none reports `down`. */
  healthy(): boolean {
    return this.health().every((h) => h.status !== 'down');
  }
}

/** A dependency cycle as a list of names (first repeated at the end), or undefined. */
function findCycle(comps: readonly NodeComponent[]): string[] | undefined {
  const byName = new Map(comps.map((c) => [c.name, c]));
  const color = new Map<string, 0 | 1 | 2>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    color.set(name, 1);
    stack.push(name);
    for (const d of byName.get(name)?.dependsOn ?? []) {
      const cd = color.get(d) ?? 0;
      if (cd === 1) return [...stack.slice(stack.indexOf(d)), d];
      if (cd === 0) {
        const found = visit(d);
        if (found) return found;
      }
    }
    stack.pop();
    color.set(name, 2);
    return undefined;
  };
  for (const c of comps) {
    if ((color.get(c.name) ?? 0) === 0) {
      const found = visit(c.name);
      if (found) return found;
    }
  }
  return undefined;
}
