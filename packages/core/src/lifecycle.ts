/**
 * The one lifecycle every component follows. Constructors and factories do
 * no I/O; `start` acquires resources (sockets, files, timers) and `stop`
 * releases them. Both are idempotent: starting a started component or
 * stopping a stopped one does nothing.
 */
export interface Startable {
  /** Optional hook run on every component before any `start` (e.g. to open files). */
  beforeStart?(): void | Promise<void>;
  /** Acquires resources; resolves when the component is ready for use. */
  start(): void | Promise<void>;
  /** Optional hook run after every component has started (e.g. to dial peers). */
  afterStart?(): void | Promise<void>;
  /** Optional hook run on every component before any `stop` (e.g. to stop accepting work). */
  beforeStop?(): void | Promise<void>;
  /** Releases resources; pending operations fail with a typed error. */
  stop(): void | Promise<void>;
  /** Optional hook run after every component has stopped. */
  afterStop?(): void | Promise<void>;
}

/** True when `value` implements {@link Startable}. */
export function isStartable(value: unknown): value is Startable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Startable).start === 'function' &&
    typeof (value as Startable).stop === 'function'
  );
}

/**
 * Starts components in order, running each phase across all of them before
 * the next (beforeStart, start, afterStart). If a phase fails, the components
 * already started are stopped in reverse order and the error is rethrown.
 */
export async function startAll(components: readonly unknown[]): Promise<void> {
  const startables = components.filter(isStartable);
  for (const c of startables) await c.beforeStart?.();
  const started: Startable[] = [];
  try {
    for (const c of startables) {
      await c.start();
      started.push(c);
    }
    for (const c of startables) await c.afterStart?.();
  } catch (err) {
    await stopAll(started).catch(() => undefined);
    throw err;
  }
}

/**
 * Stops components in reverse order (beforeStop, stop, afterStop), carrying
 * on past failures so every component gets its `stop`; the first error is
 * rethrown at the end.
 */
export async function stopAll(components: readonly unknown[]): Promise<void> {
  const startables = components.filter(isStartable).reverse();
  let first: unknown;
  const attempt = async (fn: () => void | Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      first ??= err;
    }
  };
  for (const c of startables) if (c.beforeStop) await attempt(() => c.beforeStop!());
  for (const c of startables) await attempt(() => c.stop());
  for (const c of startables) if (c.afterStop) await attempt(() => c.afterStop!());
  if (first !== undefined) throw first;
}
