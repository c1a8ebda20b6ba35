import {
  type Clock,
  ManualClock,
  type NodeId,
  type Rng,
  type Timer,
  invalidArgument,
  seededRng,
  sleepOn,
} from '@novacron/core';
import { Trace } from './trace.js';

/** Options for {@link SimWorld}. */
export interface SimWorldOptions {
  /** Seed of every random choice in the run; print it to replay a failure. */
  readonly seed: number | string;
  /** Keep up to this many trace events for inspection (the hash covers all of them regardless). */
  readonly keepTrace?: number;
  /** Virtual start time in milliseconds (default 0). */
  readonly startTime?: number;
}

/** Called when a node crashes or restarts. */
export type NodeHook = (node: SimNode) => void;

/**
 * A simulated machine: its own clock view (timers die with a crash), its
 * own random stream, and crash/restart hooks that simulated networks and
 * disks attach to.
 */
export class SimNode {
  readonly id: NodeId;
  /** This node's independent random stream (`world.rng.fork(id)`). */
  readonly rng: Rng;
  /** Virtual clock scoped to this node: a crash cancels every timer set through it. */
  readonly clock: Clock;
  #alive = true;
  #incarnation = 0;
  readonly #timers = new Set<Timer>();
  readonly #world: SimWorld;

  /** @internal use {@link SimWorld.addNode}. */
  constructor(world: SimWorld, id: NodeId) {
    this.#world = world;
    this.id = id;
    this.rng = world.rng.fork(`node:${id}`);
    const base = world.clock;
    const track = (arm: (wrapped: () => void) => Timer, callback: () => void, once: boolean): Timer => {
      const incarnation = this.#incarnation;
      let timer: Timer | undefined;
      const wrapped = () => {
        if (!this.#alive || this.#incarnation !== incarnation) return;
        if (once && timer) this.#timers.delete(timer);
        world.trace.record(world.now(), 'timer', { node: id });
        callback();
      };
      const inner = arm(wrapped);
      timer = {
        cancel: () => {
          inner.cancel();
          this.#timers.delete(timer!);
        },
      };
      this.#timers.add(timer);
      return timer;
    };
    const clock: Clock = {
      now: () => base.now(),
      setTimeout: (cb, ms) => track((w) => base.setTimeout(w, ms), cb, true),
      setInterval: (cb, ms) => track((w) => base.setInterval(w, ms), cb, false),
      sleep: (ms, signal) => sleepOn(clock, ms, signal),
    };
    this.clock = clock;
  }

  /** False between {@link SimWorld.crash} and {@link SimWorld.restart}. */
  get alive(): boolean {
    return this.#alive;
  }

  /** How many times the node has restarted; lets handlers ignore work from a previous life. */
  get incarnation(): number {
    return this.#incarnation;
  }

  /** @internal */
  _crash(): void {
    this.#alive = false;
    for (const t of [...this.#timers]) t.cancel();
    this.#timers.clear();
  }

  /** @internal */
  _restart(): void {
    this.#alive = true;
    this.#incarnation++;
  }

  /** The world this node lives in. */
  get world(): SimWorld {
    return this.#world;
  }
}

/**
 * A deterministic simulated world: virtual time driven by an event queue, a
 * seeded RNG with an independent stream per node, and a trace whose hash
 * identifies the run. Simulated networks, transports and disks attach to it.
 *
 * Drive it with {@link SimWorld.step}, {@link SimWorld.runFor} or
 * {@link SimWorld.runUntil}; each awaits pending promise reactions after every
 * event, so async protocol code progresses exactly as it would in real time.
 */
export class SimWorld {
  /** The seed this world was built from. */
  readonly seed: number | string;
  /** The root random stream; components fork labelled children from it. */
  readonly rng: Rng;
  /** The virtual clock every simulated component schedules on. */
  readonly clock: ManualClock;
  /** The run's trace. */
  readonly trace: Trace;
  readonly #nodes = new Map<NodeId, SimNode>();
  readonly #crashHooks: NodeHook[] = [];
  readonly #restartHooks: NodeHook[] = [];

  constructor(options: SimWorldOptions) {
    if (typeof options?.seed !== 'number' && typeof options?.seed !== 'string') {
      throw invalidArgument('options.seed', 'a number or a string', options?.seed);
    }
    this.seed = options.seed;
    this.rng = seededRng(options.seed);
    this.clock = new ManualClock(options.startTime ?? 0);
    this.trace = new Trace(options.keepTrace === undefined ? {} : { keep: options.keepTrace });
  }

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.clock.now();
  }

  /** Adds a node; ids must be unique. */
  addNode(id: string): SimNode {
    const nodeId = id as NodeId;
    if (this.#nodes.has(nodeId)) throw invalidArgument('id', 'an id not already in the world', id);
    const node = new SimNode(this, nodeId);
    this.#nodes.set(nodeId, node);
    this.trace.record(this.now(), 'node', { node: id });
    return node;
  }

  /** The node with `id`; throws when there is none. */
  node(id: string): SimNode {
    const n = this.#nodes.get(id as NodeId);
    if (!n) throw invalidArgument('id', 'the id of a node in this world', id);
    return n;
  }

  /** Every node, in the order added. */
  get nodes(): readonly SimNode[] {
    return [...this.#nodes.values()];
  }

  /** Registers a hook run when any node crashes (networks drop its in-flight messages, disks lose unsynced writes). */
  onCrash(hook: NodeHook): void {
    this.#crashHooks.push(hook);
  }

  /** Registers a hook run when any node restarts. */
  onRestart(hook: NodeHook): void {
    this.#restartHooks.push(hook);
  }

  /** Crashes a node: its timers stop, hooks run (in registration order). No-op if already down. */
  crash(id: string): void {
    const n = this.node(id);
    if (!n.alive) return;
    n._crash();
    this.trace.record(this.now(), 'crash', { node: id });
    for (const h of this.#crashHooks) h(n);
  }

  /** Restarts a crashed node from its durable state only. No-op if it is up. */
  restart(id: string): void {
    const n = this.node(id);
    if (n.alive) return;
    n._restart();
    this.trace.record(this.now(), 'restart', { node: id, incarnation: n.incarnation });
    for (const h of this.#restartHooks) h(n);
  }

  /** Schedules a world-level action (faults, workload steps) after `delayMs` of virtual time. */
  schedule(delayMs: number, action: () => void): Timer {
    return this.clock.setTimeout(action, delayMs);
  }

  /** Runs the next event; false when the queue is empty. */
  async step(): Promise<boolean> {
    await settle();
    const ran = this.clock.runNext();
    await settle();
    return ran;
  }

  /** Runs every event due in the next `ms` of virtual time, then sets the time to the end of the window. */
  async runFor(ms: number): Promise<void> {
    const end = this.now() + ms;
    await settle();
    for (;;) {
      const at = this.clock.nextTimerAt();
      if (at === undefined || at > end) break;
      this.clock.runNext();
      await settle();
    }
    this.clock.advanceTo(end);
    await settle();
  }

  /**
   * Runs events until `predicate` holds (checked after each event) or `limitMs`
   * of virtual time pass. Returns whether the predicate held.
   */
  async runUntil(predicate: () => boolean, limitMs: number): Promise<boolean> {
    const end = this.now() + limitMs;
    await settle();
    if (predicate()) return true;
    for (;;) {
      const at = this.clock.nextTimerAt();
      if (at === undefined || at > end) break;
      this.clock.runNext();
      await settle();
      if (predicate()) return true;
    }
    this.clock.advanceTo(Math.max(this.now(), end));
    return predicate();
  }
}

/**
 * Lets every pending promise reaction run. A macrotask turn drains the whole
 * microtask queue, however deeply chained, and nothing else is scheduled on
 * the real event loop by simulated components, so the order stays
 * deterministic.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
