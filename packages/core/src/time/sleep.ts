import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import type { Clock } from './clock.js';

/** The `CORE_ABORTED` error every abortable operation rejects with. */
export function abortedError(signal?: AbortSignal): NovacronError<typeof CoreErrorCode.ABORTED> {
  return new NovacronError(CoreErrorCode.ABORTED, 'operation aborted', { cause: signal?.reason });
}

/** Implements {@link Clock.sleep} on top of a clock's `setTimeout`. */
export function sleepOn(clock: Pick<Clock, 'setTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError(signal));
      return;
    }
    const onAbort = () => {
      timer.cancel();
      reject(abortedError(signal));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
