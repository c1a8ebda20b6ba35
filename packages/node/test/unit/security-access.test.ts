import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ManualClock } from '@novacron/core';
import {
  API_PERMISSIONS,
  API_ROLES,
  ApiAccess,
  type ApiPermission,
  AuthRateLimiter,
  JoinTokenStore,
  Secret,
  SecurityErrorCode,
  fileTokenPersistence,
  readSecret,
  refuseSecretFlags,
  roleAllows,
} from '@novacron/node';
import { MemoryFileIO } from '@novacron/testkit';
import { expectNovacronError, expectNovacronRejection } from '@novacron/testkit/vitest';
import { describe, expect, it } from 'vitest';

describe('JoinTokenStore', () => {
  it('admits once, refuses reuse, expiry, forgery; stores no secret; survives reopen', async () => {
    const io = new MemoryFileIO();
    await io.mkdir('/s');
    let now = 1_800_000_000_000;
    const persistence = fileTokenPersistence<never>(io, '/s/join.json');
    const store = await JoinTokenStore.open({ persistence: persistence as never, wallClock: () => now });
    const { token, record } = await store.issue({ ttlMs: 600_000, issuedBy: 'cli' });
    expect(token).toMatch(/^ncjt_[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    const onDisk = new TextDecoder().decode(await io.readFile('/s/join.json'));
    expect(onDisk).not.toContain(token.split('.')[1]);
    expect(onDisk).toContain(record.id);
    const secret = token.split('.')[1]!;
    const wrong = `${token.split('.')[0]}.${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    await expectNovacronRejection(store.consume(wrong, 'n1'), SecurityErrorCode.JOIN_TOKEN_INVALID);
    await expectNovacronRejection(store.consume('ncjt_nothex.x', 'n1'), SecurityErrorCode.JOIN_TOKEN_INVALID);
    expect((await store.consume(token, 'n1')).usedBy).toBe('n1');
    await expectNovacronRejection(store.consume(token, 'n2'), SecurityErrorCode.JOIN_TOKEN_USED);
    // The use is durable: a reopened store (another process after a crash) refuses it too.
    const reopened = await JoinTokenStore.open({ persistence: persistence as never, wallClock: () => now });
    await expectNovacronRejection(reopened.consume(token, 'n3'), SecurityErrorCode.JOIN_TOKEN_USED);
    const late = await store.issue({ ttlMs: 60_000, issuedBy: 'cli' });
    now += 60_000;
    await expectNovacronRejection(store.consume(late.token, 'n4'), SecurityErrorCode.JOIN_TOKEN_EXPIRED);
    const revoked = await store.issue({ issuedBy: 'cli' });
    expect(await store.revoke(revoked.record.id)).toBe(true);
    await expectNovacronRejection(store.consume(revoked.token, 'n5'), SecurityErrorCode.JOIN_TOKEN_EXPIRED);
  });

  it('a token races itself: exactly one of many concurrent uses wins', async () => {
    const store = await JoinTokenStore.open();
    const { token } = await store.issue({ issuedBy: 'cli' });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.consume(token, `n${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});

describe('ApiAccess', () => {
  it('each role can do exactly what the table says', async () => {
    const access = await ApiAccess.open();
    for (const role of API_ROLES) {
      const { token } = await access.issue({ role, name: role });
      const who = access.authenticate(`Bearer ${token}`, '10.0.0.1');
      expect(who.role).toBe(role);
      for (const permission of Object.keys(API_PERMISSIONS) as ApiPermission[]) {
        const allowed = API_ROLES.indexOf(role) >= API_ROLES.indexOf(API_PERMISSIONS[permission]);
        expect(roleAllows(role, permission)).toBe(allowed);
        if (allowed) access.authorize(who, permission);
        else expectNovacronError(() => access.authorize(who, permission), SecurityErrorCode.FORBIDDEN);
      }
    }
    expect(roleAllows('viewer', 'vms.write')).toBe(false);
    expect(roleAllows('operator', 'vms.write')).toBe(true);
    expect(roleAllows('operator', 'members.manage')).toBe(false);
  });

  it('refuses missing, malformed, wrong, revoked and expired credentials alike', async () => {
    let now = 1_000;
    const access = await ApiAccess.open({ wallClock: () => now });
    const live = await access.issue({ role: 'admin', name: 'a' });
    const short = await access.issue({ role: 'admin', name: 'b', ttlMs: 10 });
    const gone = await access.issue({ role: 'admin', name: 'c' });
    await access.revoke(gone.record.id);
    now += 10;
    for (const header of [
      undefined,
      '',
      'Bearer',
      `Basic ${live.token}`,
      `Bearer ${live.token}x`,
      `Bearer ${short.token}`,
      `Bearer ${gone.token}`,
    ])
      expectNovacronError(() => access.authenticate(header, 'src'), SecurityErrorCode.UNAUTHENTICATED);
    expect(access.authenticate(`Bearer ${live.token}`, 'src').id).toBe(live.record.id);
  });

  it('locks out a guessing source, with growing lockouts, while others keep working', async () => {
    const clock = new ManualClock();
    const limiter = new AuthRateLimiter({ clock, maxFailures: 5, windowMs: 60_000, lockoutMs: 30_000 });
    const access = await ApiAccess.open({ limiter });
    const { token } = await access.issue({ role: 'viewer', name: 'v' });
    for (let i = 0; i < 4; i++)
      expectNovacronError(() => access.authenticate('Bearer nope', 'evil'), SecurityErrorCode.UNAUTHENTICATED);
    const err = expectNovacronError(
      () => access.authenticate('Bearer nope', 'evil'),
      SecurityErrorCode.AUTH_RATE_LIMITED,
    );
    expect(err.details.retryAfterMs).toBe(30_000);
    // Even a correct token from a locked-out source waits.
    expectNovacronError(() => access.authenticate(`Bearer ${token}`, 'evil'), SecurityErrorCode.AUTH_RATE_LIMITED);
    expect(access.authenticate(`Bearer ${token}`, 'good').role).toBe('viewer');
    clock.advance(30_000);
    for (let i = 0; i < 4; i++)
      expectNovacronError(() => access.authenticate('Bearer nope', 'evil'), SecurityErrorCode.UNAUTHENTICATED);
    expect(
      expectNovacronError(() => access.authenticate('Bearer nope', 'evil'), SecurityErrorCode.AUTH_RATE_LIMITED).details
        .retryAfterMs,
    ).toBe(60_000);
  });

  it('bounds the sources it tracks', () => {
    const limiter = new AuthRateLimiter({ clock: new ManualClock(), maxSources: 3, maxFailures: 2 });
    for (let i = 0; i < 100; i++) limiter.fail(`s${i}`);
    expect(limiter.fail('s99')).toBeGreaterThan(0);
    expect(limiter.retryAfter('s0')).toBe(0);
  });
});

describe('secrets hygiene', () => {
  it('a Secret never prints', () => {
    const s = new Secret('hunter2');
    expect(String(s)).toBe('[secret]');
    expect(JSON.stringify({ s })).toBe('{"s":"[secret]"}');
    expect(inspect({ s })).not.toContain('hunter2');
    expect(s.reveal()).toBe('hunter2');
  });

  it('reads secrets from files or the environment, never from argv', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-secret-'));
    writeFileSync(join(dir, 'token'), 'abc\n');
    expect(readSecret({ name: 'api token', file: join(dir, 'token') }).reveal()).toBe('abc');
    expect(readSecret({ name: 'api token', env: 'NC_T' }, { NC_T: 'xyz' }).reveal()).toBe('xyz');
    const err = expectNovacronError(
      () => readSecret({ name: 'api token', env: 'NC_T' }, {}),
      SecurityErrorCode.SECRET_UNAVAILABLE,
    );
    expect(JSON.stringify(err.details)).not.toContain('xyz');
    expectNovacronError(
      () => refuseSecretFlags(['vm', 'list', '--token=abc'], ['--token']),
      SecurityErrorCode.SECRET_UNAVAILABLE,
    );
    refuseSecretFlags(['vm', 'list', '--token-file', '/x'], ['--token']);
  });
});
