/** Extra, machine-readable facts attached to an error (sizes, ids, limits). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** Options accepted by {@link NovacronError}'s constructor. */
export interface NovacronErrorOptions<D extends ErrorDetails> {
  /** Typed facts about the failure; included in `toJSON`. */
  details?: D;
  /** The error that caused this one (platform error, decoder exception, ...). */
  cause?: unknown;
}

/**
 * The one error class every NovaCron package throws for expected failures.
 *
 * `code` is stable and namespaced (`CORE_FRAME_TRUNCATED`, `AMST_LANE_CLOSED`,
 * ...): switch on it, never on `message`, which is for humans and may change.
 * Bad input from outside (a corrupt frame, a malformed config, a hostile
 * peer) always surfaces as one of these rather than a crash or a hang.
 */
export class NovacronError<C extends string = string, D extends ErrorDetails = ErrorDetails> extends Error {
  /** Stable namespaced code, e.g. `CORE_FRAME_OVERSIZED`. */
  readonly code: C;
  /** Typed facts about the failure. */
  readonly details: D;

  constructor(code: C, message: string, options: NovacronErrorOptions<D> = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NovacronError';
    this.code = code;
    this.details = options.details ?? ({} as D);
  }

  /** A plain object for logs and API responses (the cause chain is summarised). */
  toJSON(): { name: string; code: C; message: string; details: D; cause?: string } {
    const out: { name: string; code: C; message: string; details: D; cause?: string } = {
      name: this.name,
      code: this.code,
      message: this.message,
      details: this.details,
    };
    if (this.cause !== undefined) out.cause = this.cause instanceof Error ? this.cause.message : String(this.cause);
    return out;
  }
}

/**
 * True when `err` is a {@link NovacronError}, optionally with the given code.
 * Works across duplicated package copies (checks the shape, not only the
 * prototype), so a CJS and an ESM copy of core agree.
 */
export function isNovacronError<C extends string>(err: unknown, code?: C): err is NovacronError<C> {
  if (!(err instanceof Error)) return false;
  const candidate = err as Partial<NovacronError>;
  if (err.name !== 'NovacronError' || typeof candidate.code !== 'string') return false;
  return code === undefined || candidate.code === code;
}
