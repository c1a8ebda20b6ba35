import { ManualClock, type Rng, assertInteger, assertNumber, invalidArgument } from '@novacron/core';
import { History } from './history.js';
import type { KvInput, KvOutput, KvValue } from './model.js';

/** Options for {@link simulateKvHistory}. */
export interface KvSimulationOptions {
  /** Source of every random choice; the same seed gives the same history. */
  rng: Rng;
  /** Concurrent clients, each with one operation outstanding at a time (default 8). */
  clients?: number;
  /** Keys `k0`..`k{keys-1}` (default 10). */
  keys?: number;
  /** Operations to invoke in total (default 1,000). */
  operations?: number;
  /** Relative weights of get, put and cas (default 0.5 / 0.3 / 0.2). */
  mix?: { get: number; put: number; cas: number };
  /** Request latency in virtual milliseconds, uniform in [min, max] (default 1–20). */
  latencyMs?: { min: number; max: number };
  /** Fraction of operations whose outcome is recorded as unknown; each takes effect with probability 1/2 (default 0). */
  unknownRate?: number;
  /** Fraction of operations that fail without taking effect (default 0). */
  failRate?: number;
}

/**
 * Records a history of clients running against a linearizable in-memory
 * key-value store in virtual time: each operation takes effect atomically
 * at a random instant inside its [invoke, return] interval, so concurrent
 * operations overlap freely and every history produced is linearizable.
 * Written values are unique (1, 2, 3, ...), so tests can inject violations
 * that are certain to be detected (a stale or never-written read). CAS
 * operations expect the value the client last saw for the key, so many
 * succeed and many fail.
 */
export function simulateKvHistory(options: KvSimulationOptions): History<KvInput, KvOutput> {
  const { rng } = options;
  if (typeof rng !== 'object' || rng === null || typeof rng.next !== 'function')
    throw invalidArgument('options.rng', 'an Rng', rng);
  const clients = options.clients ?? 8;
  const keys = options.keys ?? 10;
  const total = options.operations ?? 1000;
  const mix = options.mix ?? { get: 0.5, put: 0.3, cas: 0.2 };
  const latency = options.latencyMs ?? { min: 1, max: 20 };
  const unknownRate = options.unknownRate ?? 0;
  const failRate = options.failRate ?? 0;
  assertInteger('options.clients', clients, { min: 1, max: 10_000 });
  assertInteger('options.keys', keys, { min: 1, max: 1_000_000 });
  assertInteger('options.operations', total, { min: 0, max: 10_000_000 });
  assertNumber('options.mix.get', mix.get, { min: 0 });
  assertNumber('options.mix.put', mix.put, { min: 0 });
  assertNumber('options.mix.cas', mix.cas, { min: 0 });
  if (mix.get + mix.put + mix.cas <= 0) throw invalidArgument('options.mix', 'weights with a positive sum', mix);
  assertNumber('options.latencyMs.min', latency.min, { min: 0 });
  assertNumber('options.latencyMs.max', latency.max, { min: latency.min });
  assertNumber('options.unknownRate', unknownRate, { min: 0, max: 1 });
  assertNumber('options.failRate', failRate, { min: 0, max: 1 - unknownRate });

  const clock = new ManualClock();
  const history = new History<KvInput, KvOutput>(clock);
  const store = new Map<string, KvValue>();
  const weightSum = mix.get + mix.put + mix.cas;
  let invoked = 0;
  let nextValue = 1;

  const apply = (input: KvInput): KvOutput => {
    const current = store.get(input.key) ?? null;
    switch (input.op) {
      case 'get':
        return current;
      case 'put':
        store.set(input.key, input.value);
        return undefined;
      case 'cas':
        if (current !== input.expected) return false;
        store.set(input.key, input.value);
        return true;
    }
  };

  const startClient = (client: number) => {
    const lastSeen = new Map<string, KvValue | null>();
    const issue = () => {
      if (invoked >= total) return;
      invoked++;
      const key = `k${rng.int(0, keys - 1)}`;
      const pick = rng.next() * weightSum;
      const input: KvInput =
        pick < mix.get
          ? { op: 'get', key }
          : pick < mix.get + mix.put
            ? { op: 'put', key, value: nextValue++ }
            : { op: 'cas', key, expected: lastSeen.get(key) ?? null, value: nextValue++ };
      const id = history.invoke(client, input);
      const duration = latency.min + rng.next() * (latency.max - latency.min);
      const effectAt = rng.next() * duration;
      const fate = rng.next();
      const outcome = fate < unknownRate ? 'unknown' : fate < unknownRate + failRate ? 'fail' : 'ok';
      const takesEffect = outcome === 'ok' || (outcome === 'unknown' && rng.chance(0.5));
      let output: KvOutput;
      clock.setTimeout(() => {
        if (takesEffect) output = apply(input);
        clock.setTimeout(() => {
          if (outcome === 'ok') {
            history.ok(id, output);
            if (input.op === 'get') lastSeen.set(key, output as KvValue | null);
            else if (input.op === 'put' || output === true) lastSeen.set(key, input.value);
          } else if (outcome === 'fail') {
            history.fail(id);
          } else {
            history.unknown(id);
          }
          clock.setTimeout(issue, rng.next() * 2);
        }, duration - effectAt);
      }, effectAt);
    };
    clock.setTimeout(issue, rng.next() * latency.max);
  };

  for (let c = 0; c < clients; c++) startClient(c);
  while (clock.runNext()) {
    // Each timer schedules the next event of its client; the loop ends when all clients are done.
  }
  return history;
}
