import { readFileSync } from 'node:fs';
import type { LinkMode } from '@novacron/core';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { NodeErrorCode, nodeError } from '../errors.js';
import { PRESETS } from './presets.js';
import { type NodeConfig, type NodeConfigInput, nodeConfigSchema } from './schema.js';
import { configLeaves, envNameOf } from './schema-leaves.js';

/** Where a configuration value came from, lowest precedence first. */
export type ConfigSource = 'default' | 'file' | 'env' | 'programmatic';

/** One problem in a configuration. */
export interface ConfigIssue {
  /** Dotted path of the key (`api.listen`; `` for the whole document). */
  readonly path: string;
  /** The value found there (`undefined` when missing). */
  readonly value: unknown;
  /** What was expected, in words. */
  readonly expected: string;
  /** Which source supplied the value. */
  readonly source: ConfigSource;
}

/** Inputs of {@link loadNodeConfig}, applied in this order (later wins). */
export interface LoadNodeConfigOptions {
  /** YAML or JSON file (by extension; `.json` is JSON, anything else YAML). */
  readonly file?: string;
  /** Environment (default none; pass `process.env` to read `NOVACRON_*`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Values set by the embedding program. */
  readonly overrides?: NodeConfigInput;
}

/** Result of {@link loadNodeConfig}. */
export interface LoadedNodeConfig {
  /** The validated configuration with preset defaults resolved. */
  readonly config: NodeConfig;
  /** Which source set each key that did not come from defaults. */
  readonly sources: Readonly<Record<string, ConfigSource>>;
  /** `NOVACRON_*` variables that name no key (ignored; likely typos). */
  readonly unknownEnv: readonly string[];
}

// Variables other tools of the project use; not configuration keys.
const RESERVED_ENV = new Set([
  'NOVACRON_CONFIG',
  'NOVACRON_SLOW',
  'NOVACRON_FC_SEED',
  'NOVACRON_API_URL',
  'NOVACRON_API_TOKEN',
  'NOVACRON_CLUSTER_KEY',
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function mergeInto(
  target: Obj,
  layer: Obj,
  source: ConfigSource,
  sources: Record<string, ConfigSource>,
  prefix = '',
): void {
  for (const [k, v] of Object.entries(layer)) {
    if (v === undefined) continue;
    const path = prefix ? `${prefix}.${k}` : k;
    if (isObj(v) && isObj(target[k]) && !isRecordPath(path)) {
      mergeInto(target[k] as Obj, v, source, sources, path);
    } else {
      target[k] = isObj(v) && !isRecordPath(path) ? structuredClone(v) : v;
      markSources(v, path, source, sources);
    }
  }
}

function markSources(v: unknown, path: string, source: ConfigSource, sources: Record<string, ConfigSource>): void {
  if (isObj(v) && !isRecordPath(path))
    for (const [k, x] of Object.entries(v)) markSources(x, `${path}.${k}`, source, sources);
  else sources[path] = source;
}

let recordPaths: Set<string> | undefined;
function isRecordPath(path: string): boolean {
  recordPaths ??= new Set(
    configLeaves()
      .filter((l) => l.type === 'object')
      .map((l) => l.path),
  );
  return recordPaths.has(path);
}

function readFileLayer(file: string): Obj {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw nodeError(
      NodeErrorCode.CONFIG_FILE_UNREADABLE,
      `cannot read config file ${file}: ${(cause as Error).message}`,
      { file },
      cause,
    );
  }
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (cause) {
    throw nodeError(
      NodeErrorCode.CONFIG_FILE_UNREADABLE,
      `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(cause as Error).message}`,
      { file },
      cause,
    );
  }
  if (doc === null || doc === undefined) return {};
  if (!isObj(doc))
    throw nodeError(NodeErrorCode.CONFIG_INVALID, `config file ${file} must hold a mapping at the top level`, {
      file,
      issues: [{ path: '', value: doc, expected: 'a mapping of keys', source: 'file' }],
    });
  return doc;
}

function coerceEnv(raw: string, type: string): unknown {
  const t = raw.trim();
  switch (type) {
    case 'integer':
    case 'number':
      return t !== '' && Number.isFinite(Number(t)) ? Number(t) : raw;
    case 'boolean':
      return t === 'true' || t === '1' ? true : t === 'false' || t === '0' ? false : raw;
    case 'array':
      if (t.startsWith('[')) return parseJsonOr(t);
      return t === '' ? [] : t.split(',').map((s) => s.trim());
    case 'object':
      return parseJsonOr(t);
    default:
      return raw;
  }
}

function parseJsonOr(t: string): unknown {
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
}

function envLayer(env: Readonly<Record<string, string | undefined>>): { layer: Obj; unknown: string[] } {
  const byEnv = new Map(configLeaves().map((l) => [l.env, l]));
  const layer: Obj = {};
  const unknown: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('NOVACRON_') || raw === undefined || RESERVED_ENV.has(name)) continue;
    const leaf = byEnv.get(name);
    if (!leaf) {
      unknown.push(name);
      continue;
    }
    const segs = leaf.path.split('.');
    let at = layer;
    for (const s of segs.slice(0, -1)) {
      at[s] ??= {};
      at = at[s] as Obj;
    }
    at[segs[segs.length - 1]!] = coerceEnv(raw, leaf.type);
  }
  return { layer, unknown: unknown.sort() };
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let at = doc;
  for (const k of path) {
    if (!isObj(at) && !Array.isArray(at)) return undefined;
    at = (at as Record<PropertyKey, unknown>)[k];
  }
  return at;
}

