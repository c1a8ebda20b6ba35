import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A command as the fake server received it. */
export interface ReceivedCommand {
  readonly execute: string;
  readonly id: unknown;
  readonly arguments?: unknown;
}

/** One accepted connection of the fake server. */
export interface FakeConnection {
  readonly socket: Socket;
  /** Commands received so far (after qmp_capabilities, which is answered automatically unless `manualHandshake`). */
  readonly commands: ReceivedCommand[];
  /** Resolves when at least `n` commands have arrived. */
  waitForCommands(n: number): Promise<void>;
  /** Writes raw text. */
  write(text: string): void;
  /** Writes one JSON message and a CRLF. */
  send(message: unknown): void;
}

export const GREETING = {
  QMP: { version: { qemu: { micro: 2, minor: 0, major: 10 }, package: 'fake' }, capabilities: ['oob'] },
};

/** A unix-socket server that speaks as much QMP as a test scripts. */
export async function fakeQmpServer(options: { greeting?: string | null; manualHandshake?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'nc-fake-qmp-'));
  const path = join(dir, 'qmp.sock');
  const connections: FakeConnection[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((socket) => {
    const commands: ReceivedCommand[] = [];
    const cmdWaiters: { n: number; resolve: () => void }[] = [];
    let buf = '';
    const conn: FakeConnection = {
      socket,
      commands,
      waitForCommands: (n) =>
        commands.length >= n ? Promise.resolve() : new Promise((resolve) => cmdWaiters.push({ n, resolve })),
      write: (text) => {
        if (!socket.destroyed) socket.write(text);
      },
      send: (m) => conn.write(`${JSON.stringify(m)}\r\n`),
    };
    socket.on('error', () => undefined);
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line) as ReceivedCommand;
        if (cmd.execute === 'qmp_capabilities' && !options.manualHandshake) conn.send({ return: {}, id: cmd.id });
        else commands.push(cmd);
        for (const w of [...cmdWaiters])
          if (commands.length >= w.n) {
            cmdWaiters.splice(cmdWaiters.indexOf(w), 1);
            w.resolve();
          }
      }
    });
    if (options.greeting !== null) conn.write(options.greeting ?? `${JSON.stringify(GREETING)}\r\n`);
    connections.push(conn);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    connections,
    /** Resolves with the n-th connection (0-based) once it is accepted. */
    async connection(n = 0): Promise<FakeConnection> {
      while (connections.length <= n) await new Promise<void>((r) => waiters.push(r));
      return connections[n]!;
    },
    async close(): Promise<void> {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
