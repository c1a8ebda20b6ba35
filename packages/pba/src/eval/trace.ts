import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { NovacronError, strongHash } from '@novacron/core';
import { PbaErrorCode } from '../errors.js';

/** One throughput trace: sample times (seconds) and values (Mbit/s in the shared traces). */
export interface TraceSeries {
  /** File name, which also decides the train/test split. */
  readonly name: string;
  /** Sample times in seconds, non-decreasing. */
  readonly times: Float64Array;
  /** Sample values (>= 0). */
  readonly values: Float64Array;
}

/** Longest trace file accepted (bytes): the shared traces are far below it. */
export const MAX_TRACE_BYTES = 16 * 1024 * 1024;

/**
 * Parses a trace in the shared format: one sample per line,
 * `time_seconds throughput`, separated by spaces or tabs; blank lines are
 * skipped. Anything else raises `PBA_TRACE_INVALID` with the line number.
 */
export function parseTrace(name: string, text: string): TraceSeries {
  if (text.length > MAX_TRACE_BYTES)
    throw new NovacronError(PbaErrorCode.TRACE_INVALID, `${name}: trace too large`, { details: { name } });
  const times: number[] = [];
  const values: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const parts = line.split(/\s+/);
    const t = Number(parts[0]);
    const v = Number(parts[1]);
    if (
      parts.length < 2 ||
      !Number.isFinite(t) ||
      !Number.isFinite(v) ||
      v < 0 ||
      (times.length > 0 && t < times.at(-1)!)
    )
      throw new NovacronError(PbaErrorCode.TRACE_INVALID, `${name}:${i + 1}: expected "time throughput"`, {
        details: { name, line: i + 1 },
      });
    times.push(t);
    values.push(v);
  }
  return { name, times: Float64Array.from(times), values: Float64Array.from(values) };
}

/** Reads every file of a directory as a trace, sorted by name. */
export function loadTraceDir(dir: string): TraceSeries[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()
    .map((f) => parseTrace(f, readFileSync(join(dir, f), 'utf8')));
}

/**
 * The committed, deterministic split for trace sets that have no test
 * folder of their own: a file is held out when the first byte of the
 * SHA-256 of its name is below `testShare × 256` (default 0.3). Depends
 * only on the name, so adding files never moves existing ones.
 */
export function isHeldOut(name: string, testShare = 0.3): boolean {
  return strongHash(new TextEncoder().encode(name))[0]! < Math.round(testShare * 256);
}

/** Train and test traces of one set. */
export interface TraceSet {
  /** Set name, e.g. "norway-3g". */
  readonly name: string;
  /** Files a model may be fitted on. */
  readonly train: readonly TraceSeries[];
  /** Held-out files every figure is reported on. */
  readonly test: readonly TraceSeries[];
}

/**
 * Loads the three sets of the shared trace collection (see its README)
 * from `root`: Norway 3G/HSDPA and Oboe split by {@link isHeldOut}, FCC 2016
 * by its own `cooked_traces/` and `test_traces/` folders.
 */
export function loadTraceSets(root: string): TraceSet[] {
  const split = (name: string, all: TraceSeries[]): TraceSet => ({
    name,
    train: all.filter((t) => !isHeldOut(t.name)),
    test: all.filter((t) => isHeldOut(t.name)),
  });
  return [
    split('norway-3g', loadTraceDir(join(root, 'cooked_3gp'))),
    {
      name: 'fcc-2016',
      train: loadTraceDir(join(root, 'fcc_ori', 'cooked_traces')),
      test: loadTraceDir(join(root, 'fcc_ori', 'test_traces')),
    },
    split('oboe', loadTraceDir(join(root, 'traces_oboe'))),
  ];
}

/** Median time between consecutive samples over a set of traces, in seconds. */
export function medianStepSeconds(traces: readonly TraceSeries[]): number {
  const steps: number[] = [];
  for (const t of traces) for (let i = 1; i < t.times.length; i++) steps.push(t.times[i]! - t.times[i - 1]!);
  steps.sort((a, b) => a - b);
  return steps.length ? steps[steps.length >> 1]! : Number.NaN;
}
