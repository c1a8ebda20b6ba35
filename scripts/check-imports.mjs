#!/usr/bin/env node
// Fails on import cycles and on imports that break the direction rules of
// docs/architecture.md (DESIGN.md "Packages and the direction of imports").
// Uses the TypeScript scanner (ts.preProcessFile) so every static, dynamic,
// re-export and type-only import is seen without a full program build.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Which `@novacron/*` packages each package's runtime source may import. */
const DWCP = ['hde', 'amst', 'pba', 'acp', 'ass', 'itp'];
const allowed = {
  core: [],
  testkit: ['core'],
  providers: ['core'],
  node: ['core', ...DWCP, 'providers'],
  ...Object.fromEntries(DWCP.map((p) => [p, ['core']])),
};

const problems = [];

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(c|m)?tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function importsOf(file) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

function resolveRelative(from, spec) {
  const base = resolve(dirname(from), spec);
  const candidates = [
    base,
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.cjs$/, '.cts'),
    base.replace(/\.mjs$/, '.mts'),
    `${base}.ts`,
    join(base, 'index.ts'),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

const packages = readdirSync(join(root, 'packages')).filter((d) =>
  existsSync(join(root, 'packages', d, 'package.json')),
);

for (const pkg of packages) {
  const pkgDir = join(root, 'packages', pkg);
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const declared = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  if (!(pkg in allowed))
    problems.push(`packages/${pkg}: not listed in scripts/check-imports.mjs (add its import rule)`);
  const rule = allowed[pkg] ?? [];

  // Runtime sources: direction rules, declared dependencies, no escaping the package.
  const srcFiles = walk(join(pkgDir, 'src'));
  const graph = new Map();
  for (const file of srcFiles) {
    const rel = relative(root, file);
    const edges = [];
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) {
        const target = resolveRelative(file, spec);
        if (!target) problems.push(`${rel}: cannot resolve '${spec}'`);
        else if (!target.startsWith(pkgDir + sep))
          problems.push(`${rel}: relative import '${spec}' leaves the package`);
        else edges.push(target);
        continue;
      }
      const m = /^@novacron\/([^/]+)/.exec(spec);
      if (!m) continue;
      const target = m[1];
      if (target === pkg) problems.push(`${rel}: imports its own package by name ('${spec}'); use a relative import`);
      else if (!rule.includes(target))
        problems.push(
          `${rel}: @novacron/${pkg} may not import '${spec}' (allowed: ${rule.map((r) => '@novacron/' + r).join(', ') || 'none'})`,
        );
      else if (!declared.has(`@novacron/${target}`))
        problems.push(`${rel}: imports '${spec}' but packages/${pkg}/package.json does not declare it`);
    }
    graph.set(file, edges);
  }
  for (const cycle of findCycles(graph))
    problems.push(`import cycle in @novacron/${pkg}: ${cycle.map((f) => relative(root, f)).join(' -> ')}`);

  // Tests may use testkit and the package itself, but never another package's internals.
  for (const file of walk(join(pkgDir, 'test'))) {
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.') && !resolve(dirname(file), spec).startsWith(pkgDir + sep))
        problems.push(`${relative(root, file)}: relative import '${spec}' leaves the package`);
    }
  }
}

// Package-level graph from the manifests: must be acyclic too.
const pkgGraph = new Map(
  packages.map((p) => {
    const m = JSON.parse(readFileSync(join(root, 'packages', p, 'package.json'), 'utf8'));
    const deps = Object.keys({ ...m.dependencies, ...m.peerDependencies })
      .filter((d) => d.startsWith('@novacron/'))
      .map((d) => d.slice('@novacron/'.length));
    return [p, deps];
  }),
);
for (const cycle of findCycles(pkgGraph)) problems.push(`package dependency cycle: ${cycle.join(' -> ')}`);

/** Tarjan's strongly connected components; every component of size > 1 (or a self-loop) is a cycle. */
function findCycles(graph) {
  let index = 0;
  const stack = [];
  const onStack = new Set();
  const idx = new Map();
  const low = new Map();
  const cycles = [];
  const strong = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push([...comp.reverse(), comp[0]]);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

if (problems.length > 0) {
  console.error(`check-imports: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`check-imports: ${packages.length} packages, no cycles, direction rules hold`);
