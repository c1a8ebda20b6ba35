import { type Rng, type Timer, assertNumber, invalidArgument } from '@novacron/core';
import type { Fault } from './faults.js';
import type { LinkConfig } from './link-config.js';
import { majorityMinority } from './partition.js';
import type { SimWorld } from './world.js';

/** The faults a {@link Nemesis} can draw. */
export type NemesisFaultKind =
  | 'majority-minority'
  | 'one-way'
  | 'bridge'
  | 'isolate'
  | 'crash'
  | 'link'
  | 'reset-streams';

/** An inclusive range of virtual milliseconds. */
export interface MsRange {
  /** Smallest value. */
  readonly min: number;
  /** Largest value. */
  readonly max: number;
}

/** Options for {@link Nemesis}. */
export interface NemesisOptions {
  /**
   * Which faults to draw from, each equally likely. Default: every partition
   * shape and `crash`, plus `link` when a network handles it and
   * `reset-streams` when a stream transport does. Kinds that need more nodes
   * than there are (a bridge needs three) are left out.
   */
  readonly kinds?: readonly NemesisFaultKind[];
  /** The nodes faults are aimed at (default: every node of the world when {@link Nemesis.start} runs). */
  readonly nodes?: readonly string[];
  /** Quiet time between one fault ending and the next starting (default 50–500 ms). */
  readonly gapMs?: MsRange;
  /** How long a fault lasts before it is undone (default 100–1000 ms). */
  readonly durationMs?: MsRange;
  /** What a `link` fault does to the link (default: 20 % loss, +50 ms latency, 50 ms jitter). */
  readonly degrade?: Partial<LinkConfig>;
}

/** One fault the nemesis injected, with the virtual time it did so. */
export interface NemesisEvent {
  /** Virtual time in milliseconds. */
  readonly at: number;
  /** The fault, including undo faults (`heal`, `restart`, link restore). */
  readonly fault: Fault;
}

const ALL_KINDS: readonly NemesisFaultKind[] = [
  'majority-minority',
  'one-way',
  'bridge',
  'isolate',
  'crash',
  'link',
  'reset-streams',
];

/**
 * A random fault generator driven entirely by the world's seed (its own fork
 * `nemesis`), so the same seed injects the same faults at the same virtual
 * times. It runs one fault at a time: wait a random gap, inject a random
 * fault, hold it for a random duration, undo it (heal the partition, restart
 * the node, restore the link), repeat. Faults go through `world.faults`, so
 * they are traced like scheduled ones.
 */
export class Nemesis {
  readonly #world: SimWorld;
  readonly #rng: Rng;
  readonly #options: NemesisOptions;
  readonly #gap: MsRange;
  readonly #duration: MsRange;
  readonly #degrade: Partial<LinkConfig>;
  readonly #log: NemesisEvent[] = [];
  #kinds: NemesisFaultKind[] = [];
  #nodes: string[] = [];
  #timer: Timer | undefined;
  #undo: Fault | undefined;
  #running = false;

