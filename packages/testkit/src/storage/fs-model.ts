import { posix } from 'node:path';
import { CoreErrorCode, type FileErrorDetails, type FileOp, NovacronError, type Rng } from '@novacron/core';

/**
 * The state behind testkit's in-memory file systems: a tree of inodes, each
 * holding two versions of itself. The *volatile* version is what reads see
 * (the page cache); the *durable* version is what a crash leaves on the
 * disk. The rules that move state from one to the other:
 *
 * - `syncFile` (fsync / fdatasync on a handle) copies a file's volatile bytes
 *   and size to its durable version; `fsync` also its mode.
 * - `syncDirectory` (fsync on a directory) copies a directory's volatile
 *   entries (names → inodes) and mode to its durable version. Creating,
 *   renaming and removing a name are therefore durable only once the
 *   directory holding the name is synced, whatever happened to the data.
 * - `revert` (a crash) rebuilds the volatile tree from the durable one,
 *   starting at the root and following durable entries only.
 *
 * Paths use POSIX syntax; relative paths resolve against `/`.
 */

/** The errno-style reason carried by a `CORE_FILE_IO` error (also the `code` of its `cause`). */
export type FsErrno = 'EISDIR' | 'ENOTDIR' | 'ENOTEMPTY' | 'EBADF' | 'EINVAL' | 'EFBIG' | 'EBUSY' | 'ESTALE';

/** A file system failure phrased as the same `CoreErrorCode` a real file system would produce. */
export function fsError(
  code: typeof CoreErrorCode.FILE_NOT_FOUND | typeof CoreErrorCode.FILE_EXISTS | typeof CoreErrorCode.FILE_IO,
  op: FileOp,
  path: string,
  errno: FsErrno | 'ENOENT' | 'EEXIST',
  reason: string,
): NovacronError<string, FileErrorDetails> {
  // The cause mimics a Node system error so code that inspects `cause.code` behaves as with node:fs.
  const cause = Object.assign(new Error(`${errno}: ${reason}, ${op} '${path}'`), { code: errno, syscall: op, path });
  return new NovacronError(code, `${op} ${path}: ${reason}`, { details: { path, op, errno }, cause });
}

/** A growable byte buffer whose bytes past `size` are always zero. */
export class FileBytes {
  #buf: Uint8Array;
  #size: number;

  /** @param initial - Starting content (copied). */
  constructor(initial?: Uint8Array) {
    this.#buf = initial ? initial.slice() : new Uint8Array(0);
    this.#size = this.#buf.length;
  }

  /** Current length in bytes. */
  get size(): number {
    return this.#size;
  }

