import { constants as bufferConstants } from 'node:buffer';
import {
  chmod,
  mkdir,
  type FileHandle as NodeFileHandle,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { assertBytes, assertInteger, assertOneOf, assertString } from '../validate.js';
import type { FileHandle, FileIO, FileStat, OpenFlags } from './file-io.js';

/** The operations named in `details.op` of the errors {@link nodeFileIO} throws. */
export type FileOp =
  | 'open'
  | 'read'
  | 'write'
  | 'sync'
  | 'datasync'
  | 'truncate'
  | 'size'
  | 'close'
  | 'readFile'
  | 'rename'
  | 'remove'
  | 'list'
  | 'mkdir'
  | 'stat'
  | 'chmod'
  | 'syncDir';

/** Details carried by the `CORE_FILE_*` errors of {@link nodeFileIO}. */
export interface FileErrorDetails {
  readonly [key: string]: unknown;
  /** The path the operation was given (for `rename`, the source). */
  readonly path: string;
  /** The operation that failed. */
  readonly op: FileOp;
  /** The platform's error code (`ENOENT`, `ENOSPC`, ...), when it gave one. */
  readonly errno?: string;
}

const OPEN_FLAGS: readonly OpenFlags[] = ['r', 'r+', 'w', 'wx', 'a'];

/** Wraps a platform failure in the contract's typed error, keeping it as `cause`. */
function fileError(err: unknown, path: string, op: FileOp): NovacronError<string, FileErrorDetails> {
  if (err instanceof NovacronError) return err as NovacronError<string, FileErrorDetails>;
  const errno = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  const details: FileErrorDetails = errno === undefined ? { path, op } : { path, op, errno };
  const reason = err instanceof Error ? err.message : String(err);
  switch (errno) {
    case 'ENOENT':
      return new NovacronError(CoreErrorCode.FILE_NOT_FOUND, `${op} ${path}: no such file or directory`, {
        details,
        cause: err,
      });
    case 'EEXIST':
      return new NovacronError(CoreErrorCode.FILE_EXISTS, `${op} ${path}: already exists`, { details, cause: err });
    default:
      return new NovacronError(CoreErrorCode.FILE_IO, `${op} ${path}: ${reason}`, { details, cause: err });
  }
}

/** Runs `fn`, turning any platform failure into a typed file error. */
async function guarded<T>(path: string, op: FileOp, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fileError(err, path, op);
  }
}

function assertPosition(argument: string, value: number): void {
  assertInteger(argument, value, { min: 0, max: Number.MAX_SAFE_INTEGER });
}

/** A {@link FileHandle} over a `node:fs/promises` handle. */
class NodeHandle implements FileHandle {
  readonly path: string;
  readonly #fh: NodeFileHandle;
  readonly #append: boolean;
  #closed = false;

  constructor(path: string, fh: NodeFileHandle, append: boolean) {
    this.path = path;
    this.#fh = fh;
    this.#append = append;
  }

  #live(op: FileOp): NodeFileHandle {
    if (this.#closed) {
      throw new NovacronError(CoreErrorCode.FILE_IO, `${op} ${this.path}: handle is closed`, {
        details: { path: this.path, op } satisfies FileErrorDetails,
      });
    }
    return this.#fh;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    assertPosition('position', position);
    // Node buffers cannot exceed this; asking for more is a caller bug, not an I/O error.
    assertInteger('length', length, { min: 0, max: bufferConstants.MAX_LENGTH });
    const fh = this.#live('read');
    return guarded(this.path, 'read', async () => {
      // Never allocate past the end of the file: a corrupt length field read
      // from disk must not become a multi-gigabyte allocation.
      const available = Math.max(0, (await fh.stat()).size - position);
      const want = Math.min(length, available);
      const out = new Uint8Array(want);
      let filled = 0;
      // pread may return short counts (signals, network file systems): keep
      // going until the request is met or the file ends.
      while (filled < want) {
        const { bytesRead } = await fh.read(out, filled, want - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === want ? out : out.subarray(0, filled);
    });
  }

  async write(data: Uint8Array, position?: number): Promise<void> {
    assertBytes('data', data);
    if (position !== undefined) assertPosition('position', position);
    const fh = this.#live('write');
    await guarded(this.path, 'write', async () => {
      // The contract says "at the end" when no position is given, which the
      // OS does by itself only for O_APPEND handles; for the others, find
      // the end explicitly instead of using the handle's cursor.
      const start = this.#append ? null : (position ?? (await fh.stat()).size);
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await fh.write(
          data,
          written,
          data.length - written,
          start === null ? null : start + written,
        );
        // A zero-byte write would loop forever; the kernel only does this when it cannot make progress.
        if (bytesWritten === 0) throw new Error(`write made no progress after ${written} of ${data.length} bytes`);
        written += bytesWritten;
      }
    });
  }