  constructor(world: SimWorld, options: NemesisOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'an object', options);
    this.#world = world;
    this.#rng = world.rng.fork('nemesis');
    this.#options = options;
    this.#gap = checkRange('options.gapMs', options.gapMs ?? { min: 50, max: 500 });
    this.#duration = checkRange('options.durationMs', options.durationMs ?? { min: 100, max: 1000 });
    this.#degrade = options.degrade ?? { loss: 0.2, latencyMs: 50, jitterMs: 50 };
    if (options.kinds !== undefined) {
      if (!Array.isArray(options.kinds) || options.kinds.length === 0) {
        throw invalidArgument('options.kinds', 'a non-empty array of nemesis fault kinds', options.kinds);
      }
      for (const k of options.kinds) {
        if (!ALL_KINDS.includes(k)) throw invalidArgument('options.kinds', ALL_KINDS.join(' | '), k);
      }
    }
  }

  /** Every fault injected so far, in order. */
  get log(): readonly NemesisEvent[] {
    return this.#log;
  }

  /** The fault in force now, if any. */
  get active(): Fault | undefined {
    return this.#undo === undefined ? undefined : this.#log[this.#log.length - 1]?.fault;
  }

  /** Starts drawing faults (the first after one gap). */
  start(): void {
    if (this.#running) return;
    const world = this.#world;
    this.#nodes = [...(this.#options.nodes ?? world.nodes.map((n) => n.id))];
    for (const id of this.#nodes) world.node(id);
    const wanted =
      this.#options.kinds ??
      ALL_KINDS.filter(
        (k) => (k !== 'link' || world.faults.handles('link')) && (k !== 'reset-streams' || world.faults.handles(k)),
      );
    const n = this.#nodes.length;
    this.#kinds = wanted.filter((k) =>
      k === 'bridge' ? n >= 3 : k === 'crash' || k === 'reset-streams' ? n >= 1 : n >= 2,
    );
    if (this.#kinds.length === 0) throw invalidArgument('options.nodes', 'enough nodes for the chosen kinds', n);
    this.#running = true;
    this.#arm(this.#gap, () => this.#strike());
  }

  /** Stops drawing faults and undoes the one in force. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#heal();
  }

  #arm(range: MsRange, action: () => void): void {
    const delay = range.min + this.#rng.next() * (range.max - range.min);
    this.#timer = this.#world.schedule(delay, action);
  }

  #strike(): void {
    const drawn = this.#draw();
    if (drawn) {
      this.#inject(drawn.fault);
      this.#undo = drawn.undo;
    }
    this.#arm(this.#duration, () => {
      this.#heal();
      this.#arm(this.#gap, () => this.#strike());
    });
  }

  #heal(): void {
    const undo = this.#undo;
    this.#undo = undefined;
    if (undo) this.#inject(undo);
  }

  #inject(fault: Fault): void {
    this.#log.push({ at: this.#world.now(), fault });
    this.#world.faults.inject(fault);
  }

  /** Draws a fault and what undoes it; undefined when the drawn kind has nothing to act on (all nodes down). */
  #draw(): { fault: Fault; undo: Fault | undefined } | undefined {
    const rng = this.#rng;
    const nodes = this.#nodes;
    const kind = rng.pick(this.#kinds);
    const heal: Fault = { kind: 'heal' };
    switch (kind) {
      case 'majority-minority':
        return { fault: { kind: 'partition', groups: majorityMinority(nodes, rng) }, undo: heal };
      case 'one-way': {
        const [from, to] = twoSides(nodes, rng);
        return { fault: { kind: 'one-way', from, to }, undo: heal };
      }
      case 'bridge': {
        const shuffled = rng.shuffle([...nodes]);
        const bridge = shuffled[0]!;
        const rest = shuffled.slice(1);
        const cut = rng.int(1, rest.length - 1);
        return { fault: { kind: 'bridge', bridge, left: rest.slice(0, cut), right: rest.slice(cut) }, undo: heal };
      }
      case 'isolate':
        return { fault: { kind: 'isolate', node: rng.pick(nodes) }, undo: heal };
      case 'crash': {
        const up = nodes.filter((id) => this.#world.node(id).alive);
        if (up.length === 0) return undefined;
        const node = rng.pick(up);
        return { fault: { kind: 'crash', node }, undo: { kind: 'restart', node } };
      }
      case 'link': {
        const [a, b] = rng.shuffle([...nodes]) as [string, string];
        return { fault: { kind: 'link', a, b, config: this.#degrade }, undo: { kind: 'link', a, b, config: null } };
      }
      case 'reset-streams': {
        if (nodes.length < 2) return { fault: { kind: 'reset-streams', a: nodes[0]! }, undo: undefined };
        const [a, b] = rng.shuffle([...nodes]) as [string, string];
        return { fault: { kind: 'reset-streams', a, b }, undo: undefined };
      }
    }
  }
}

/** Splits `nodes` into two non-empty random sides. */
function twoSides(nodes: readonly string[], rng: Rng): [string[], string[]] {
  const shuffled = rng.shuffle([...nodes]);
  const cut = rng.int(1, shuffled.length - 1);
  return [shuffled.slice(0, cut), shuffled.slice(cut)];
}

function checkRange(argument: string, range: MsRange): MsRange {
  if (typeof range !== 'object' || range === null) throw invalidArgument(argument, '{ min, max }', range);
  assertNumber(`${argument}.min`, range.min, { min: 0 });
  assertNumber(`${argument}.max`, range.max, { min: range.min });
  return { min: range.min, max: range.max };
}
