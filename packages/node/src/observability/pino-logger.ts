import type { Logger, LogFields, LogLevel } from '@novacron/core';
import { type DestinationStream, type Logger as Pino, pino } from 'pino';

/** Options of {@link pinoLogger}. */
export interface PinoLoggerOptions {
  /** Minimum level kept (`silent` drops everything). Default `info`. */
  readonly level?: LogLevel | 'silent';
  /** Where JSON lines go (default stdout). */
  readonly destination?: DestinationStream;
  /** Fields on every record (node id, cluster name). */
  readonly base?: Readonly<Record<string, unknown>>;
}

/**
 * core's {@link Logger} over pino: JSON lines, one per record, with the
 * dotted scope in a `scope` field. Disabled levels cost one property read,
 * as core's contract asks (pino's no-op methods).
 */
export function pinoLogger(options: PinoLoggerOptions = {}): Logger {
  const root = pino(
    { level: options.level ?? 'info', base: { ...(options.base ?? {}) }, timestamp: pino.stdTimeFunctions.isoTime },
    options.destination,
  );
  return wrap(root, '');
}

/** Wraps an existing pino logger. */
export function fromPino(p: Pino, scope = ''): Logger {
  return wrap(p, scope);
}

function wrap(p: Pino, scope: string): Logger {
  const child = scope ? p.child({ scope }) : p;
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (fields) child[level](fields as Record<string, unknown>, message);
      else child[level](message);
    };
  return {
    scope,
    enabled: (level) => p.isLevelEnabled(level),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (sub) => wrap(p, scope ? `${scope}.${sub}` : sub),
  };
}
