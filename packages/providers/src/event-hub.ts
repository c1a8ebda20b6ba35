import type { Clock, Logger, MigrationProgress, ProviderEvent, Unsubscribe, VmState } from '@novacron/core';

/**
 * Numbers and delivers a provider's events: `seq` counts per VM from 1 with
 * no gaps, in emission order, and a listener that throws is logged and
 * skipped so it cannot break the provider or the other listeners.
 */
export class EventHub {
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #listeners = new Set<(event: ProviderEvent) => void>();
  readonly #seq = new Map<string, number>();

  constructor(clock: Clock, logger?: Logger) {
    this.#clock = clock;
    this.#logger = logger;
  }

  /** Subscribes a listener. */
  on(listener: (event: ProviderEvent) => void): Unsubscribe {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The last sequence number used for `vmId` (0 before any). */
  seqOf(vmId: string): number {
    return this.#seq.get(vmId) ?? 0;
  }

  /** Emits a state change. */
  state(vmId: string, from: VmState | undefined, to: VmState): void {
    this.#emit({ type: 'state', vmId, seq: this.#next(vmId), at: this.#clock.now(), from, to });
  }

  /** Emits a deletion and forgets the VM's counter. */
  deleted(vmId: string): void {
    this.#emit({ type: 'deleted', vmId, seq: this.#next(vmId), at: this.#clock.now() });
    this.#seq.delete(vmId);
  }

  /** Emits migration progress. */
  migration(vmId: string, role: 'source' | 'destination', progress: MigrationProgress): void {
    this.#emit({ type: 'migration', vmId, seq: this.#next(vmId), at: this.#clock.now(), role, progress });
  }

  #next(vmId: string): number {
    const n = (this.#seq.get(vmId) ?? 0) + 1;
    this.#seq.set(vmId, n);
    return n;
  }

  #emit(event: ProviderEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.#logger?.warn('provider event listener threw', { error: String(err), type: event.type });
      }
    }
  }
}
