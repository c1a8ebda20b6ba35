/**
 * Linearizability checker speed: histories recorded from a seeded
 * simulation of clients against a linearizable in-memory key-value store
 * (random latencies, so operations overlap), checked with testkit's WGL
 * checker and the key-value model. The headline row is the target:
 * 10,000 operations, 8 clients, 10 keys, gets/puts/CAS, under 10 s. Other
 * rows add unknown and failed outcomes, put all operations on one key (no
 * decomposition to help), and inject one stale read (the time to reject).
 * Prints a table and writes results/checker.json.
 *
 * No outside checker runs here: Porcupine needs Go and Knossos needs
 * Clojure, neither installed on this machine.
 *
 * Run: `npx tsx bench/src/checker.ts` (about 15 s).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { seededRng } from '@novacron/core';
import {
  History,
  type HistoryEntry,
  type KvInput,
  type KvOutput,
  type KvSimulationOptions,
  checkLinearizability,
  kvModel,
  simulateKvHistory,
} from '@novacron/testkit';

const SEED = 20_240_601;
/** Each row's check runs this many times; the table shows the median. */
const RUNS = 3;
/** The budget for the headline row. */
const TARGET_MS = 10_000;

interface Scenario {
  name: string;
  sim: Omit<KvSimulationOptions, 'rng'>;
  /** Replace one read with a certainly stale one before checking. */
  injectStaleRead?: boolean;
  expect: boolean;
}

const base = { clients: 8, keys: 10, operations: 10_000, mix: { get: 0.5, put: 0.3, cas: 0.2 } };
const scenarios: Scenario[] = [
  { name: '8 clients, 10 keys (target)', sim: base, expect: true },
  {
    name: '8 clients, 10 keys, 2% unknown + 2% failed',
    sim: { ...base, unknownRate: 0.02, failRate: 0.02 },
    expect: true,
  },
  { name: '8 clients, 10 keys, one stale read injected', sim: base, injectStaleRead: true, expect: false },
  { name: '8 clients, 1 key (no decomposition)', sim: { ...base, keys: 1 }, expect: true },
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Finds a late read R and writes W before X before R (in real time) on the
 * same key, and makes R return W's value: the simulator writes unique
 * values, so the result is certainly not linearizable.
 */
function injectStaleRead(history: History<KvInput, KvOutput>): History<KvInput, KvOutput> {
  const ops = history.operations();
  const isWrite = (o: (typeof ops)[number], key: string) =>
    o.status === 'ok' && o.input.key === key && (o.input.op === 'put' || (o.input.op === 'cas' && o.output === true));
  for (let r = ops.length - 1; r >= 0; r--) {
    const read = ops[r]!;
    if (read.status !== 'ok' || read.input.op !== 'get') continue;
    const writes = ops.filter((o) => isWrite(o, read.input.key));
    const x = writes.filter((o) => o.returnSeq < read.callSeq).at(-1);
    const w = x && writes.filter((o) => o.returnSeq < x.callSeq).at(-1);
    if (!w || w.input.op === 'get') continue;
    const stale = w.input.value;
    const entries = history
      .entries()
      .map((e): HistoryEntry<KvInput, KvOutput> => (e.type === 'ok' && e.id === read.id ? { ...e, output: stale } : e));
    return History.fromEntries(entries);
  }
  throw new Error('no read to make stale');
}

const rows = [];
for (const scenario of scenarios) {
  const g0 = performance.now();
  let history = simulateKvHistory({ rng: seededRng(`${SEED}/${scenario.name}`), ...scenario.sim });
  if (scenario.injectStaleRead) history = injectStaleRead(history);
  const generateMs = performance.now() - g0;
  const operations = history.operations();
  const times: number[] = [];
  let result: ReturnType<typeof checkLinearizability<unknown, KvInput, KvOutput>> | undefined;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    result = checkLinearizability(kvModel, operations, { timeoutMs: 60_000 });
    times.push(performance.now() - t0);
  }
  if (!result || result.ok !== scenario.expect) {
    throw new Error(`${scenario.name}: expected ok=${scenario.expect}, got ${String(result?.ok)}`);
  }
  const ms = median(times);
  rows.push({
    scenario: scenario.name,
    ops: operations.length,
    keys: result.stats.partitions,
    unknown: operations.filter((o) => o.status === 'unknown').length,
    verdict: result.ok === true ? 'linearizable' : result.ok === false ? `violation on ${result.key}` : 'unknown',
    ms: Number(ms.toFixed(1)),
    opsPerSec: Math.round(operations.length / (ms / 1000)),
    steps: result.stats.steps,
    backtracks: result.stats.backtracks,
    cacheEntries: result.stats.cacheEntries,
    generateMs: Number(generateMs.toFixed(1)),
    samplesMs: times.map((t) => Number(t.toFixed(1))),
  });
}

console.table(
  rows.map((r) => ({
    scenario: r.scenario,
    ops: r.ops,
    keys: r.keys,
    unknown: r.unknown,
    verdict: r.verdict,
    ms: r.ms,
    'ops/s': r.opsPerSec,
    steps: r.steps,
    backtracks: r.backtracks,
  })),
);
const target = rows[0]!;
console.log(
  `target: ${target.ops} ops checked in ${target.ms} ms (budget ${TARGET_MS} ms: ${target.ms < TARGET_MS ? 'met' : 'MISSED'})`,
);

const out = {
  benchmark: 'checker',
  date: new Date().toISOString(),
  machine: { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length },
  seed: SEED,
  runs: RUNS,
  targetMs: TARGET_MS,
  targetMet: target.ms < TARGET_MS,
  rows,
};
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('checker.json', dir), `${JSON.stringify(out, null, 2)}\n`);
console.log('wrote bench/results/checker.json');
