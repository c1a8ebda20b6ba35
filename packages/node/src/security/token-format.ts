import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Kinds of bearer secrets the node issues, by prefix: API tokens and join tokens. */
export type TokenKind = 'ncat' | 'ncjt';

/** A freshly minted token: the full string is shown once; only `id` and `hash` are kept. */
export interface MintedToken {
  /** `<kind>_<id>.<secret>`: give this to the holder, never store or log it. */
  readonly token: string;
  /** Public id (16 hex digits): safe to log, names the token in audit records. */
  readonly id: string;
  /** SHA-256 (hex) of the secret part, the only form stored. */
  readonly hash: string;
}

const SECRET_BYTES = 32;
const PATTERN = /^(ncat|ncjt)_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;

/**
 * Mints a token of `kind`: 64 bits of public id and 256 bits of secret from
 * the OS CSPRNG. Storing a plain SHA-256 of the secret is enough at rest:
 * with 256 random bits there is no dictionary to try, so a slow password
 * hash would only cost CPU on every request (GitHub and Stripe tokens work
 * the same way).
 */
export function mintToken(kind: TokenKind): MintedToken {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { token: `${kind}_${id}.${secret}`, id, hash: hashSecret(secret) };
}

/** Splits a presented token; `undefined` unless it is well formed and of `kind`. */
export function parseToken(kind: TokenKind, token: unknown): { id: string; secret: string } | undefined {
  if (typeof token !== 'string' || token.length > 128) return undefined;
  const m = PATTERN.exec(token);
  if (m === null || m[1] !== kind) return undefined;
  return { id: m[2]!, secret: m[3]! };
}

/** SHA-256 hex of a token's secret part. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
