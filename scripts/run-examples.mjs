#!/usr/bin/env node
// Smoke-tests every example: runs its `smoke` script (against the built
// packages, as a consumer would) with a time limit, and fails if any exits
// non-zero. Run after `pnpm build`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const examplesDir = join(root, 'examples');
let passed = 0;
const failed = [];
for (const dir of existsSync(examplesDir) ? readdirSync(examplesDir).sort() : []) {
  const manifestPath = join(examplesDir, dir, 'package.json');
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (!manifest.scripts?.smoke) {
    failed.push(`${dir}: no "smoke" script`);
    continue;
  }
  const started = Date.now();
  const r = spawnSync('pnpm', ['run', '--silent', 'smoke'], {
    cwd: join(examplesDir, dir),
    encoding: 'utf8',
    timeout: 120_000,
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.status === 0) {
    passed++;
    console.log(`example ${dir}: ok (${secs} s)`);
  } else {
    failed.push(`${dir}: exit ${r.status ?? r.signal} after ${secs} s\n${r.stdout}\n${r.stderr}`);
  }
}
for (const f of failed) console.error(`example ${f}`);
console.log(`examples: ${passed} passed, ${failed.length} failed`);
process.exit(failed.length > 0 || passed === 0 ? 1 : 0);
