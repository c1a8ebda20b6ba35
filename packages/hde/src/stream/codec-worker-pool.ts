import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CoreErrorCode, NovacronError, type Startable } from '@novacron/core';
import type { CodecId } from '../codecs/block-codec.js';

/**
 * The worker's program. It is evaluated from a string (not a file) so it runs
 * the same from sources, the ESM build and the CJS build; it loads the same
 * codec libraries as the main thread, by the paths the main thread resolved,
 * with the same settings as `blockCodec` (zstd level from the id, deflate
 * level 6), so its output is byte-identical.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const lz4 = require(workerData.lz4);
const zstd = require(workerData.zstd);
const fflate = require(workerData.fflate);
const ready = zstd.init();
parentPort.on('message', async (m) => {
  try {
    await ready;
    let out;
    if (m.codec === 'lz4') out = lz4.compress(m.data);
    else if (m.codec.startsWith('zstd-')) out = zstd.compress(m.data, Number(m.codec.slice(5)));
    else if (m.codec === 'deflate') out = fflate.deflateSync(m.data, { level: 6 });
    else throw new Error('codec ' + m.codec + ' has no worker implementation');
    const copy = new Uint8Array(out);
    parentPort.postMessage({ id: m.id, out: copy }, [copy.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});
`;

function resolveDeps(): { lz4: string; zstd: string; fflate: string } {
  // ESM (and sources): resolve from this module's URL. The CJS build has no
  // import.meta (the bundler leaves it empty), but has a real `require`.
  const url: string | undefined = import.meta.url;
  const req = url ? createRequire(url) : require;
  return {
    lz4: req.resolve('lz4js'),
    zstd: req.resolve('@bokuweb/zstd-wasm'),
    fflate: req.resolve('fflate'),
  };
}

interface Slot {
  worker: Worker;
  busy: number;
}

/** Options of {@link CodecWorkerPool}. */
export interface CodecWorkerPoolOptions {
  /** Worker threads; default the machine's available parallelism (at least 1). */
  readonly size?: number;
}

/**
 * Worker threads that run the expensive step of an encode (compressing the
 * literal bytes) so every core works while the main thread classifies pages
 * and writes frames. Inputs are copied to the worker and results are
 * transferred back (zero-copy). A `Startable`: `start()` spawns, `stop()`
 * terminates and rejects what is still pending with `CORE_ABORTED`.
 */
export class CodecWorkerPool implements Startable {
  readonly #size: number;
  #slots: Slot[] = [];
  #nextId = 0;
  readonly #pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void; slot: Slot }>();

  constructor(options: CodecWorkerPoolOptions = {}) {
    this.#size = Math.max(1, options.size ?? availableParallelism());
  }

  /** Number of worker threads. */
  get size(): number {
    return this.#size;
  }

  /** Spawns the workers. */
  async start(): Promise<void> {
    if (this.#slots.length > 0) return;
    const deps = resolveDeps();
    for (let i = 0; i < this.#size; i++) {
      // No inherited flags: the program is plain CommonJS whatever the parent runs with (e.g. --input-type=module).
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: deps, execArgv: [] });
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (m: { id: number; out?: Uint8Array; error?: string }) => {
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        slot.busy--;
        if (m.error !== undefined) p.reject(new NovacronError(CoreErrorCode.INVALID_STATE, `codec worker: ${m.error}`));
        else p.resolve(m.out!);
      });
      worker.on('error', (err) => this.#failSlot(slot, err));
      this.#slots.push(slot);
    }
  }

  /** Terminates the workers; pending compressions reject with `CORE_ABORTED`. */
  async stop(): Promise<void> {
    const slots = this.#slots;
    this.#slots = [];
    for (const s of slots) this.#failSlot(s, new Error('pool stopped'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  #failSlot(slot: Slot, err: unknown): void {
    for (const [id, p] of this.#pending) {
      if (p.slot !== slot) continue;
      this.#pending.delete(id);
      p.reject(new NovacronError(CoreErrorCode.ABORTED, 'codec worker stopped', { cause: err }));
    }
  }

  /**
   * Compresses `data` with `codec` on the least busy worker; the result is
   * what `blockCodec(codec).compress(data)` returns.
   * @throws `CORE_INVALID_STATE` before `start()`.
   */
  compress(codec: CodecId, data: Uint8Array): Promise<Uint8Array> {
    if (this.#slots.length === 0) {
      return Promise.reject(new NovacronError(CoreErrorCode.INVALID_STATE, 'codec worker pool is not started'));
    }
    if (codec === 'none') return Promise.resolve(data);
    const slot = this.#slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.#nextId++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, codec, data });
    });
  }
}
