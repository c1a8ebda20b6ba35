import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_ROUTE_TABLE, NodeErrorCode, roleForRoute, runCli, statusOf } from '../../src/index.js';
import { parseBytes, table } from '../../src/cli/table.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err };
}

describe('CLI', () => {
  it('validates and prints configuration, with exit codes', async () => {
    const ok = capture();
    expect(await runCli(['config', 'validate', '--name', 'n1', '--json'], ok.io)).toBe(0);
    expect(JSON.parse(ok.out[0]!)).toEqual({ valid: true });
    const printed = capture();
    expect(await runCli(['config', 'print', '--json', '--preset', 'internet'], printed.io)).toBe(0);
    expect(JSON.parse(printed.out[0]!).cluster.failoverAfterMs).toBe(15000);
    const bad = capture();
    expect(await runCli(['config', 'validate', '--listen', 'nowhere'], bad.io)).toBe(2);
    expect(bad.err[0]).toContain('network.listen (programmatic) = "nowhere": expected host:port');
  });

  it('rejects unknown commands and flags with usage and exit 2', async () => {
    const a = capture();
    expect(await runCli(['frobnicate'], a.io)).toBe(2);
    expect(a.err[0]).toContain('unknown command');
    const b = capture();
    expect(await runCli(['vm', 'list', '--bogus'], b.io)).toBe(2);
    const c = capture();
    expect(await runCli(['vm', 'get'], c.io)).toBe(2);
  });

  it('reports an unreachable API as a typed error with exit 1', async () => {
    const c = capture();
    expect(await runCli(['vm', 'list', '--api-url', 'http://127.0.0.1:1'], c.io)).toBe(1);
    expect(c.err[0]).toContain(NodeErrorCode.CLIENT_UNREACHABLE);
  });

  it('formats tables and parses sizes', () => {
    expect(
      table(
        ['A', 'BB'],
        [
          ['x', 1],
          [undefined, 'long'],
        ],
      ),
    ).toBe('A  BB\nx  1\n-  long');
    expect(parseBytes('2GiB')).toBe(2 * 2 ** 30);
    expect(parseBytes('512m')).toBe(512 * 2 ** 20);
    expect(parseBytes('12')).toBe(12);
    expect(parseBytes('lots')).toBeUndefined();
  });
});

describe('API helpers', () => {
  it('maps error codes to HTTP statuses', () => {
    expect(statusOf(NodeErrorCode.API_BAD_REQUEST)).toBe(400);
    expect(statusOf('ITP_INVALID_REQUEST')).toBe(400);
    expect(statusOf(NodeErrorCode.VM_NOT_FOUND)).toBe(404);
    expect(statusOf(NodeErrorCode.UNSCHEDULABLE)).toBe(409);
    expect(statusOf(NodeErrorCode.NO_QUORUM)).toBe(503);
    expect(statusOf('SOMETHING_ELSE')).toBe(500);
  });

  it('docs/security.md lists every route with the permission, role and audit action the code enforces', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../../../docs/security.md'), 'utf8').replace(/ {2,}/g, ' ');
    for (const r of API_ROUTE_TABLE) {
      const perm = r.permission === 'open' ? 'open' : `\`${r.permission}\``;
      const audit = r.audit ? `\`${r.audit}\`` : '—';
      expect(doc, `${r.method} ${r.path}`).toContain(
        `| \`${r.method} ${r.path}\` | ${perm} | ${roleForRoute(r)} | ${audit} |`,
      );
    }
  });

  it('refuses secrets on the command line', async () => {
    const c = capture();
    expect(await runCli(['status', '--token', 'ncat_x'], c.io)).toBe(2);
    expect(c.err.join('\n')).toContain('--token takes no value on the command line');
  });
});
