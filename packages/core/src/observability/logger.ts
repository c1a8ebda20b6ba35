/** Severity of a log record, lowest first. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** Numeric rank of each {@link LogLevel} (higher is more severe). */
export const LOG_LEVELS: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/** Structured fields attached to a log record. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * A scoped, structured logger. Call sites guard expensive field building
 * with `enabled(level)`; a disabled logger costs one property read per call.
 */
export interface Logger {
  /** Dotted scope, e.g. `amst.lane`. */
  readonly scope: string;
  /** True when records at `level` are kept. */
  enabled(level: LogLevel): boolean;
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-scope (`parent.child`), sharing this one's sink and level. */
  child(scope: string): Logger;
}

/** One record kept by {@link memoryLogger}. */
export interface LogRecord {
  readonly level: LogLevel;
  readonly scope: string;
  readonly message: string;
  readonly fields: LogFields;
}

const noop = (): void => {};

/** A logger that drops everything; the default wherever a logger is optional. */
export function noopLogger(scope = ''): Logger {
  const logger: Logger = {
    scope,
    enabled: () => false,
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    child: (sub) => noopLogger(scope ? `${scope}.${sub}` : sub),
  };
  return logger;
}

/** A sink receiving every record at or above the logger's level. */
export type LogSink = (record: LogRecord) => void;

/** Builds a logger that hands records at or above `level` to `sink`. */
export function sinkLogger(sink: LogSink, level: LogLevel = 'info', scope = ''): Logger {
  const min = LOG_LEVELS[level];
  const at =
    (lvl: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      if (LOG_LEVELS[lvl] >= min) sink({ level: lvl, scope, message, fields });
    };
  return {
    scope,
    enabled: (lvl) => LOG_LEVELS[lvl] >= min,
    trace: min <= LOG_LEVELS.trace ? at('trace') : noop,
    debug: min <= LOG_LEVELS.debug ? at('debug') : noop,
    info: min <= LOG_LEVELS.info ? at('info') : noop,
    warn: min <= LOG_LEVELS.warn ? at('warn') : noop,
    error: at('error'),
    child: (sub) => sinkLogger(sink, level, scope ? `${scope}.${sub}` : sub),
  };
}

/** A logger that keeps records in memory (tests, the simulator's trace). */
export function memoryLogger(level: LogLevel = 'trace'): Logger & { readonly records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = sinkLogger((r) => records.push(r), level);
  return Object.assign(logger, { records });
}
