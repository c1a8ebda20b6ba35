import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNovacronError } from '@novacron/core';
import { describe, expect, it } from 'vitest';
import {
  type ConfigIssue,
  configLeaves,
  envNameOf,
  loadNodeConfig,
  NodeErrorCode,
  renderConfigDocs,
  resolveNodeConfig,
} from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'novacron-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (err) {
    if (isNovacronError(err, NodeErrorCode.CONFIG_INVALID)) return err.details.issues as ConfigIssue[];
    throw err;
  }
  throw new Error('expected NODE_CONFIG_INVALID');
}

describe('node configuration', () => {
  it('has defaults for everything and resolves preset-dependent ones', () => {
    const c = resolveNodeConfig({});
    expect(c.api.listen).toBe('127.0.0.1:7480');
    expect(c.provider.kind).toBe('memory');
    expect(c.cluster.groups).toEqual({ control: { trust: 'trusted' } });
    expect(c.cluster.raft.tickMs).toBe(100); // hybrid without a preset
    const dc = resolveNodeConfig({ preset: 'datacenter' });
    expect([dc.cluster.raft.tickMs, dc.cluster.failoverAfterMs, dc.mode.probeIntervalMs]).toEqual([50, 2000, 500]);
    const inet = resolveNodeConfig({ preset: 'internet', cluster: { raft: { tickMs: 75 } } });
    expect([inet.cluster.raft.tickMs, inet.cluster.failoverAfterMs]).toEqual([75, 15000]);
    expect(inet.mode.profiles.internet.placementPolicy).toBe('geographic');
  });

  it('applies sources in order: defaults < file < env < programmatic', () => {
    const f = file(
      'node.yaml',
      'api:\n  listen: 127.0.0.1:9000\n  maxBodyBytes: 4096\nnode:\n  labels: { rack: r1 }\n  capacity: { cpuMillis: 2000 }\n',
    );
    const { config, sources } = loadNodeConfig({
      file: f,
      env: {
        NOVACRON_API__LISTEN: '127.0.0.1:9100',
        NOVACRON_NODE__CAPACITY__MEMORY_BYTES: '1073741824',
        NOVACRON_NETWORK__SEEDS: 'a@127.0.0.1:1,b@127.0.0.1:2',
        NOVACRON_API__ENABLED: 'false',
      },
      overrides: { api: { listen: '127.0.0.1:9200' } },
    });
    expect(config.api.listen).toBe('127.0.0.1:9200');
    expect(config.api.maxBodyBytes).toBe(4096);
    expect(config.api.enabled).toBe(false);
    expect(config.node.capacity).toEqual({ cpuMillis: 2000, memoryBytes: 1073741824, diskBytes: 0 });
    expect(config.node.labels).toEqual({ rack: 'r1' });
    expect(config.network.seeds).toEqual(['a@127.0.0.1:1', 'b@127.0.0.1:2']);
    expect(sources).toMatchObject({
      'api.listen': 'programmatic',
      'api.maxBodyBytes': 'file',
      'node.capacity.memoryBytes': 'env',
      'node.labels': 'file',
    });
  });

  it('reads JSON files too', () => {
    const f = file('node.json', JSON.stringify({ preset: 'internet', mode: { override: 'datacenter' } }));
    const { config } = loadNodeConfig({ file: f });
    expect(config.preset).toBe('internet');
    expect(config.mode.override).toBe('datacenter');
  });

  it('names the path, the value, the source and what was expected', () => {
    const f = file('bad.yaml', 'node:\n  capacity:\n    cpuMillis: -5\napi:\n  lisen: 1\n');
    const issues = issuesOf(() =>
      loadNodeConfig({ file: f, env: { NOVACRON_API__LISTEN: 'localhost', NOVACRON_MODE__WINDOW: 'many' } }),
    );
    const by = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(by['node.capacity.cpuMillis']).toMatchObject({ value: -5, source: 'file' });
    expect(by['node.capacity.cpuMillis']!.expected).toMatch(/>0/);
    expect(by['api.listen']).toMatchObject({ value: 'localhost', source: 'env' });
    expect(by['api.listen']!.expected).toContain('host:port');
    expect(by['api.lisen']).toMatchObject({ value: 1, source: 'file' });
    expect(by['api.lisen']!.expected).toContain('no such key');
    expect(by['mode.window']).toMatchObject({ value: 'many', source: 'env' });
    try {
      loadNodeConfig({ env: { NOVACRON_API__LISTEN: 'localhost' } });
    } catch (err) {
      expect((err as Error).message).toContain('NOVACRON_API__LISTEN (env) = "localhost": expected host:port');
    }
  });

  it('rejects an even detector window and reports unknown NOVACRON_ variables', () => {
    expect(issuesOf(() => resolveNodeConfig({ mode: { window: 4 } }))[0]).toMatchObject({
      path: 'mode.window',
      value: 4,
    });
    const { unknownEnv } = loadNodeConfig({ env: { NOVACRON_API__LISTN: 'x', NOVACRON_SLOW: '1', HOME: '/' } });
    expect(unknownEnv).toEqual(['NOVACRON_API__LISTN']);
  });

  it('turns unreadable and malformed files into typed errors', () => {
    expect(() => loadNodeConfig({ file: join(dir, 'missing.yaml') })).toThrow(
      expect.objectContaining({ code: NodeErrorCode.CONFIG_FILE_UNREADABLE }),
    );
    expect(() => loadNodeConfig({ file: file('x.json', '{ nope') })).toThrow(
      expect.objectContaining({ code: NodeErrorCode.CONFIG_FILE_UNREADABLE }),
    );
    expect(issuesOf(() => loadNodeConfig({ file: file('list.yaml', '- a\n- b\n') }))[0]).toMatchObject({ path: '' });
  });

  it('maps every key to an environment variable that round-trips', () => {
    expect(envNameOf('api.maxBodyBytes')).toBe('NOVACRON_API__MAX_BODY_BYTES');
    const leaves = configLeaves();
    expect(new Set(leaves.map((l) => l.env)).size).toBe(leaves.length);
    expect(leaves.every((l) => l.description.length > 0)).toBe(true);
  });

  it('docs/configuration.md lists every key and matches the schema', () => {
    const path = join(import.meta.dirname, '../../../../docs/configuration.md');
    const rendered = renderConfigDocs();
    if (process.env.UPDATE_DOCS === '1') writeFileSync(path, rendered);
    const onDisk = readFileSync(path, 'utf8');
    // biome pads markdown tables; compare with padding collapsed.
    const norm = (t: string) => t.replace(/ {2,}/g, ' ').replace(/-{3,}/g, '---');
    expect(norm(onDisk)).toBe(norm(rendered));
    for (const l of configLeaves()) expect(onDisk).toContain(`\`${l.path}\``);
  });
});