function describeIssue(i: z.core.$ZodIssue): string {
  if (i.code === 'unrecognized_keys') return `no such key (known keys are listed in docs/configuration.md)`;
  return i.message.replace(/^Invalid input: /, '');
}

/** Formats issues one per line: `path = value (source): expected ...`. */
export function formatConfigIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((i) => {
      const where = i.source === 'env' ? `${envNameOf(i.path)} (env)` : `${i.path || '(top level)'} (${i.source})`;
      return `  ${where} = ${JSON.stringify(i.value) ?? 'undefined'}: expected ${i.expected}`;
    })
    .join('\n');
}

/**
 * Validates a raw configuration object (all sources already merged) and
 * resolves preset defaults. Throws `NODE_CONFIG_INVALID` with one issue per
 * problem: the path, the value found and what was expected.
 */
export function resolveNodeConfig(raw: unknown, sources: Readonly<Record<string, ConfigSource>> = {}): NodeConfig {
  const r = nodeConfigSchema.safeParse(raw);
  if (!r.success) {
    const issues: ConfigIssue[] = [];
    for (const i of r.error.issues) {
      const keys = i.code === 'unrecognized_keys' ? i.keys.map((k) => [...i.path, k]) : [i.path];
      for (const p of keys) {
        const path = p.map(String).join('.');
        let source: ConfigSource = 'default';
        for (let n = p.length; n > 0 && source === 'default'; n--)
          source = sources[p.slice(0, n).map(String).join('.')] ?? 'default';
        issues.push({ path, value: valueAt(raw, p), expected: describeIssue(i), source });
      }
    }
    throw nodeError(
      NodeErrorCode.CONFIG_INVALID,
      `invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${formatConfigIssues(issues)}`,
      { issues },
    );
  }
  const c = r.data;
  const preset = PRESETS[(c.preset ?? 'hybrid') as LinkMode];
  if (c.mode.window % 2 === 0)
    throw nodeError(
      NodeErrorCode.CONFIG_INVALID,
      `invalid configuration:\n  mode.window = ${c.mode.window}: expected an odd number`,
      {
        issues: [
          {
            path: 'mode.window',
            value: c.mode.window,
            expected: 'an odd number',
            source: sources['mode.window'] ?? 'default',
          },
        ],
      },
    );
  return {
    ...c,
    cluster: {
      ...c.cluster,
      failoverAfterMs: c.cluster.failoverAfterMs ?? preset.failoverAfterMs,
      raft: { ...c.cluster.raft, tickMs: c.cluster.raft.tickMs ?? preset.raftTickMs },
    },
    mode: { ...c.mode, probeIntervalMs: c.mode.probeIntervalMs ?? preset.probeIntervalMs },
  };
}

/**
 * Builds the node configuration from its sources in precedence order:
 * schema defaults < file (YAML or JSON) < `NOVACRON_*` environment <
 * programmatic overrides. Environment names are the key path in upper
 * snake case with `__` between levels (`api.maxBodyBytes` →
 * `NOVACRON_API__MAX_BODY_BYTES`); arrays take JSON or comma-separated
 * values, records JSON.
 *
 * @throws NovacronError `NODE_CONFIG_FILE_UNREADABLE` or `NODE_CONFIG_INVALID`.
 */
export function loadNodeConfig(options: LoadNodeConfigOptions = {}): LoadedNodeConfig {
  const merged: Obj = {};
  const sources: Record<string, ConfigSource> = {};
  if (options.file !== undefined) mergeInto(merged, readFileLayer(options.file), 'file', sources);
  let unknownEnv: string[] = [];
  if (options.env) {
    const { layer, unknown } = envLayer(options.env);
    unknownEnv = unknown;
    mergeInto(merged, layer, 'env', sources);
  }
  if (options.overrides) mergeInto(merged, options.overrides as Obj, 'programmatic', sources);
  return { config: resolveNodeConfig(merged, sources), sources, unknownEnv };
}
