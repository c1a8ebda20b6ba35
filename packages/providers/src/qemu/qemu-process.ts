import { type ChildProcess, spawn } from 'node:child_process';
import { type Clock, NovacronError, type Logger } from '@novacron/core';
import { ProvidersErrorCode } from '../errors.js';
import { QmpClient } from './qmp-client.js';

/** How to launch one QEMU process. */
export interface QemuLaunch {
  /** The emulator binary. */
  readonly binary: string;
  /** Arguments (the QMP socket is added by {@link QemuProcess.launch}). */
  readonly args: readonly string[];
  /** Path of the QMP unix socket QEMU should create. */
  readonly qmpPath: string;
  /** Time base. */
  readonly clock: Clock;
  /** How long to wait for QMP to come up, in ms. */
  readonly startTimeoutMs: number;
  /** Optional logger. */
  readonly logger?: Logger;
}

const STDERR_KEEP = 8192;

/**
 * One `qemu-system-*` process and its QMP connection. Owns the child: it
 * is killed on `kill()` or when startup fails, so no process or socket
 * outlives its `QemuProcess`. Keeps the tail of QEMU's stderr for errors.
 */
export class QemuProcess {
  /** The QMP connection (ready after `launch`). */
  readonly qmp: QmpClient;
  /** Resolves with the exit code (or signal name) when the process has exited. */
  readonly exited: Promise<number | string>;
  readonly #child: ChildProcess;
  #stderr = '';
  #hasExited = false;

  private constructor(child: ChildProcess, qmp: QmpClient) {
    this.#child = child;
    this.qmp = qmp;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-STDERR_KEEP);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#hasExited = true;
        resolve(code ?? signal ?? 'unknown');
      });
      child.once('error', () => {
        this.#hasExited = true;
        resolve('spawn-error');
      });
    });
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.#hasExited;
  }

  /** The last bytes QEMU wrote to stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Spawns QEMU with a QMP socket and connects to it; on any failure the process is killed. */
  static async launch(launch: QemuLaunch, signal?: AbortSignal): Promise<QemuProcess> {
    const args = [...launch.args, '-qmp', `unix:${launch.qmpPath},server=on,wait=off`];
    const child = spawn(launch.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const qmp = new QmpClient({
      path: launch.qmpPath,
      clock: launch.clock,
      connectTimeoutMs: launch.startTimeoutMs,
      ...(launch.logger ? { logger: launch.logger } : {}),
    });
    const proc = new QemuProcess(child, qmp);
    const earlyExit = proc.exited.then((code) => {
      throw new NovacronError(ProvidersErrorCode.QEMU_SPAWN_FAILED, `QEMU exited during startup (${code})`, {
        details: { exit: code, stderr: proc.stderr.slice(-2000) },
      });
    });
    earlyExit.catch(() => undefined);
    try {
      await Promise.race([qmp.connect(signal), earlyExit]);
      return proc;
    } catch (err) {
      await proc.kill();
      // The exit may have raced the connect failure: prefer the message with QEMU's own words.
      if (
        proc.stderr.trim().length > 0 &&
        !(err instanceof NovacronError && err.code === ProvidersErrorCode.QEMU_SPAWN_FAILED)
      )
        throw new NovacronError(
          ProvidersErrorCode.QEMU_SPAWN_FAILED,
          `QEMU failed to start: ${proc.stderr.trim().slice(-500)}`,
          {
            details: { stderr: proc.stderr.slice(-2000) },
            cause: err,
          },
        );
      throw err;
    }
  }

  /** Asks QEMU to quit over QMP and waits for the exit; kills it after `graceMs`. */
  async quit(graceMs: number, clock: Clock): Promise<void> {
    if (!this.#hasExited && this.qmp.ready)
      await this.qmp.execute('quit', undefined, { timeoutMs: graceMs }).catch(() => undefined);
    const timer = clock.setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    timer.cancel();
    await this.qmp.close();
  }

  /** Kills the process (SIGKILL) and waits for it to exit. Idempotent. */
  async kill(): Promise<void> {
    if (!this.#hasExited) this.#child.kill('SIGKILL');
    await this.exited;
    await this.qmp.close();
  }
}
