/** How {@link FileIO.open} opens a file (the `node:fs` flag of the same name). */
export type OpenFlags = 'r' | 'r+' | 'w' | 'wx' | 'a';

/** What {@link FileIO.stat} reports. */
export interface FileStat {
  /** Size in bytes. */
  readonly size: number;
  /** Permission bits (`0o600`, ...). */
  readonly mode: number;
  /** True for a directory. */
  readonly isDirectory: boolean;
}

/**
 * An open file. Writes reach durable storage only after `sync` or
 * `datasync`; until then a crash may lose them (and testkit's
 * crash-consistency layer will).
 */
export interface FileHandle {
  /** The path the handle was opened with. */
  readonly path: string;
  /**
   * Reads up to `length` bytes at `position`; returns fewer only at end of
   * file (an empty array past it).
   */
  read(position: number, length: number): Promise<Uint8Array>;
  /**
   * Writes all of `data` at `position`, or at the end of the file when
   * `position` is omitted (and always at the end for flag `a`).
   */
  write(data: Uint8Array, position?: number): Promise<void>;
  /** fsync: data and metadata durable. */
  sync(): Promise<void>;
  /** fdatasync: data (and the size, when it changed) durable; cheaper than `sync`. */
  datasync(): Promise<void>;
  /** Sets the length to `length`, cutting or zero-extending. Durable after `sync`. */
  truncate(length: number): Promise<void>;
  /** Current size in bytes. */
  size(): Promise<number>;
  /** Closes the handle. Closing does not make writes durable. */
  close(): Promise<void>;
}

/**
 * The file operations stores use. Every store that persists data takes a
 * `FileIO` injected: `nodeFileIO()` in production, testkit's simulated and
 * crash-consistency implementations in tests. Paths are plain strings in the
 * platform's syntax. Failures are `CORE_FILE_NOT_FOUND`, `CORE_FILE_EXISTS`
 * or `CORE_FILE_IO` (with the platform error as `cause`).
 */
export interface FileIO {
  /** Opens (and with `w`, `wx`, `a` creates, with `mode` default `0o644`) a file. */
  open(path: string, flags: OpenFlags, mode?: number): Promise<FileHandle>;
  /** Reads a whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Atomically replaces `from`'s name with `to`. Durable only after
   * `syncDir` on the directory holding `to`.
   */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; removing a missing file is not an error. Durable after `syncDir`. */
  remove(path: string): Promise<void>;
  /** Names (not paths) of the entries in `dir`, sorted. */
  list(dir: string): Promise<string[]>;
  /** Creates `dir` and missing parents; an existing directory is fine. */
  mkdir(path: string): Promise<void>;
  /** Facts about `path`, or `undefined` when it does not exist. */
  stat(path: string): Promise<FileStat | undefined>;
  /** Sets permission bits. */
  chmod(path: string, mode: number): Promise<void>;
  /** fsyncs a directory, making creates, renames and removes in it durable. */
  syncDir(path: string): Promise<void>;
}
