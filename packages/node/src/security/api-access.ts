import { NovacronError, assertString, invalidArgument } from '@novacron/core';
import type { AuthRateLimiter } from './auth-rate-limiter.js';
import { type ApiPermission, type ApiRole, API_PERMISSIONS, isApiRole, roleAllows } from './roles.js';
import { SecurityErrorCode } from './security-errors.js';
import { hashSecret, mintToken, parseToken, secretMatches } from './token-format.js';
import { type TokenPersistence, memoryTokenPersistence } from './token-persistence.js';

/** An API token as stored (the secret's hash only). */
export interface ApiTokenRecord {
  readonly id: string;
  readonly hash: string;
  readonly role: ApiRole;
  /** A label for people ("ci", "alice"). */
  readonly name: string;
  readonly createdAt: number;
  /** Wall-clock ms after which it stops working; none when absent. */
  readonly expiresAt?: number;
  readonly revokedAt?: number;
}

/** Who is calling, once authenticated. */
export interface ApiPrincipal {
  /** Token id (or `cert:<node id>` for client certificates): what the audit log records. */
  readonly id: string;
  readonly role: ApiRole;
  readonly name: string;
}

/** Options of {@link ApiAccess.open}. */
export interface ApiAccessOptions {
  readonly persistence?: TokenPersistence<ApiTokenRecord>;
  /** Failed authentications are counted here per source; locked-out sources are refused before any check. */
  readonly limiter?: AuthRateLimiter;
  readonly wallClock?: () => number;
  /**
   * Consulted for token ids not in this table: tokens issued elsewhere in the
   * cluster (the node reads them from its replica of the control log).
   */
  readonly lookup?: (id: string) => ApiTokenRecord | undefined;
}

/**
 * Bearer-token authentication and role-based authorisation for the HTTP
 * API. Tokens are `ncat_<id>.<secret>`; the table stores only SHA-256 of
 * secrets. Every failure is the same `NODE_UNAUTHENTICATED` (no hint
 * whether the id exists), counted per source by the rate limiter.
 */
export class ApiAccess {
  private tokens = new Map<string, ApiTokenRecord>();
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly persistence: TokenPersistence<ApiTokenRecord>,
    private readonly limiter: AuthRateLimiter | undefined,
    private readonly wallClock: () => number,
    private readonly lookup: ((id: string) => ApiTokenRecord | undefined) | undefined,
  ) {}

  /** Loads the token table. */
  static async open(options: ApiAccessOptions = {}): Promise<ApiAccess> {
    const a = new ApiAccess(
      options.persistence ?? memoryTokenPersistence(),
      options.limiter,
      options.wallClock ?? Date.now,
      options.lookup,
    );
    for (const r of await a.persistence.load()) a.tokens.set(r.id, r);
    return a;
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f);
    this.lock = run.catch(() => {});
    return run;
  }

  /** Issues a token; the returned string is the only copy of its secret. */
  issue(options: { readonly role: ApiRole; readonly name: string; readonly ttlMs?: number }): Promise<{
    token: string;
    record: ApiTokenRecord;
  }> {
    if (!isApiRole(options.role)) throw invalidArgument('role', 'viewer, operator or admin', options.role);
    assertString('name', options.name, { nonEmpty: true });
    return this.exclusive(async () => {
      const minted = mintToken('ncat');
      const now = this.wallClock();
      const record: ApiTokenRecord = {
        id: minted.id,
        hash: minted.hash,
        role: options.role,
        name: options.name,
        createdAt: now,
        ...(options.ttlMs === undefined ? {} : { expiresAt: now + options.ttlMs }),
      };
      const next = new Map(this.tokens).set(record.id, record);
      await this.persistence.save([...next.values()]);
      this.tokens = next;
      return { token: minted.token, record };
    });
  }

  /**
   * Makes an existing token string valid here with `role` (its hash is
   * stored, never the string): how every node of a cluster accepts the one
   * bootstrap admin token. No-op when the id is already known.
   */
  adopt(token: string, options: { readonly role: ApiRole; readonly name: string }): Promise<ApiTokenRecord> {
    if (!isApiRole(options.role)) throw invalidArgument('role', 'viewer, operator or admin', options.role);
    const parsed = parseToken('ncat', token);
    if (parsed === undefined) throw invalidArgument('token', 'an API token ncat_<id>.<secret>', '[secret]');
    return this.exclusive(async () => {
      const known = this.tokens.get(parsed.id);
      if (known !== undefined) return known;
      const record: ApiTokenRecord = {
        id: parsed.id,
        hash: hashSecret(parsed.secret),
        role: options.role,
        name: options.name,
        createdAt: this.wallClock(),
      };
      const next = new Map(this.tokens).set(record.id, record);
      await this.persistence.save([...next.values()]);
      this.tokens = next;
      return record;
    });
  }

  /** Revokes a token by id; true when it existed and was live. */
  revoke(id: string): Promise<boolean> {
    return this.exclusive(async () => {
      const r = this.tokens.get(id);
      if (r === undefined || r.revokedAt !== undefined) return false;
      const next = new Map(this.tokens).set(id, { ...r, revokedAt: this.wallClock() });
      await this.persistence.save([...next.values()]);
      this.tokens = next;
      return true;
    });
  }

  /** Token records (no secrets). */
  list(): ApiTokenRecord[] {
    return [...this.tokens.values()];
  }

  /**
   * Authenticates an `Authorization` header value from `source` (the
   * client's address). `NODE_AUTH_RATE_LIMITED` (details.retryAfterMs) while
   * the source is locked out, else `NODE_UNAUTHENTICATED` on any failure.
   */
  authenticate(authorization: string | undefined, source: string): ApiPrincipal {
    const wait = this.limiter?.retryAfter(source) ?? 0;
    if (wait > 0)
      throw new NovacronError(SecurityErrorCode.AUTH_RATE_LIMITED, 'too many failed authentications; try again later', {
        details: { retryAfterMs: wait },
      });
    const m = /^Bearer (\S+)$/.exec(authorization ?? '');
    const parsed = m ? parseToken('ncat', m[1]) : undefined;
    const r = parsed && (this.tokens.get(parsed.id) ?? this.lookup?.(parsed.id));
    const now = this.wallClock();
    if (
      parsed === undefined ||
      r === undefined ||
      !secretMatches(parsed.secret, r.hash) ||
      r.revokedAt !== undefined ||
      (r.expiresAt !== undefined && now >= r.expiresAt)
    ) {
      const lock = this.limiter?.fail(source) ?? 0;
      if (lock > 0)
        throw new NovacronError(
          SecurityErrorCode.AUTH_RATE_LIMITED,
          'too many failed authentications; try again later',
          {
            details: { retryAfterMs: lock },
          },
        );
      throw new NovacronError(SecurityErrorCode.UNAUTHENTICATED, 'missing or invalid credentials');
    }
    this.limiter?.succeed(source);
    return { id: r.id, role: r.role, name: r.name };
  }

  /** Throws `NODE_FORBIDDEN` unless `principal`'s role carries `permission`. */
  authorize(principal: ApiPrincipal, permission: ApiPermission): void {
    if (!roleAllows(principal.role, permission))
      throw new NovacronError(SecurityErrorCode.FORBIDDEN, `role ${principal.role} may not ${permission}`, {
        details: { tokenId: principal.id, role: principal.role, permission, requires: API_PERMISSIONS[permission] },
      });
  }
}
