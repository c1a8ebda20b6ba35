import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { NovacronError } from '@novacron/core';
import { SecurityErrorCode } from './security-errors.js';

const REDACTED = '[secret]';

/**
 * A secret value that cannot leak by accident: string conversion, JSON,
 * `util.inspect` (console.log, pino) and error details all show
 * `[secret]`; only {@link Secret.reveal} returns the value.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself: pass it straight to where it is used. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * Reads a secret from a file (trailing newline trimmed) or an environment
 * variable, in that order: never from the command line, where `ps` and shell
 * history would show it. `NODE_SECRET_UNAVAILABLE` naming the source (not
 * the value) when neither yields one.
 */
export function readSecret(
  source: { readonly name: string; readonly file?: string; readonly env?: string },
  environment = process.env,
): Secret {
  if (source.file !== undefined) {
    try {
      const v = readFileSync(source.file, 'utf8').replace(/\r?\n$/, '');
      if (v.length > 0) return new Secret(v);
    } catch (err) {
      throw new NovacronError(SecurityErrorCode.SECRET_UNAVAILABLE, `cannot read ${source.name} from ${source.file}`, {
        details: { name: source.name, file: source.file, reason: (err as NodeJS.ErrnoException).code ?? 'error' },
      });
    }
  }
  if (source.env !== undefined) {
    const v = environment[source.env];
    if (v !== undefined && v.length > 0) return new Secret(v);
  }
  throw new NovacronError(SecurityErrorCode.SECRET_UNAVAILABLE, `${source.name} is not set`, {
    details: {
      name: source.name,
      ...(source.file ? { file: source.file } : {}),
      ...(source.env ? { env: source.env } : {}),
    },
  });
}

/**
 * Refuses secrets on the command line: throws `NODE_SECRET_UNAVAILABLE`
 * when `argv` carries any of `flags` with a value (`--token x`, `--token=x`).
 */
export function refuseSecretFlags(argv: readonly string[], flags: readonly string[]): void {
  for (const a of argv) {
    const flag = flags.find((f) => a === f || a.startsWith(`${f}=`));
    if (flag !== undefined)
      throw new NovacronError(
        SecurityErrorCode.SECRET_UNAVAILABLE,
        `${flag} takes no value on the command line; use ${flag}-file or the environment`,
        { details: { flag } },
      );
  }
}