  async sync(): Promise<void> {
    const fh = this.#live('sync');
    await guarded(this.path, 'sync', () => fh.sync());
  }

  async datasync(): Promise<void> {
    const fh = this.#live('datasync');
    await guarded(this.path, 'datasync', () => fh.datasync());
  }

  async truncate(length: number): Promise<void> {
    assertPosition('length', length);
    const fh = this.#live('truncate');
    await guarded(this.path, 'truncate', () => fh.truncate(length));
  }

  async size(): Promise<number> {
    const fh = this.#live('size');
    return guarded(this.path, 'size', async () => (await fh.stat()).size);
  }

  async close(): Promise<void> {
    // Closing twice is harmless, so `finally { close() }` patterns never mask the real error.
    if (this.#closed) return;
    this.#closed = true;
    await guarded(this.path, 'close', () => this.#fh.close());
  }
}

/**
 * The production {@link FileIO}: `node:fs/promises` with the contract's
 * typed errors (`ENOENT` → `CORE_FILE_NOT_FOUND`, `EEXIST` →
 * `CORE_FILE_EXISTS`, anything else → `CORE_FILE_IO`; the platform error is
 * the `cause` and `details` carry `{ path, op, errno }`).
 *
 * @example
 * ```ts
 * const io = nodeFileIO();
 * await atomicWriteFile(io, '/var/lib/novacron/state.json', bytes);
 * ```
 */
export function nodeFileIO(): FileIO {
  return {
    async open(path, flags, mode = 0o644) {
      assertString('path', path, { nonEmpty: true });
      assertOneOf('flags', flags, OPEN_FLAGS);
      assertInteger('mode', mode, { min: 0, max: 0o7777 });
      const fh = await guarded(path, 'open', () => open(path, flags, mode));
      return new NodeHandle(path, fh, flags === 'a');
    },

    async readFile(path) {
      assertString('path', path, { nonEmpty: true });
      const buf = await guarded(path, 'readFile', () => readFile(path));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },

    async rename(from, to) {
      assertString('from', from, { nonEmpty: true });
      assertString('to', to, { nonEmpty: true });
      await guarded(from, 'rename', () => rename(from, to));
    },

    async remove(path) {
      assertString('path', path, { nonEmpty: true });
      try {
        await unlink(path);
      } catch (err) {
        if ((err as { code?: unknown })?.code === 'ENOENT') return;
        throw fileError(err, path, 'remove');
      }
    },

    async list(dir) {
      assertString('dir', dir, { nonEmpty: true });
      const names = await guarded(dir, 'list', () => readdir(dir));
      return names.sort();
    },

    async mkdir(path) {
      assertString('path', path, { nonEmpty: true });
      await guarded(path, 'mkdir', () => mkdir(path, { recursive: true }));
    },

    async stat(path): Promise<FileStat | undefined> {
      assertString('path', path, { nonEmpty: true });
      try {
        const st = await stat(path);
        return { size: st.size, mode: st.mode & 0o7777, isDirectory: st.isDirectory() };
      } catch (err) {
        if ((err as { code?: unknown })?.code === 'ENOENT') return undefined;
        throw fileError(err, path, 'stat');
      }
    },

    async chmod(path, mode) {
      assertString('path', path, { nonEmpty: true });
      assertInteger('mode', mode, { min: 0, max: 0o7777 });
      await guarded(path, 'chmod', () => chmod(path, mode));
    },

    async syncDir(path) {
      assertString('path', path, { nonEmpty: true });
      // Windows cannot open a directory for fsync and makes renames durable by itself.
      if (process.platform === 'win32') return;
      await guarded(path, 'syncDir', async () => {
        const fh = await open(path, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      });
    },
  };
}
