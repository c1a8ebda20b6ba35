import { constants as bufferConstants } from 'node:buffer';
import {
  CoreErrorCode,
  type FileHandle,
  type FileIO,
  type FileOp,
  type FileStat,
  type OpenFlags,
  assertBytes,
  assertInteger,
  assertOneOf,
  assertString,
  isNovacronError,
} from '@novacron/core';
import { type DirInode, type FileInode, FsModel, type Inode, fsError } from './fs-model.js';

/** Options for {@link MemoryFileIO}. */
export interface MemoryFileIOOptions {
  /**
   * Largest size a file may reach (default 1 GiB). A write or truncate past
   * it fails with `CORE_FILE_IO` (`EFBIG`) instead of allocating: an
   * in-memory file is not sparse.
   */
  readonly maxFileSize?: number;
  /**
   * Permission bits cleared from the mode of created files and directories,
   * like a process umask (default `0o022`, so `open(p, 'w')` yields `0o644`
   * and `mkdir` `0o755`, as on a typical Linux host). `chmod` ignores it.
   */
  readonly umask?: number;
}

/**
 * One call made on a {@link MemoryFileIO} or one of its handles, as
 * recorded by `CrashConsistentFileIO.operations`. Only the fields that
 * apply to `op` are set.
 */
export interface FileOperation {
  /** The call (`open`, `write`, `sync`, `datasync`, `rename`, ...). */
  readonly op: FileOp;
  /** The path given (for handle calls, the path the handle was opened with; for `rename`, the source). */
  readonly path: string;
  /** `rename`'s destination. */
  readonly to?: string;
  /** `open`'s flags. */
  readonly flags?: OpenFlags;
  /** `open`'s and `chmod`'s mode. */
  readonly mode?: number;
  /** `write`: how many bytes were written. */
  readonly bytes?: number;
  /** `read` / `write`: the position given (`undefined` for a write at the end). */
  readonly position?: number;
  /** `read`: bytes asked for; `truncate`: the new length. */
  readonly length?: number;
}

const OPEN_FLAGS: readonly OpenFlags[] = ['r', 'r+', 'w', 'wx', 'a'];
const DEFAULT_MAX_FILE_SIZE = 2 ** 30;
/** The size `stat` reports for a directory (real file systems vary: ext4 says 4096, tmpfs counts entries). */
const DIRECTORY_SIZE = 0;

/** Runs one call; subclasses add latency and recording. */
type Runner = <T>(operation: FileOperation, action: () => T) => Promise<T>;

/**
 * A complete in-memory {@link FileIO}: directories, files, modes, rename,
 * list, stat, truncate and append, failing with the same
 * `CORE_FILE_NOT_FOUND` / `CORE_FILE_EXISTS` / `CORE_FILE_IO` codes (and
 * `details.errno`) that `nodeFileIO()` gives for the same calls on Linux.
 *
 * It keeps two views of the tree, modelled on the page cache: the volatile
 * view that reads see, and the durable view that a crash would leave.
 * `sync` / `datasync` on a handle make that file's bytes and size durable
 * (`sync` also its mode); `syncDir` makes a directory's names (creates,
 * renames, removes) durable. Nothing here crashes by itself — use
 * `CrashConsistentFileIO` for that — but the two snapshots let a test see
 * what a store has made durable so far.
 *
 * Paths use POSIX syntax; relative paths resolve against `/`, which always
 * exists. Calls resolve without timers (no latency).
 */
export class MemoryFileIO implements FileIO {
  /** @internal the inode tree; shared with `CrashConsistentFileIO`. */
  protected readonly model: FsModel;
  readonly #umask: number;
  readonly #run: Runner;

