import type { Clock, Timer } from './clock.js';
import { sleepOn } from './sleep.js';

/** Options for {@link systemClock}. */
export interface SystemClockOptions {
  /**
   * Keep the process alive while timers are pending (Node's default). Set
   * false for background housekeeping that must not hold the process open.
   */
  ref?: boolean;
}

/** The real clock: `performance.now()` and the host's timers. */
export function systemClock(options: SystemClockOptions = {}): Clock {
  const ref = options.ref ?? true;
  const unref = (h: ReturnType<typeof setTimeout>) => {
    if (!ref && typeof h === 'object' && h !== null && 'unref' in h) h.unref();
    return h;
  };
  const clock: Clock = {
    now: () => performance.now(),
    setTimeout(callback, delayMs): Timer {
      const h = unref(setTimeout(callback, Math.max(0, delayMs)));
      return { cancel: () => clearTimeout(h) };
    },
    setInterval(callback, intervalMs): Timer {
      const h = unref(setInterval(callback, Math.max(1, intervalMs)));
      return { cancel: () => clearInterval(h) };
    },
    sleep: (ms, signal) => sleepOn(clock, ms, signal),
  };
  return clock;
}
