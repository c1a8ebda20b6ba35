import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { toHex } from '../bytes.js';
import type { Rng } from '../random/rng.js';
import { assertBytes, assertInteger, assertString } from '../validate.js';
import type { FileIO } from './file-io.js';

/** Options for {@link atomicWriteFile}. */
export interface AtomicWriteOptions {
  /**
   * Permission bits of the new file (e.g. `0o600` for secrets). Applied with
   * an explicit `chmod` before the file takes `path`'s name, so the umask
   * cannot change them and the file is never visible under `path` with
   * wider permissions. Default: the contract's `0o644`, filtered by the umask.
   */
  mode?: number;
  /**
   * Source of the temporary file's random suffix. Default: `node:crypto`.
   * Simulations pass their seeded `Rng` so file names, and therefore
   * traces, replay byte for byte.
   */
  rng?: Rng;
}

/** Name of the temporary sibling of `path`: hidden, derived from the target, unique per call. */
function tempPathFor(path: string, rng: Rng | undefined): string {
  const suffix = toHex(rng ? rng.bytes(6) : randomBytes(6));
  return join(dirname(path), `.${basename(path)}.${suffix}.tmp`);
}

/**
 * Replaces the file at `path` with `data` so that after a crash the file
 * holds either the old contents or the new, never a mix or a torn write.
 *
 * The standard sequence: write a temporary file in the same directory (a
 * rename is only atomic within one file system), fsync it so its data is on
 * disk before its name is, rename it over `path`, then fsync the directory
 * so the rename itself survives a crash. When this resolves, the new
 * contents are durable. On failure the temporary file is removed (best
 * effort) and the original error is thrown; `path` is untouched unless the
 * rename already happened.
 *
 * @param io - The file system (`nodeFileIO()`, or a simulated one in tests).
 * @param path - The file to replace or create; its directory must exist.
 * @param data - The complete new contents.
 * @throws `CORE_FILE_*` errors from `io`; `CORE_INVALID_ARGUMENT` for bad arguments.
 */
export async function atomicWriteFile(
  io: FileIO,
  path: string,
  data: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  assertString('path', path, { nonEmpty: true });
  assertBytes('data', data);
  if (options.mode !== undefined) assertInteger('options.mode', options.mode, { min: 0, max: 0o7777 });

  const temp = tempPathFor(path, options.rng);
  // `wx` so a leftover temp file of another writer is never reused; the
  // initial mode is already narrow so the data is never briefly exposed.
  const handle = await io.open(temp, 'wx', options.mode ?? 0o644);
  let renamed = false;
  try {
    try {
      await handle.write(data, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.mode !== undefined) await io.chmod(temp, options.mode);
    await io.rename(temp, path);
    renamed = true;
    await io.syncDir(dirname(path));
  } catch (err) {
    if (!renamed) await io.remove(temp).catch(() => undefined);
    throw err;
  }
}
