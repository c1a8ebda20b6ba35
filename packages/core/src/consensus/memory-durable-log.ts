import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import {
  assertHardState,
  type DurableLog,
  type HardState,
  type LogEntry,
  LogMirror,
  type SnapshotMarker,
} from './durable-log.js';

/**
 * A {@link DurableLog} held in memory only: for tests, simulations and
 * groups whose durability comes from replication alone. Every mutation
 * resolves at once; nothing survives the process. Create a new one to
 * model a node that lost its disk.
 */
export class MemoryDurableLog implements DurableLog {
  readonly #mirror = new LogMirror();
  #open = false;
  #closed = false;

  async open(): Promise<void> {
    this.#open = true;
  }
  firstIndex(): number {
    return this.#mirror.firstIndex();
  }
  lastIndex(): number {
    return this.#mirror.lastIndex();
  }
  term(index: number): number | undefined {
    return this.#mirror.term(index);
  }
  entries(from: number, to: number, maxBytes?: number): LogEntry[] {
    return this.#mirror.entries(from, to, maxBytes);
  }
  snapshot(): SnapshotMarker {
    return this.#mirror.snapshot();
  }
  hardState(): HardState {
    return this.#mirror.hardState();
  }
  async append(entries: readonly LogEntry[]): Promise<void> {
    this.#live('append');
    this.#mirror.checkAppend(entries);
    this.#mirror.append(entries);
  }
  async truncateSuffix(from: number): Promise<void> {
    this.#live('truncateSuffix');
    this.#mirror.checkTruncate(from);
    this.#mirror.truncateSuffix(from);
  }
  async compact(index: number, term: number): Promise<void> {
    this.#live('compact');
    this.#mirror.checkCompact(index, term);
    this.#mirror.compact(index, term);
  }
  async setHardState(state: HardState): Promise<void> {
    this.#live('setHardState');
    assertHardState(state);
    this.#mirror.setHardState(state);
  }
  async close(): Promise<void> {
    this.#closed = true;
  }

  #live(op: string): void {
    if (!this.#open || this.#closed) {
      throw new NovacronError(CoreErrorCode.INVALID_STATE, `memory durable log: ${op} on a log that is not open`, {
        details: { op },
      });
    }
  }
}
