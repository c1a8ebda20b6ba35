import { type Socket, createConnection } from 'node:net';
import {
  type Clock,
  CoreErrorCode,
  type Logger,
  NovacronError,
  type Timer,
  type Unsubscribe,
  abortedError,
  isNovacronError,
  noopLogger,
} from '@novacron/core';
import { ProvidersErrorCode } from '../errors.js';
import {
  QmpLineSplitter,
  type QmpEvent,
  type QmpGreeting,
  type QmpServerMessage,
  decodeQmpLine,
} from './qmp-messages.js';

/** Options for {@link QmpClient}. */
export interface QmpClientInit {
  /** Path of QEMU's QMP unix socket (`-qmp unix:<path>,server=on,wait=off`). */
  readonly path: string;
  /** Time base for timeouts and retry delays. */
  readonly clock: Clock;
  /** How long `connect` keeps trying (the socket may not exist yet), in ms (default 10 000). */
  readonly connectTimeoutMs?: number;
  /** Pause between connection attempts, in ms (default 20). */
  readonly retryDelayMs?: number;
  /** Default command timeout in ms (default 30 000). */
  readonly commandTimeoutMs?: number;
  /** Longest accepted line in bytes (default 4 MiB). */
  readonly maxLineBytes?: number;
  /** After an unexpected disconnect, reconnect automatically (default false). */
  readonly reconnect?: boolean;
  /** Optional logger. */
  readonly logger?: Logger;
}

/** Options for one command. */
export interface QmpCommandOptions {
  /** Timeout in ms (client default otherwise). */
  readonly timeoutMs?: number;
  /** Cancels the wait (the command may still take effect in QEMU). */
  readonly signal?: AbortSignal;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: Timer;
  readonly cleanup: () => void;
}

type ConnState = 'idle' | 'connecting' | 'ready' | 'closed';

/**
 * A typed client for QEMU's Machine Protocol over a unix socket: reads the
 * greeting, negotiates capabilities (`qmp_capabilities`), sends commands
 * with ids and matches replies by id (so replies may come in any order),
 * delivers asynchronous events to listeners, applies per-command timeouts
 * on the injected clock, and can reconnect after QEMU drops the socket.
 * A peer that speaks something other than QMP (bad JSON, oversized lines, a
 * message of no known shape) fails every pending command with
 * `PROVIDERS_QMP_PROTOCOL` and closes the connection; it never crashes the
 * process or makes the client buffer without bound.
 */
export class QmpClient {
  readonly #init: QmpClientInit;
  readonly #logger: Logger;
  readonly #pending = new Map<string, Pending>();
  readonly #eventListeners = new Set<(event: QmpEvent) => void>();
  readonly #disconnectListeners = new Set<(err: NovacronError) => void>();
  #socket: Socket | undefined;
  #state: ConnState = 'idle';
  #nextId = 1;
  #greeting: QmpGreeting | undefined;
  #connecting: Promise<QmpGreeting> | undefined;

  constructor(init: QmpClientInit) {
    this.#init = init;
    this.#logger = init.logger ?? noopLogger('qmp');
  }

  /** The greeting of the current connection (after `connect`). */
  get greeting(): QmpGreeting | undefined {
    return this.#greeting;
  }

  /** True when commands can be sent. */
  get ready(): boolean {
    return this.#state === 'ready';
  }

