import { type FileIO, atomicWriteFile } from '@novacron/core';

/**
 * Where a token table keeps its records (hashes only, never secrets). A
 * single node uses a file; a cluster puts the table in a strong-only
 * namespace of its replicated state so every node sees issues and uses at
 * once.
 */
export interface TokenPersistence<T> {
  load(): Promise<readonly T[]>;
  /** Replaces the stored records; durable when it resolves. */
  save(records: readonly T[]): Promise<void>;
}

/** Records kept in memory only (tests, ephemeral nodes). */
export function memoryTokenPersistence<T>(initial: readonly T[] = []): TokenPersistence<T> {
  let records = [...initial];
  return {
    load: async () => [...records],
    save: async (r) => {
      records = [...r];
    },
  };
}

/** Records in a JSON file, replaced atomically (fsync'd) on every save, mode 0600. */
export function fileTokenPersistence<T>(io: FileIO, path: string): TokenPersistence<T> {
  return {
    load: async () => {
      if ((await io.stat(path)) === undefined) return [];
      const parsed = JSON.parse(new TextDecoder().decode(await io.readFile(path))) as { records?: T[] };
      return Array.isArray(parsed.records) ? parsed.records : [];
    },
    save: (records) =>
      atomicWriteFile(io, path, new TextEncoder().encode(`${JSON.stringify({ v: 1, records }, null, 1)}\n`), {
        mode: 0o600,
      }),
  };
}
