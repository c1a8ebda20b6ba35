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
import { promiseHooks } from 'node:v8';
import { FaultInjector } from './faults.js';
import { PartitionTable } from './partition.js';
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
 * {@link SimWorld.runUntil}; each lets pending promise reactions run after
 * every event that created or resolved a promise, so async protocol code
 * progresses exactly as it would in real time. Simulated code must schedule
 * through promises or the world's clocks: work queued only with
 * `queueMicrotask` or `process.nextTick` runs at the next settle, which may
 * be after later events.
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
  /**
   * Which directed links are cut. Every simulated component that moves bytes
   * between nodes consults it (see {@link SimWorld.reachable}).
   */
  readonly partitions: PartitionTable;
  /**
   * Where faults enter the run: `world.faults.inject(fault)` now, or
   * `world.faults.schedule([{ at, fault }])` later. Handles partitions and
   * crash/restart itself; simulated networks and transports register the
   * kinds they own.
   */
  readonly faults: FaultInjector;
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
    const record = (kind: string, fields: Record<string, string | number | boolean | null>) =>
      this.trace.record(this.now(), kind, fields);
    this.partitions = new PartitionTable(record);
    this.faults = new FaultInjector({ clock: this.clock, record });
    const p = this.partitions;
    this.faults.on('partition', (f) => p.split(f.groups));
    this.faults.on('one-way', (f) => p.oneWay(f.from, f.to));
    this.faults.on('bridge', (f) => p.bridge(f.bridge, f.left, f.right));
    this.faults.on('isolate', (f) => {
      this.node(f.node);
      p.isolate(
        f.node,
        this.nodes.map((n) => n.id),
      );
    });
    this.faults.on('heal', () => p.heal());
    this.faults.on('crash', (f) => this.crash(f.node));
    this.faults.on('restart', (f) => this.restart(f.node));
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

  /**
   * True when a message from `from` can reach `to` right now: both are nodes
   * of this world, both are up, and no partition cuts that direction.
   */
  reachable(from: string, to: string): boolean {
    const a = this.#nodes.get(from as NodeId);
    const b = this.#nodes.get(to as NodeId);
    return !!a && !!b && a.alive && b.alive && this.partitions.reachable(from, to);
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
    const watch = watchPromises();
    try {
      await settle();
      for (let n = 1; ; n++) {
        const at = this.clock.nextTimerAt();
        if (at === undefined || at > end) break;
        await this.#runOne(watch, n);
      }
      this.clock.advanceTo(end);
      await settle();
    } finally {
      watch.release();
    }
  }

  /**
   * Runs events until `predicate` holds (checked after each event) or `limitMs`
   * of virtual time pass. Returns whether the predicate held.
   */
  async runUntil(predicate: () => boolean, limitMs: number): Promise<boolean> {
    const end = this.now() + limitMs;
    const watch = watchPromises();
    try {
      await settle();
      if (predicate()) return true;
      for (let n = 1; ; n++) {
        const at = this.clock.nextTimerAt();
        if (at === undefined || at > end) break;
        await this.#runOne(watch, n);
        if (predicate()) return true;
      }
      this.clock.advanceTo(Math.max(this.now(), end));
      await settle();
      return predicate();
    } finally {
      watch.release();
    }
  }

  /**
   * Runs the next event, then settles only if the event created or resolved a
   * promise: an event that touched no promise left no reaction to run, and
   * skipping the macrotask turn is what makes long runs fast. Every few
   * thousand events it settles anyway so the host loop (test runner RPC)
   * still breathes; that changes no simulated order.
   */
  async #runOne(watch: PromiseWatch, n: number): Promise<void> {
    const mark = watch.count;
    this.clock.runNext();
    if (watch.count !== mark || (n & 4095) === 0) await settle();
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

/** Counts promise creations and resolutions while at least one run is in progress. */
interface PromiseWatch {
  readonly count: number;
  release(): void;
}

// One V8 promise hook shared by every running world: counting is all it
// does, and it is installed only while some world is running, so code
// outside simulations pays nothing. Activity from a concurrently running
// world only causes extra settles, never fewer.
let promiseActivity = 0;
let watchers = 0;
let stopHook: (() => void) | undefined;
const sharedWatch: PromiseWatch = {
  get count() {
    return promiseActivity;
  },
  release() {
    if (--watchers === 0) {
      stopHook?.();
      stopHook = undefined;
    }
  },
};

function watchPromises(): PromiseWatch {
  if (watchers++ === 0) {
    const bump = () => {
      promiseActivity++;
    };
    stopHook = promiseHooks.createHook({ init: bump, settled: bump }) as () => void;
  }
  return sharedWatch;
}
