import {
  atomicWriteFile,
  checksum32,
  CoreErrorCode,
  decodeMsgpack,
  encodeMsgpack,
  type FileIO,
  NovacronError,
  type Rng,
} from '@novacron/core';
import type { RaftSnapshot } from './core.js';
import { decodeMembership, type Membership } from './membership.js';

/** Where a Raft member keeps its latest state-machine snapshot. */
export interface RaftSnapshotStore {
  /** The latest saved snapshot, if any. */
  load(): Promise<RaftSnapshot | undefined>;
  /** Replaces the saved snapshot; durable when it resolves. */
  save(snapshot: RaftSnapshot): Promise<void>;
}

/** Keeps the snapshot in memory (pairs with `MemoryDurableLog`). */
export class MemorySnapshotStore implements RaftSnapshotStore {
  #snapshot: RaftSnapshot | undefined;
  async load(): Promise<RaftSnapshot | undefined> {
    return this.#snapshot;
  }
  async save(snapshot: RaftSnapshot): Promise<void> {
    this.#snapshot = snapshot;
  }
}

/**
 * Keeps the snapshot in one file, replaced atomically (temp file, fsync,
 * rename, directory fsync): MessagePack
 * `[version 2, index, term, crc32(data), data, voters, learners]` (version 1
 * files, without the configuration, still load).
 * A file that fails its checksum is `CORE_LOG_CORRUPT`.
 */
export class FileSnapshotStore implements RaftSnapshotStore {
  readonly #io: FileIO;
  readonly #path: string;
  readonly #rng: Rng | undefined;

  /** `rng` names temp files deterministically in simulations. */
  constructor(options: { readonly io: FileIO; readonly path: string; readonly rng?: Rng }) {
    this.#io = options.io;
    this.#path = options.path;
    this.#rng = options.rng;
  }

  async load(): Promise<RaftSnapshot | undefined> {
    if ((await this.#io.stat(this.#path)) === undefined) return undefined;
    const bytes = await this.#io.readFile(this.#path);
    const corrupt = (why: string) =>
      new NovacronError(CoreErrorCode.LOG_CORRUPT, `raft snapshot ${this.#path}: ${why}`, {
        details: { path: this.#path },
      });
    let v: unknown;
    try {
      v = decodeMsgpack(bytes);
    } catch (err) {
      throw corrupt(err instanceof Error ? err.message : 'undecodable');
    }
    const v1 = Array.isArray(v) && v.length === 5 && v[0] === 1;
    const v2 = Array.isArray(v) && v.length === 7 && v[0] === 2;
    if (!v1 && !v2) throw corrupt('not a version 1 or 2 snapshot file');
    const [, index, term, crc, data, voters, learners] = v as [
      number,
      number,
      number,
      number,
      Uint8Array,
      unknown,
      unknown,
    ];
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term) || !(data instanceof Uint8Array)) {
      throw corrupt('bad fields');
    }
    if (checksum32(data) !== crc) throw corrupt('checksum mismatch');
    if (!v2) return { index, term, data };
    let config: Membership;
    try {
      config = decodeMembership(encodeMsgpack([voters, learners]));
    } catch {
      throw corrupt('bad configuration');
    }
    return { index, term, data, config };
  }

  async save(snapshot: RaftSnapshot): Promise<void> {
    const c = snapshot.config;
    const bytes = c
      ? encodeMsgpack([
          2,
          snapshot.index,
          snapshot.term,
          checksum32(snapshot.data),
          snapshot.data,
          [...c.voters],
          [...c.learners],
        ])
      : encodeMsgpack([1, snapshot.index, snapshot.term, checksum32(snapshot.data), snapshot.data]);
    await atomicWriteFile(this.#io, this.#path, bytes, this.#rng ? { rng: this.#rng } : {});
  }
}