  /** A view of the first `size` bytes (valid until the next change). */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#size);
  }

  /** A copy of the content. */
  copy(): Uint8Array {
    return this.#buf.slice(0, this.#size);
  }

  /** Up to `length` bytes at `position` (a copy). */
  read(position: number, length: number): Uint8Array {
    if (position >= this.#size) return new Uint8Array(0);
    return this.#buf.slice(position, Math.min(this.#size, position + length));
  }

  /** Writes `data` at `position`, zero-filling any gap past the old end. */
  write(position: number, data: Uint8Array): void {
    const end = position + data.length;
    if (end > this.#size) this.#grow(end);
    this.#buf.set(data, position);
  }

  /** Cuts or zero-extends to `length`. */
  truncate(length: number): void {
    if (length < this.#size) {
      // Keep the invariant that bytes past the end are zero, so a later extension reads zeros.
      this.#buf.fill(0, length, this.#size);
      this.#size = length;
    } else if (length > this.#size) {
      this.#grow(length);
    }
  }

  #grow(size: number): void {
    if (size > this.#buf.length) {
      const next = new Uint8Array(Math.max(size, Math.min(this.#buf.length * 2, size + (1 << 24))));
      next.set(this.#buf.subarray(0, this.#size));
      this.#buf = next;
    }
    this.#size = size;
  }
}

/** A regular file's inode. */
export interface FileInode {
  /** Discriminant. */
  readonly kind: 'file';
  /** What reads see. */
  data: FileBytes;
  /** What survives a crash. */
  durable: FileBytes;
  /** Permission bits as `stat` sees them. */
  mode: number;
  /** Permission bits as of the last `sync`. */
  durableMode: number;
  /** Lowest offset changed since the last sync (Infinity when clean). */
  dirtyFrom: number;
  /** End of the highest range changed since the last sync. */
  dirtyTo: number;
  /** The last write since the last sync: the candidate for tearing. */
  lastWrite: { position: number; bytes: Uint8Array } | undefined;
}

/** A directory's inode. */
export interface DirInode {
  /** Discriminant. */
  readonly kind: 'dir';
  /** Names as reads see them. */
  entries: Map<string, Inode>;
  /** Names as a crash leaves them. */
  durableEntries: Map<string, Inode>;
  /** Permission bits as `stat` sees them. */
  mode: number;
  /** Permission bits as of the last directory sync. */
  durableMode: number;
}

/** A file or directory. */
export type Inode = FileInode | DirInode;

/** One write a crash cut short: a prefix of the last unsynced write that landed (see `CrashConsistentFileIO.crash`). */
export interface TornWrite {
  /** The path the torn file was reached by after the crash. */
  readonly path: string;
  /** Offset of the write. */
  readonly position: number;
  /** Bytes the write carried. */
  readonly length: number;
  /** How many of them (a prefix) reached the disk. */
  readonly kept: number;
}

/** Limits of an {@link FsModel}. */
export interface FsModelLimits {
  /** Largest size a file may reach; larger writes and truncates fail with `CORE_FILE_IO` (`EFBIG`). */
  readonly maxFileSize: number;
}

/** The inode tree with volatile and durable views; see the module comment for the rules. */
export class FsModel {
  /** `/`: always present and always durable itself. */
  readonly root: DirInode = newDir(0o755);
  /** Size limits. */
  readonly limits: FsModelLimits;
  #generation = 0;

  /** An empty tree holding only the root directory. */
  constructor(limits: FsModelLimits) {
    this.limits = limits;
  }

  /** Bumped by every crash; handles opened in an older generation are stale. */
  get generation(): number {
    return this.#generation;
  }

  /** Normalises a path to absolute POSIX form (`..` and `.` resolved lexically: there are no symlinks). */
  normalize(path: string): string {
    return posix.resolve('/', path);
  }

  /**
   * The inode at `path`, or undefined when the last component is missing.
   * A missing parent is `CORE_FILE_NOT_FOUND`; a file used as a directory is `ENOTDIR`.
   */
  find(op: FileOp, path: string): Inode | undefined {
    if (path === '/') return this.root;
    const { dir, name } = this.parentOf(op, path);
    return dir.entries.get(name);
  }

  /** Like {@link find} but a missing inode is `CORE_FILE_NOT_FOUND`. */
  get(op: FileOp, path: string): Inode {
    const node = this.find(op, path);
    if (!node) throw fsError(CoreErrorCode.FILE_NOT_FOUND, op, path, 'ENOENT', 'no such file or directory');
    return node;
  }

  /** The directory that holds `path`'s last component, and that component. */
  parentOf(op: FileOp, path: string): { dir: DirInode; name: string } {
    const parts = path.split('/').filter((p) => p.length > 0);
    const name = parts.pop();
    if (name === undefined) throw fsError(CoreErrorCode.FILE_IO, op, path, 'EBUSY', 'the root cannot be used here');
    let dir: DirInode = this.root;
    for (const part of parts) {
      const next = dir.entries.get(part);
      if (!next) throw fsError(CoreErrorCode.FILE_NOT_FOUND, op, path, 'ENOENT', 'no such file or directory');
      if (next.kind !== 'dir') throw fsError(CoreErrorCode.FILE_IO, op, path, 'ENOTDIR', 'not a directory');
      dir = next;
    }
    return { dir, name };
  }

  /** Creates an empty file at `name` in `dir` (volatile until the directory is synced). */
  createFile(dir: DirInode, name: string, mode: number): FileInode {
    const file: FileInode = {
      kind: 'file',
      data: new FileBytes(),
      durable: new FileBytes(),
      mode,
      // A fresh inode's metadata is on disk as soon as anything names it durably.
      durableMode: mode,
      dirtyFrom: Number.POSITIVE_INFINITY,
      dirtyTo: 0,
      lastWrite: undefined,
    };
    dir.entries.set(name, file);
    return file;
  }

  /** Creates an empty directory at `name` in `dir`. */
  createDir(dir: DirInode, name: string, mode: number): DirInode {
    const child = newDir(mode);
    dir.entries.set(name, child);
    return child;
  }

  /** Writes into a file's volatile bytes and remembers the write for tearing. */
  write(op: FileOp, path: string, file: FileInode, position: number, data: Uint8Array): void {
    const end = position + data.length;
    if (end > this.limits.maxFileSize) {
      throw fsError(CoreErrorCode.FILE_IO, op, path, 'EFBIG', `file would exceed ${this.limits.maxFileSize} bytes`);
    }
    // A write past the end also dirties the zero-filled gap.
    file.dirtyFrom = Math.min(file.dirtyFrom, Math.min(position, file.data.size));
    file.dirtyTo = Math.max(file.dirtyTo, end);
    file.data.write(position, data);
    file.lastWrite = { position, bytes: data.slice() };
  }

  /** Cuts or zero-extends a file's volatile bytes. */
  truncate(op: FileOp, path: string, file: FileInode, length: number): void {
    if (length > this.limits.maxFileSize) {
      throw fsError(CoreErrorCode.FILE_IO, op, path, 'EFBIG', `file would exceed ${this.limits.maxFileSize} bytes`);
    }
    file.dirtyFrom = Math.min(file.dirtyFrom, Math.min(length, file.data.size));
    file.dirtyTo = Math.max(file.dirtyTo, length);
    file.data.truncate(length);
  }

  /** fsync (`metadata` true) or fdatasync of one file: its bytes and size, and with fsync its mode, become durable. */
  syncFile(file: FileInode, metadata: boolean): void {
    const size = file.data.size;
    file.durable.truncate(size);
    if (file.dirtyFrom < size) {
      const to = Math.min(file.dirtyTo, size);
      file.durable.write(file.dirtyFrom, file.data.view().subarray(file.dirtyFrom, to));
    }
    file.dirtyFrom = Number.POSITIVE_INFINITY;
    file.dirtyTo = 0;
    file.lastWrite = undefined;
    if (metadata) file.durableMode = file.mode;
  }

  /** fsync of a directory: its current names and mode become durable. */
  syncDirectory(dir: DirInode): void {
    dir.durableEntries = new Map(dir.entries);
    dir.durableMode = dir.mode;
  }

  /** Makes the whole visible tree durable, as `sync(1)` followed by a quiet disk would. */
  syncAll(): void {
    const seen = new Set<Inode>();
    const walk = (dir: DirInode) => {
      this.syncDirectory(dir);
      for (const child of dir.entries.values()) {
        if (seen.has(child)) continue;
        seen.add(child);
        if (child.kind === 'dir') walk(child);
        else this.syncFile(child, true);
      }
    };
    walk(this.root);
  }

  /**
   * A crash: every inode reachable from the root through durable entries
   * takes its durable state; everything else is gone. With `tear`, each
   * surviving file that has an unsynced write gets a prefix of its last
   * unsynced write applied over the durable bytes: `kept = tear.int(0, length)`
   * bytes at the write's position (zero-filling any gap past the durable end).
   * Files are visited in path order (names sorted), so a seed replays the
   * same tears. The result is the new durable state.
   */
  revert(tear: Rng | undefined): TornWrite[] {
    this.#generation++;
    const torn: TornWrite[] = [];
    const seen = new Set<Inode>();
    const walk = (dir: DirInode, path: string) => {
      dir.entries = new Map(dir.durableEntries);
      dir.mode = dir.durableMode;
      for (const name of [...dir.entries.keys()].sort()) {
        const child = dir.entries.get(name)!;
        if (seen.has(child)) continue;
        seen.add(child);
        const childPath = path === '/' ? `/${name}` : `${path}/${name}`;
        if (child.kind === 'dir') {
          walk(child, childPath);
          continue;
        }
        const pending = child.lastWrite;
        const restored = new FileBytes(child.durable.view());
        if (tear && pending) {
          const kept = tear.int(0, pending.bytes.length);
          if (kept > 0) restored.write(pending.position, pending.bytes.subarray(0, kept));
          torn.push({ path: childPath, position: pending.position, length: pending.bytes.length, kept });
        }
        child.data = restored;
        child.durable = new FileBytes(restored.view());
        child.mode = child.durableMode;
        child.dirtyFrom = Number.POSITIVE_INFINITY;
        child.dirtyTo = 0;
        child.lastWrite = undefined;
      }
    };
    walk(this.root, '/');
    return torn;
  }

  /** Path → bytes of every file reachable through volatile (`durable` false) or durable entries, sorted by path. */
  snapshot(durable: boolean): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    // Directory renames synced in one directory but not the other can leave a durable cycle; visit each directory once.
    const seen = new Set<DirInode>();
    const walk = (dir: DirInode, path: string) => {
      if (seen.has(dir)) return;
      seen.add(dir);
      const entries = durable ? dir.durableEntries : dir.entries;
      for (const name of [...entries.keys()].sort()) {
        const child = entries.get(name)!;
        const childPath = path === '/' ? `/${name}` : `${path}/${name}`;
        if (child.kind === 'dir') walk(child, childPath);
        else out.set(childPath, durable ? child.durable.copy() : child.data.copy());
      }
    };
    walk(this.root, '/');
    return new Map([...out.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }
}

function newDir(mode: number): DirInode {
  return { kind: 'dir', entries: new Map(), durableEntries: new Map(), mode, durableMode: mode };
}