  /** An empty file system holding only `/`. */
  constructor(options: MemoryFileIOOptions = {}) {
    const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
    assertInteger('options.maxFileSize', maxFileSize, { min: 0, max: Number.MAX_SAFE_INTEGER });
    this.#umask = options.umask ?? 0o022;
    assertInteger('options.umask', this.#umask, { min: 0, max: 0o777 });
    this.model = new FsModel({ maxFileSize });
    this.#run = (operation, action) => this.perform(operation, action);
  }

  /**
   * Every call funnels through here after its arguments are validated.
   * The base version just runs `action`; `CrashConsistentFileIO` records
   * the call and waits out disk latency first.
   */
  protected async perform<T>(_operation: FileOperation, action: () => T): Promise<T> {
    return action();
  }

  /** Opens a file with the Linux semantics of `flags` (see {@link FileIO.open}); creating needs an existing parent. */
  async open(path: string, flags: OpenFlags, mode = 0o644): Promise<FileHandle> {
    assertString('path', path, { nonEmpty: true });
    assertOneOf('flags', flags, OPEN_FLAGS);
    assertInteger('mode', mode, { min: 0, max: 0o7777 });
    return this.#run({ op: 'open', path, flags, mode }, () => {
      const abs = this.model.normalize(path);
      let node = this.model.find('open', abs);
      if (node === undefined) {
        if (flags === 'r' || flags === 'r+') {
          throw fsError(CoreErrorCode.FILE_NOT_FOUND, 'open', path, 'ENOENT', 'no such file or directory');
        }
        const { dir, name } = this.model.parentOf('open', abs);
        node = this.model.createFile(dir, name, mode & ~this.#umask);
      } else if (flags === 'wx') {
        throw fsError(CoreErrorCode.FILE_EXISTS, 'open', path, 'EEXIST', 'file already exists');
      } else if (node.kind === 'dir') {
        // Linux lets a directory be opened read-only (that is how directories are fsynced), nothing more.
        if (flags !== 'r')
          throw fsError(CoreErrorCode.FILE_IO, 'open', path, 'EISDIR', 'illegal operation on a directory');
      } else if (flags === 'w') {
        this.model.truncate('open', path, node, 0);
      }
      return new MemoryFileHandle(path, node, flags, this.model, this.#run);
    });
  }

  /** Reads a whole file (`EISDIR` for a directory). */
  async readFile(path: string): Promise<Uint8Array> {
    assertString('path', path, { nonEmpty: true });
    return this.#run({ op: 'readFile', path }, () => {
      const node = this.model.get('readFile', this.model.normalize(path));
      if (node.kind === 'dir') {
        throw fsError(CoreErrorCode.FILE_IO, 'readFile', path, 'EISDIR', 'illegal operation on a directory');
      }
      return node.data.copy();
    });
  }

  /** Moves a name with rename(2)'s checks and error order; durable after `syncDir` (see the class comment). */
  async rename(from: string, to: string): Promise<void> {
    assertString('from', from, { nonEmpty: true });
    assertString('to', to, { nonEmpty: true });
    return this.#run({ op: 'rename', path: from, to }, () => {
      const src = this.model.normalize(from);
      const dst = this.model.normalize(to);
      if (src === '/' || dst === '/') throw fsError(CoreErrorCode.FILE_IO, 'rename', from, 'EBUSY', 'resource busy');
      // Both parent directories are resolved before the source name is looked up, as the kernel does.
      const source = this.model.parentOf('rename', src);
      const target = this.model.parentOf('rename', dst);
      const node = source.dir.entries.get(source.name);
      if (!node) throw fsError(CoreErrorCode.FILE_NOT_FOUND, 'rename', from, 'ENOENT', 'no such file or directory');
      const existing = target.dir.entries.get(target.name);
      if (existing === node) return;
      if (node.kind === 'dir' && dst.startsWith(`${src}/`)) {
        throw fsError(CoreErrorCode.FILE_IO, 'rename', from, 'EINVAL', 'cannot move a directory into itself');
      }
      if (src.startsWith(`${dst}/`)) {
        // The target is an ancestor of the source, so it cannot be empty; the kernel says so before any type check.
        throw fsError(CoreErrorCode.FILE_IO, 'rename', from, 'ENOTEMPTY', 'directory not empty');
      }
      if (existing) {
        if (node.kind === 'file' && existing.kind === 'dir') {
          throw fsError(CoreErrorCode.FILE_IO, 'rename', from, 'EISDIR', 'illegal operation on a directory');
        }
        if (node.kind === 'dir' && existing.kind === 'file') {
          throw fsError(CoreErrorCode.FILE_IO, 'rename', from, 'ENOTDIR', 'not a directory');
        }
        if (existing.kind === 'dir' && existing.entries.size > 0) {
          throw fsError(CoreErrorCode.FILE_IO, 'rename', from, 'ENOTEMPTY', 'directory not empty');
        }
      }
      source.dir.entries.delete(source.name);
      target.dir.entries.set(target.name, node);
    });
  }

  /** Unlinks a file; a missing file or parent is fine, a directory is `EISDIR`. */
  async remove(path: string): Promise<void> {
    assertString('path', path, { nonEmpty: true });
    return this.#run({ op: 'remove', path }, () => {
      const abs = this.model.normalize(path);
      if (abs === '/')
        throw fsError(CoreErrorCode.FILE_IO, 'remove', path, 'EISDIR', 'illegal operation on a directory');
      let node: Inode | undefined;
      try {
        node = this.model.find('remove', abs);
      } catch (err) {
        if (isNovacronError(err, CoreErrorCode.FILE_NOT_FOUND)) return;
        throw err;
      }
      if (!node) return;
      // unlink(2) on Linux refuses directories with EISDIR.
      if (node.kind === 'dir')
        throw fsError(CoreErrorCode.FILE_IO, 'remove', path, 'EISDIR', 'illegal operation on a directory');
      const { dir, name } = this.model.parentOf('remove', abs);
      dir.entries.delete(name);
    });
  }

  /** Sorted names in a directory. */
  async list(dir: string): Promise<string[]> {
    assertString('dir', dir, { nonEmpty: true });
    return this.#run({ op: 'list', path: dir }, () => {
      const node = this.model.get('list', this.model.normalize(dir));
      if (node.kind !== 'dir') throw fsError(CoreErrorCode.FILE_IO, 'list', dir, 'ENOTDIR', 'not a directory');
      return [...node.entries.keys()].sort();
    });
  }

  /** Creates a directory and its missing parents (`mkdir -p`). */
  async mkdir(path: string): Promise<void> {
    assertString('path', path, { nonEmpty: true });
    return this.#run({ op: 'mkdir', path }, () => {
      const parts = this.model
        .normalize(path)
        .split('/')
        .filter((p) => p.length > 0);
      let dir: DirInode = this.model.root;
      for (let i = 0; i < parts.length; i++) {
        const name = parts[i]!;
        const next = dir.entries.get(name);
        if (next === undefined) {
          dir = this.model.createDir(dir, name, 0o777 & ~this.#umask);
        } else if (next.kind === 'dir') {
          dir = next;
        } else if (i === parts.length - 1) {
          // mkdir -p on an existing file: Node reports EEXIST.
          throw fsError(CoreErrorCode.FILE_EXISTS, 'mkdir', path, 'EEXIST', 'file already exists');
        } else {
          throw fsError(CoreErrorCode.FILE_IO, 'mkdir', path, 'ENOTDIR', 'not a directory');
        }
      }
    });
  }

  /** Size, mode and kind, or `undefined` when the path does not exist (a directory's size is reported as 0). */
  async stat(path: string): Promise<FileStat | undefined> {
    assertString('path', path, { nonEmpty: true });
    return this.#run({ op: 'stat', path }, () => {
      let node: Inode | undefined;
      try {
        node = this.model.find('stat', this.model.normalize(path));
      } catch (err) {
        if (isNovacronError(err, CoreErrorCode.FILE_NOT_FOUND)) return undefined;
        throw err;
      }
      if (!node) return undefined;
      return node.kind === 'dir'
        ? { size: DIRECTORY_SIZE, mode: node.mode, isDirectory: true }
        : { size: node.data.size, mode: node.mode, isDirectory: false };
    });
  }

  /** Sets permission bits (durable after `sync` of the file or `syncDir` of a directory). */
  async chmod(path: string, mode: number): Promise<void> {
    assertString('path', path, { nonEmpty: true });
    assertInteger('mode', mode, { min: 0, max: 0o7777 });
    return this.#run({ op: 'chmod', path, mode }, () => {
      this.model.get('chmod', this.model.normalize(path)).mode = mode;
    });
  }

  /** fsyncs a directory: its names and mode become durable. A file given here is fsynced, as with `nodeFileIO`. */
  async syncDir(path: string): Promise<void> {
    assertString('path', path, { nonEmpty: true });
    return this.#run({ op: 'syncDir', path }, () => {
      const node = this.model.get('syncDir', this.model.normalize(path));
      // nodeFileIO fsyncs whatever it opens, so a file here is simply fsynced.
      if (node.kind === 'dir') this.model.syncDirectory(node);
      else this.model.syncFile(node, true);
    });
  }

  /**
   * Makes everything currently visible durable, as if `sync(1)` ran and the
   * disk settled. Tests use it to set up a known durable starting state
   * (directories a store expects to exist, seed files) before the part
   * under test.
   */
  syncAll(): void {
    this.model.syncAll();
  }

  /** Path → bytes of every file reads currently see, sorted by path (empty directories do not appear). */
  volatileSnapshot(): Map<string, Uint8Array> {
    return this.model.snapshot(false);
  }

  /** Path → bytes of every file a crash right now (without tearing) would leave, sorted by path. */
  durableSnapshot(): Map<string, Uint8Array> {
    return this.model.snapshot(true);
  }
}

