#!/usr/bin/env node
// Prints the plain closing line CI reads ("tests: N passed, N failed,
// N skipped") from vitest's JSON report, so a run that executed nothing is
// visible as such. Exits non-zero when the report is missing or has failures.
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
if (!existsSync(file)) {
  console.error(`test-summary: ${file} not found (did vitest run?)`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
process.exit(r.numFailedTests > 0 || r.numTotalTests === 0 || r.success === false ? 1 : 0);
