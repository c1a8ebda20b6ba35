import { NovacronError, assertInteger, assertString } from '@novacron/core';
import { SecurityErrorCode } from './security-errors.js';
import { mintToken, parseToken, secretMatches } from './token-format.js';
import { type TokenPersistence, memoryTokenPersistence } from './token-persistence.js';

/** A join token as stored: its public id, the hash of its secret, its lifetime and its use. */
export interface JoinTokenRecord {
  readonly id: string;
  readonly hash: string;
  /** Wall-clock ms. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Who issued it (a token id or `cli`). */
  readonly issuedBy: string;
  /** Set once used: when, and by which node. */
  readonly usedAt?: number;
  readonly usedBy?: string;
}

/** Options of {@link JoinTokenStore}. */
export interface JoinTokenStoreOptions {
  readonly persistence?: TokenPersistence<JoinTokenRecord>;
  /** Wall clock (default `Date.now`). */
  readonly wallClock?: () => number;
  /** Used and expired records are dropped this long after they stop mattering (default 7 days). */
  readonly retainMs?: number;
}

/**
 * Single-use, expiring join tokens: an admin issues one, a new node presents
 * it once to be admitted. Only the SHA-256 of the secret is stored; a use
 * is persisted before it is reported, so a token can never admit two nodes
 * even across a crash.
 */
export class JoinTokenStore {
  private records = new Map<string, JoinTokenRecord>();
  private readonly persistence: TokenPersistence<JoinTokenRecord>;
  private readonly wallClock: () => number;
  private readonly retainMs: number;
  /** Serialises read-modify-write of the table. */
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(options: JoinTokenStoreOptions) {
    this.persistence = options.persistence ?? memoryTokenPersistence();
    this.wallClock = options.wallClock ?? Date.now;
    this.retainMs = options.retainMs ?? 7 * 86_400_000;
  }

  /** Opens a store and loads its records. */
  static async open(options: JoinTokenStoreOptions = {}): Promise<JoinTokenStore> {
    const s = new JoinTokenStore(options);
    for (const r of await s.persistence.load()) s.records.set(r.id, r);
    return s;
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f);
    this.lock = run.catch(() => {});
    return run;
  }

  /**
   * Issues a token valid for `ttlMs` (1 minute to 7 days; default 1 hour).
   * The returned `token` is the only copy of the secret.
   */
  issue(options: {
    readonly ttlMs?: number;
    readonly issuedBy: string;
  }): Promise<{ token: string; record: JoinTokenRecord }> {
    const ttl = options.ttlMs ?? 3_600_000;
    assertInteger('ttlMs', ttl, { min: 60_000, max: 7 * 86_400_000 });
    assertString('issuedBy', options.issuedBy, { nonEmpty: true });
    return this.exclusive(async () => {
      const minted = mintToken('ncjt');
      const now = this.wallClock();
      const record: JoinTokenRecord = {
        id: minted.id,
        hash: minted.hash,
        issuedAt: now,
        expiresAt: now + ttl,
        issuedBy: options.issuedBy,
      };
      const next = new Map(this.records).set(record.id, record);
      await this.persistence.save(this.prune(next, now));
      this.records = next;
      return { token: minted.token, record };
    });
  }

  /**
   * Admits `nodeId` with `token`, using it up. `NODE_JOIN_TOKEN_INVALID` for
   * an unknown or malformed token (or a wrong secret),
   * `NODE_JOIN_TOKEN_EXPIRED`, `NODE_JOIN_TOKEN_USED`.
   */
  consume(token: string, nodeId: string): Promise<JoinTokenRecord> {
    return this.exclusive(async () => {
      const parsed = parseToken('ncjt', token);
      const record = parsed && this.records.get(parsed.id);
      if (parsed === undefined || record === undefined || !secretMatches(parsed.secret, record.hash))
        throw new NovacronError(SecurityErrorCode.JOIN_TOKEN_INVALID, 'join token is not valid for this cluster');
      const now = this.wallClock();
      if (record.usedAt !== undefined)
        throw new NovacronError(SecurityErrorCode.JOIN_TOKEN_USED, `join token ${record.id} was already used`, {
          details: { tokenId: record.id, usedBy: record.usedBy ?? null },
        });
      if (now >= record.expiresAt)
        throw new NovacronError(SecurityErrorCode.JOIN_TOKEN_EXPIRED, `join token ${record.id} expired`, {
          details: { tokenId: record.id, expiresAt: record.expiresAt },
        });
      const used: JoinTokenRecord = { ...record, usedAt: now, usedBy: nodeId };
      const next = new Map(this.records).set(record.id, used);
      await this.persistence.save(this.prune(next, now));
      this.records = next;
      return used;
    });
  }

  /** Revokes an unused token (expires it now). */
  revoke(id: string): Promise<boolean> {
    return this.exclusive(async () => {
      const r = this.records.get(id);
      if (r === undefined || r.usedAt !== undefined) return false;
      const next = new Map(this.records).set(id, { ...r, expiresAt: this.wallClock() });
      await this.persistence.save([...next.values()]);
      this.records = next;
      return true;
    });
  }

  /** Records (hashes, never secrets), oldest first. */
  list(): JoinTokenRecord[] {
    return [...this.records.values()].sort((a, b) => a.issuedAt - b.issuedAt);
  }

  private prune(records: Map<string, JoinTokenRecord>, now: number): JoinTokenRecord[] {
    for (const [id, r] of records) {
      const over = r.usedAt ?? r.expiresAt;
      if (over + this.retainMs < now) records.delete(id);
    }
    return [...records.values()];
  }
}
