import { PRESETS } from './presets.js';
import { configLeaves } from './schema-leaves.js';
import { resolveNodeConfig } from './load-config.js';

const PRESET_KEYS: Record<string, keyof (typeof PRESETS)['hybrid']> = {
  'cluster.raft.tickMs': 'raftTickMs',
  'cluster.failoverAfterMs': 'failoverAfterMs',
  'mode.probeIntervalMs': 'probeIntervalMs',
};

function at(doc: unknown, path: string): unknown {
  let v = doc;
  for (const k of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * Renders docs/configuration.md from the schema: every key with its type,
 * default, environment variable and description. A unit test fails when the
 * checked-in file differs (regenerate with `UPDATE_DOCS=1 npx vitest run --project node config-docs`).
 */
export function renderConfigDocs(): string {
  const defaults = resolveNodeConfig({});
  const rows = configLeaves().map((l) => {
    const presetKey = PRESET_KEYS[l.path];
    const def = presetKey
      ? `by preset: ${(['datacenter', 'hybrid', 'internet'] as const).map((p) => `${p} ${PRESETS[p][presetKey]}`).join(', ')}`
      : at(defaults, l.path) === undefined
        ? '—'
        : `\`${JSON.stringify(at(defaults, l.path))}\``;
    const type = l.values ? l.values.map((v) => `\`${String(v)}\``).join(' | ') : l.type;
    const constraints = l.constraints.length > 0 ? ` (${l.constraints.join(', ')})` : '';
    return `| \`${l.path}\` | ${cell(type)}${cell(constraints)} | ${cell(def)} | \`${l.env}\` | ${cell(l.description)} |`;
  });
  return `<!-- Generated from packages/node/src/config/schema.ts by renderConfigDocs(); a test keeps it in step. -->
# Node configuration

One schema serves every mode; presets only change defaults. Validation uses
[zod](https://zod.dev) 4 (see packages/node/README.md for why).

## Sources and precedence

Later sources win, key by key (objects merge, arrays and records are replaced):

1. schema defaults (and the preset's defaults, below);
2. a file, YAML or JSON by extension (\`novacron node start --config node.yaml\`);
3. the environment: \`NOVACRON_\` + the key path in upper snake case with \`__\`
   between levels, e.g. \`api.maxBodyBytes\` → \`NOVACRON_API__MAX_BODY_BYTES\`;
   arrays take JSON or comma-separated values, records take JSON;
4. values passed by the embedding program (\`createNode({ config })\` or
   \`loadNodeConfig({ overrides })\`).

A bad value fails start with one line per problem naming the key (or
variable), the value found, where it came from and what was expected:

\`\`\`
invalid configuration (2 problems):
  NOVACRON_API__LISTEN (env) = "localhost": expected host:port, e.g. 127.0.0.1:7400 ([v6]:port for IPv6)
  node.capacity.cpuMillis (file) = -1: expected Too small: expected number to be >0
\`\`\`

Unknown keys are errors (they are usually typos). Unknown \`NOVACRON_*\`
variables are reported as warnings and ignored.

## Presets

| preset | Raft tick | failover after | RTT probe every | detector starts in |
| --- | --- | --- | --- | --- |
${(['datacenter', 'hybrid', 'internet'] as const)
  .map(
    (p) =>
      `| \`${p}\` | ${PRESETS[p].raftTickMs} ms | ${PRESETS[p].failoverAfterMs} ms | ${PRESETS[p].probeIntervalMs} ms | \`${p}\` |`,
  )
  .join('\n')}

Without a preset the \`hybrid\` values apply. The preset does not fix the
link mode: the node still measures its links and changes mode (see
\`mode.*\`); \`mode.override\` fixes it.

## Trust

\`cluster.groups.<name>.trust\` chooses the consensus protocol per group:
\`trusted\` members (one operator) run Raft; \`untrusted\` ones run PBFT.
This release ships Raft; a group configured \`untrusted\` fails start with
\`NODE_COMPONENT_START_FAILED\` until PBFT lands (#7).

## Keys

| key | type | default | environment | description |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}
