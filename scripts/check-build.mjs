#!/usr/bin/env node
// The build check: after `pnpm build`, every package must ship ESM (.js +
// .d.ts) and CJS (.cjs + .d.cts) for every entry of its exports map, and a
// consumer must be able to load each entry both ways, at runtime and in the
// type checker (module: nodenext, as a published package is consumed).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const problems = [];
const entries = []; // { spec, pkgDir }

for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  if (!existsSync(join(pkgDir, 'package.json'))) continue;
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  if (manifest.sideEffects !== false) problems.push(`${manifest.name}: "sideEffects" must be false`);
  if (manifest.engines?.node !== '>=20.19') problems.push(`${manifest.name}: engines.node must be ">=20.19"`);
  for (const [sub, target] of Object.entries(manifest.exports ?? {})) {
    if (sub === './package.json') continue;
    const esmOnly = target.require === undefined;
    if (Object.keys(target.import ?? {})[0] !== 'types' || (!esmOnly && Object.keys(target.require)[0] !== 'types')) {
      problems.push(`${manifest.name} ${sub}: "types" must come first in each condition`);
    }
    const files = [
      target.import?.types,
      target.import?.default,
      ...(esmOnly ? [] : [target.require.types, target.require.default]),
    ];
    for (const file of files) {
      if (!file) problems.push(`${manifest.name} ${sub}: exports entry lacks a types/default file`);
      else if (!existsSync(join(pkgDir, file))) problems.push(`${manifest.name} ${sub}: ${file} was not built`);
    }
    // ESM-only is allowed for one reason: the entry imports vitest, which refuses require().
    if (esmOnly && target.import?.default && existsSync(join(pkgDir, target.import.default))) {
      const code = readFileSync(join(pkgDir, target.import.default), 'utf8');
      if (!/from ['"]vitest['"]/.test(code))
        problems.push(`${manifest.name} ${sub}: has no CJS build but does not import vitest`);
    }
    entries.push({
      spec: sub === '.' ? manifest.name : `${manifest.name}/${sub.slice(2)}`,
      name: manifest.name,
      pkgDir,
      esmOnly,
    });
  }
}

// A consumer project outside the workspace, with the packages linked in as a
// registry install would place them.
const work = join(tmpdir(), `novacron-build-check-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'node_modules', '@novacron'), { recursive: true });
for (const { name, pkgDir } of entries) {
  const link = join(work, 'node_modules', name);
  if (!existsSync(link)) symlinkSync(pkgDir, link, 'dir');
}
// Peer dependencies a consumer would install itself.
for (const peer of ['vitest', '@types/node']) {
  const link = join(work, 'node_modules', peer);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(join(root, 'node_modules', peer), link, 'dir');
}
writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));

const specs = entries.map((e) => e.spec);
const cjsSpecs = entries.filter((e) => !e.esmOnly).map((e) => e.spec);
writeFileSync(
  join(work, 'load.mjs'),
  `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const out = {};
const cjsSpecs = new Set(${JSON.stringify(cjsSpecs)});
for (const spec of ${JSON.stringify(specs)}) {
  const esm = Object.keys(await import(spec)).filter((k) => k !== 'default' && k !== 'module.exports').sort();
  const cjs = cjsSpecs.has(spec) ? Object.keys(require(spec)).filter((k) => k !== 'default' && k !== '__esModule').sort() : esm;
  out[spec] = { esm, cjs };
}
console.log(JSON.stringify(out));
`,
);
let loaded = {};
try {
  loaded = JSON.parse(
    execFileSync(process.execPath, ['load.mjs'], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
  );
} catch (err) {
  problems.push(`loading the built packages failed:\n${err.stderr || err.message}`);
}
for (const [spec, { esm, cjs }] of Object.entries(loaded)) {
  if (esm.join() !== cjs.join())
    problems.push(`${spec}: ESM and CJS export different names (esm: ${esm.length}, cjs: ${cjs.length})`);
}

// Type resolution as a published package: both module kinds under nodenext.
const importLines = specs.map((s, i) => `import * as m${i} from '${s}';\nvoid m${i};`).join('\n');
writeFileSync(join(work, 'consumer.mts'), `${importLines}\nexport {};\n`);
writeFileSync(
  join(work, 'consumer.cts'),
  cjsSpecs.map((s, i) => `import m${i} = require('${s}');\nvoid m${i};`).join('\n') + '\nexport {};\n',
);
writeFileSync(
  join(work, 'tsconfig.json'),
  JSON.stringify({
    compilerOptions: {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
    },
    files: ['consumer.mts', 'consumer.cts'],
  }),
);
try {
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
    cwd: work,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
} catch (err) {
  problems.push(
    `type-checking a nodenext consumer of the built packages failed:\n${err.stdout || ''}${err.stderr || err.message}`,
  );
}
rmSync(work, { recursive: true, force: true });

if (problems.length > 0) {
  console.error(`check-build: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(
  `check-build: ${entries.length} entries across ${new Set(entries.map((e) => e.name)).size} packages load as ESM (${cjsSpecs.length} also as CJS), with types`,
);