  /**
   * Connects (retrying until the socket accepts or the deadline passes),
   * reads the greeting and leaves negotiation mode. Idempotent while
   * connected or connecting.
   */
  connect(signal?: AbortSignal): Promise<QmpGreeting> {
    if (this.#state === 'ready' && this.#greeting) return Promise.resolve(this.#greeting);
    if (this.#connecting) return this.#connecting;
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    this.#state = 'connecting';
    this.#connecting = this.#connectLoop(signal).finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Sends `command` with `args` and resolves with QEMU's `return` value. */
  execute<T = unknown>(
    command: string,
    args?: Readonly<Record<string, unknown>>,
    options: QmpCommandOptions = {},
  ): Promise<T> {
    if (this.#state !== 'ready' || !this.#socket)
      return Promise.reject(
        new NovacronError(ProvidersErrorCode.QMP_DISCONNECTED, `QMP not connected (command ${command})`, {
          details: { command },
        }),
      );
    return this.#send(this.#socket, command, args, options) as Promise<T>;
  }

  /** Subscribes to QMP events. */
  onEvent(listener: (event: QmpEvent) => void): Unsubscribe {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Subscribes to unexpected disconnects (not those caused by {@link close}). */
  onDisconnect(listener: (err: NovacronError) => void): Unsubscribe {
    this.#disconnectListeners.add(listener);
    return () => this.#disconnectListeners.delete(listener);
  }

  /**
   * Resolves with the first event named `name` (and matching `predicate`)
   * that arrives after this call; rejects on timeout, abort or disconnect.
   */
  waitForEvent(
    name: string,
    predicate: (event: QmpEvent) => boolean = () => true,
    options: QmpCommandOptions = {},
  ): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(abortedError(options.signal));
        return;
      }
      const timeoutMs = options.timeoutMs ?? this.#init.commandTimeoutMs ?? 30_000;
      const done = () => {
        offEvent();
        offDisconnect();
        timer.cancel();
        options.signal?.removeEventListener('abort', onAbort);
      };
      const offEvent = this.onEvent((e) => {
        if (e.event !== name || !predicate(e)) return;
        done();
        resolve(e);
      });
      const offDisconnect = this.onDisconnect((err) => {
        done();
        reject(err);
      });
      const timer = this.#init.clock.setTimeout(() => {
        done();
        reject(
          new NovacronError(CoreErrorCode.TIMEOUT, `no ${name} event within ${timeoutMs} ms`, {
            details: { timeoutMs },
          }),
        );
      }, timeoutMs);
      const onAbort = () => {
        done();
        reject(abortedError(options.signal));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes the connection; pending commands fail with `PROVIDERS_QMP_DISCONNECTED`. Idempotent. */
  async close(): Promise<void> {
    const socket = this.#socket;
    this.#state = 'closed';
    this.#socket = undefined;
    this.#failPending(new NovacronError(ProvidersErrorCode.QMP_DISCONNECTED, 'QMP client closed'));
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    }
  }

  async #connectLoop(signal: AbortSignal | undefined): Promise<QmpGreeting> {
    const clock = this.#init.clock;
    const deadline = clock.now() + (this.#init.connectTimeoutMs ?? 10_000);
    let lastError: unknown;
    for (;;) {
      if (this.#state === 'closed') throw new NovacronError(ProvidersErrorCode.QMP_DISCONNECTED, 'QMP client closed');
      if (signal?.aborted) throw abortedError(signal);
      try {
        const greeting = await this.#attempt(deadline - clock.now(), signal);
        return greeting;
      } catch (err) {
        if (isNovacronError(err, ProvidersErrorCode.QMP_PROTOCOL) || isNovacronError(err, CoreErrorCode.ABORTED)) {
          this.#state = 'idle';
          throw err;
        }
        lastError = err;
      }
      if (clock.now() >= deadline) {
        this.#state = 'idle';
        throw new NovacronError(ProvidersErrorCode.QMP_CONNECT_FAILED, `cannot connect to QMP at ${this.#init.path}`, {
          details: { path: this.#init.path },
          cause: lastError,
        });
      }
      await clock.sleep(this.#init.retryDelayMs ?? 20, signal);
    }
  }

  /** One connection attempt: socket, greeting, capabilities. */
  #attempt(remainingMs: number, signal: AbortSignal | undefined): Promise<QmpGreeting> {
    return new Promise<QmpGreeting>((resolve, reject) => {
      const socket = createConnection({ path: this.#init.path });
      const splitter = new QmpLineSplitter(this.#init.maxLineBytes ?? 4 << 20);
      let phase: 'greeting' | 'negotiating' | 'ready' | 'dead' = 'greeting';
      let greeting: QmpGreeting | undefined;
      const timer = this.#init.clock.setTimeout(
        () => fail(new NovacronError(CoreErrorCode.TIMEOUT, 'QMP greeting timed out')),
        Math.max(1, remainingMs),
      );
      const onAbort = () => fail(abortedError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: Error) => {
        if (phase === 'ready' || phase === 'dead') return;
        const wasNegotiating = phase === 'negotiating';
        phase = 'dead';
        settle();
        socket.destroy();
        // The only command in flight before `ready` is this attempt's qmp_capabilities.
        if (wasNegotiating)
          this.#failPending(new NovacronError(ProvidersErrorCode.QMP_DISCONNECTED, 'QMP handshake failed'));
        reject(err);
      };

      socket.on('error', (err) => {
        if (phase === 'ready') this.#lost(socket, err);
        else fail(err);
      });
      socket.on('close', () => {
        if (phase === 'ready') this.#lost(socket, undefined);
        else fail(new NovacronError(ProvidersErrorCode.QMP_DISCONNECTED, 'QMP socket closed during handshake'));
      });
      socket.on('data', (chunk: Buffer) => {
        let messages: QmpServerMessage[];
        try {
          messages = splitter.push(chunk).map(decodeQmpLine);
        } catch (err) {
          if (phase === 'ready') this.#protocolFailure(socket, err as NovacronError);
          else fail(err as Error);
          return;
        }
        for (const m of messages) {
          if (phase === 'greeting') {
            if (m.kind !== 'greeting') {
              fail(new NovacronError(ProvidersErrorCode.QMP_PROTOCOL, `expected a QMP greeting, got ${m.kind}`));
              return;
            }
            greeting = m.greeting;
            phase = 'negotiating';
            this.#send(socket, 'qmp_capabilities', undefined, { timeoutMs: Math.max(1, remainingMs) }).then(
              () => {
                if (phase !== 'negotiating') return;
                phase = 'ready';
                settle();
                this.#socket = socket;
                this.#greeting = greeting;
                if (this.#state === 'closed') {
                  socket.destroy();
                  reject(new NovacronError(ProvidersErrorCode.QMP_DISCONNECTED, 'QMP client closed'));
                  return;
                }
                this.#state = 'ready';
                resolve(greeting!);
              },
              (err: Error) => fail(err),
            );
          } else if (m.kind === 'greeting') {
            const err = new NovacronError(ProvidersErrorCode.QMP_PROTOCOL, 'second QMP greeting on one connection');
            if (phase === 'ready') this.#protocolFailure(socket, err);
            else fail(err);
            return;
          } else {
            this.#dispatch(m);
          }
        }
      });
    });
  }

  #send(
    socket: Socket,
    command: string,
    args: Readonly<Record<string, unknown>> | undefined,
    options: QmpCommandOptions,
  ): Promise<unknown> {
    if (options.signal?.aborted) return Promise.reject(abortedError(options.signal));
    const id = `nc-${this.#nextId++}`;
    const timeoutMs = options.timeoutMs ?? this.#init.commandTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#take(id)?.reject(abortedError(options.signal));
      };
      const timer = this.#init.clock.setTimeout(() => {
        this.#take(id)?.reject(
          new NovacronError(CoreErrorCode.TIMEOUT, `QMP ${command} timed out after ${timeoutMs} ms`, {
            details: { command, timeoutMs },
          }),
        );
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        command,
        resolve,
        reject,
        timer,
        cleanup: () => options.signal?.removeEventListener('abort', onAbort),
      });
      const message = JSON.stringify(
        args === undefined ? { execute: command, id } : { execute: command, arguments: args, id },
      );
      socket.write(`${message}\n`);
    });
  }

  #take(id: string): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    p.timer.cancel();
    p.cleanup();
    return p;
  }

  #dispatch(m: QmpServerMessage): void {
    if (m.kind === 'event') {
      for (const l of [...this.#eventListeners]) {
        try {
          l(m.event);
        } catch (err) {
          this.#logger.warn('QMP event listener threw', { error: String(err) });
        }
      }
      return;
    }
    if (m.kind === 'greeting') return;
    // A reply to a command we gave up on (timeout, abort) is normal; one with no id at all is QEMU rejecting a line.
    const p = m.id === undefined ? undefined : this.#take(m.id);
    if (!p) {
      this.#logger.debug('QMP reply for no pending command', { id: m.id, kind: m.kind });
      return;
    }
    if (m.kind === 'return') p.resolve(m.value);
    else
      p.reject(
        new NovacronError(ProvidersErrorCode.QMP_COMMAND_FAILED, `QMP ${p.command} failed: ${m.desc}`, {
          details: { command: p.command, errorClass: m.errorClass, desc: m.desc },
        }),
      );
  }

  #protocolFailure(socket: Socket, err: NovacronError): void {
    this.#logger.warn('QMP protocol violation; closing', { error: err.message });
    this.#lost(socket, err);
    socket.destroy();
  }

  #lost(socket: Socket, cause: unknown): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    if (this.#state === 'closed') return;
    this.#state = 'idle';
    this.#greeting = undefined;
    const err = isNovacronError(cause, ProvidersErrorCode.QMP_PROTOCOL)
      ? cause
      : new NovacronError(ProvidersErrorCode.QMP_DISCONNECTED, 'QMP connection lost', { cause });
    this.#failPending(err);
    for (const l of [...this.#disconnectListeners]) {
      try {
        l(err);
      } catch (e) {
        this.#logger.warn('QMP disconnect listener threw', { error: String(e) });
      }
    }
    if (this.#init.reconnect)
      this.connect().catch((e) => this.#logger.info('QMP reconnect failed', { error: String(e) }));
  }

  #failPending(err: NovacronError): void {
    for (const id of [...this.#pending.keys()]) this.#take(id)?.reject(err);
  }
}