/** A handle on a {@link MemoryFileIO} inode; stale once the file system crashes. */
class MemoryFileHandle implements FileHandle {
  readonly path: string;
  readonly #node: FileInode | DirInode;
  readonly #flags: OpenFlags;
  readonly #model: FsModel;
  readonly #run: Runner;
  readonly #generation: number;
  #closed = false;

  constructor(path: string, node: Inode, flags: OpenFlags, model: FsModel, run: Runner) {
    this.path = path;
    this.#node = node;
    this.#flags = flags;
    this.#model = model;
    this.#run = run;
    this.#generation = model.generation;
  }

  /** The inode, once the handle is known to be open and from before the last crash. */
  #live(op: FileOp): Inode {
    if (this.#closed) throw fsError(CoreErrorCode.FILE_IO, op, this.path, 'EBADF', 'handle is closed');
    if (this.#generation !== this.#model.generation) {
      throw fsError(CoreErrorCode.FILE_IO, op, this.path, 'ESTALE', 'stale handle: the file system crashed');
    }
    return this.#node;
  }

  #file(op: FileOp, access: 'read' | 'write'): FileInode {
    const node = this.#live(op);
    const readable = this.#flags === 'r' || this.#flags === 'r+';
    const writable = this.#flags !== 'r';
    if ((access === 'read' && !readable) || (access === 'write' && !writable)) {
      // ftruncate(2) on a read-only descriptor is EINVAL on Linux; read/write are EBADF.
      const errno = op === 'truncate' ? 'EINVAL' : 'EBADF';
      throw fsError(CoreErrorCode.FILE_IO, op, this.path, errno, `handle not open for ${access}ing`);
    }
    if (node.kind === 'dir')
      throw fsError(CoreErrorCode.FILE_IO, op, this.path, 'EISDIR', 'illegal operation on a directory');
    return node;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    assertInteger('position', position, { min: 0, max: Number.MAX_SAFE_INTEGER });
    assertInteger('length', length, { min: 0, max: bufferConstants.MAX_LENGTH });
    return this.#run({ op: 'read', path: this.path, position, length }, () => {
      const node = this.#live('read');
      // nodeFileIO asks the kernel only when there is something to read, so an
      // empty read succeeds even on a write-only handle; match it.
      if (length === 0 || (node.kind === 'file' && position >= node.data.size)) return new Uint8Array(0);
      return this.#file('read', 'read').data.read(position, length);
    });
  }

  async write(data: Uint8Array, position?: number): Promise<void> {
    assertBytes('data', data);
    if (position !== undefined) assertInteger('position', position, { min: 0, max: Number.MAX_SAFE_INTEGER });
    // Copy now: the caller may reuse its buffer while a slow simulated write is in flight.
    const bytes = data.slice();
    const operation: FileOperation =
      position === undefined
        ? { op: 'write', path: this.path, bytes: bytes.length }
        : { op: 'write', path: this.path, bytes: bytes.length, position };
    return this.#run(operation, () => {
      // nodeFileIO issues no write(2) for empty data: nothing is checked, nothing extends the file.
      if (bytes.length === 0) {
        this.#live('write');
        return;
      }
      const file = this.#file('write', 'write');
      // O_APPEND ignores the position on Linux; the contract writes at the end when none is given.
      const at = this.#flags === 'a' || position === undefined ? file.data.size : position;
      this.#model.write('write', this.path, file, at, bytes);
    });
  }

  async sync(): Promise<void> {
    return this.#run({ op: 'sync', path: this.path }, () => this.#sync('sync', true));
  }

  async datasync(): Promise<void> {
    return this.#run({ op: 'datasync', path: this.path }, () => this.#sync('datasync', false));
  }

  #sync(op: FileOp, metadata: boolean): void {
    const node = this.#live(op);
    if (node.kind === 'dir') this.#model.syncDirectory(node);
    else this.#model.syncFile(node, metadata);
  }

  async truncate(length: number): Promise<void> {
    assertInteger('length', length, { min: 0, max: Number.MAX_SAFE_INTEGER });
    return this.#run({ op: 'truncate', path: this.path, length }, () => {
      this.#model.truncate('truncate', this.path, this.#file('truncate', 'write'), length);
    });
  }

  async size(): Promise<number> {
    return this.#run({ op: 'size', path: this.path }, () => {
      const node = this.#live('size');
      return node.kind === 'dir' ? DIRECTORY_SIZE : node.data.size;
    });
  }

  async close(): Promise<void> {
    // Closing twice, or after a crash, is harmless: `finally { close() }` must never mask the real error.
    if (this.#closed) return;
    this.#closed = true;
    return this.#run({ op: 'close', path: this.path }, () => undefined);
  }
}
