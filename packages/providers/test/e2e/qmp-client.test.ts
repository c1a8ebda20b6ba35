import { CoreErrorCode, ManualClock, isNovacronError, systemClock } from '@novacron/core';
import { ProvidersErrorCode, QmpClient } from '@novacron/providers';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { GREETING, fakeQmpServer } from '../helpers/fake-qmp-server.js';

type Server = Awaited<ReturnType<typeof fakeQmpServer>>;
let servers: Server[] = [];
let clients: QmpClient[] = [];
const track = <T extends Server | QmpClient>(x: T): T => {
  if (x instanceof QmpClient) clients.push(x);
  else servers.push(x as Server);
  return x;
};

afterEach(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) await s.close();
  clients = [];
  servers = [];
});

describe('QmpClient', () => {
  it('reads the greeting, negotiates capabilities and runs commands by id', async () => {
    const server = track(await fakeQmpServer());
    const client = track(new QmpClient({ path: server.path, clock: systemClock() }));
    const greeting = await client.connect();
    expect(greeting.version).toMatchObject({ major: 10, minor: 0, micro: 2 });
    expect(greeting.capabilities).toEqual(['oob']);
    const conn = await server.connection();
    const status = client.execute('query-status');
    await conn.waitForCommands(1);
    expect(conn.commands[0]).toMatchObject({ execute: 'query-status' });
    conn.send({ return: { status: 'running', running: true }, id: conn.commands[0]!.id });
    expect(await status).toEqual({ status: 'running', running: true });
  });

  it('matches replies that arrive out of order, and delivers events in between', async () => {
    const server = track(await fakeQmpServer());
    const client = track(new QmpClient({ path: server.path, clock: systemClock() }));
    await client.connect();
    const conn = await server.connection();
    const events: string[] = [];
    client.onEvent((e) => events.push(e.event));
    const a = client.execute('a');
    const b = client.execute('b', { x: 1 });
    const c = client.execute('c');
    await conn.waitForCommands(3);
    expect(conn.commands[1]!.arguments).toEqual({ x: 1 });
    const [ia, ib, ic] = conn.commands.map((cmd) => cmd.id);
    conn.send({ return: 'C', id: ic });
    conn.send({ event: 'STOP', data: {}, timestamp: { seconds: 1, microseconds: 2 } });
    conn.send({ error: { class: 'GenericError', desc: 'no b for you' }, id: ib });
    conn.send({ return: 'A', id: ia });
    expect(await a).toBe('A');
    expect(await c).toBe('C');
    const err = await expectNovacronRejection(b, ProvidersErrorCode.QMP_COMMAND_FAILED);
    expect(err.details).toMatchObject({ command: 'b', errorClass: 'GenericError', desc: 'no b for you' });
    expect(events).toEqual(['STOP']);
  });

  it('times a command out on the injected clock and ignores the late reply', async () => {
    const clock = new ManualClock();
    const server = track(await fakeQmpServer());
    const client = track(new QmpClient({ path: server.path, clock, commandTimeoutMs: 100 }));
    await client.connect();
    const conn = await server.connection();
    const slow = client.execute('slow');
    await conn.waitForCommands(1);
    clock.advance(100);
    await expectNovacronRejection(slow, CoreErrorCode.TIMEOUT);
    conn.send({ return: 'late', id: conn.commands[0]!.id });
    const next = client.execute('next');
    await conn.waitForCommands(2);
    conn.send({ return: 'ok', id: conn.commands[1]!.id });
    expect(await next).toBe('ok');
  });

  it('waits for an event matching a predicate', async () => {
    const server = track(await fakeQmpServer());
    const client = track(new QmpClient({ path: server.path, clock: systemClock() }));
    await client.connect();
    const conn = await server.connection();
    const waiting = client.waitForEvent('MIGRATION', (e) => e.data.status === 'completed');
    conn.send({ event: 'MIGRATION', data: { status: 'active' } });
    conn.send({ event: 'MIGRATION', data: { status: 'completed' } });
    expect((await waiting).data).toEqual({ status: 'completed' });
  });

  it('fails pending commands when the server closes, and reconnects when asked to', async () => {
    const server = track(await fakeQmpServer());
    const client = track(new QmpClient({ path: server.path, clock: systemClock(), reconnect: true }));
    await client.connect();
    const conn = await server.connection();
    const disconnected = new Promise((resolve) => client.onDisconnect(resolve));
    const pending = client.execute('x');
    await conn.waitForCommands(1);
    conn.socket.destroy();
    await expectNovacronRejection(pending, ProvidersErrorCode.QMP_DISCONNECTED);
    await disconnected;
    const conn2 = await server.connection(1);
    while (!client.ready) await new Promise((r) => setTimeout(r, 5));
    const again = client.execute('y');
    await conn2.waitForCommands(1);
    conn2.send({ return: 'yes', id: conn2.commands[0]!.id });
    expect(await again).toBe('yes');
  });

  it('refuses a peer that does not greet with QMP, and one that never ends a line', async () => {
    const bad = track(await fakeQmpServer({ greeting: '{"hello": 1}\r\n' }));
    const c1 = track(new QmpClient({ path: bad.path, clock: systemClock() }));
    await expectNovacronRejection(c1.connect(), ProvidersErrorCode.QMP_PROTOCOL);
    const endless = track(await fakeQmpServer({ greeting: 'x'.repeat(5000) }));
    const c2 = track(new QmpClient({ path: endless.path, clock: systemClock(), maxLineBytes: 1024 }));
    await expectNovacronRejection(c2.connect(), ProvidersErrorCode.QMP_PROTOCOL);
  });

  it('fails to connect with QMP_CONNECT_FAILED when nothing listens', async () => {
    const client = track(
      new QmpClient({ path: '/nonexistent/novacron/qmp.sock', clock: systemClock(), connectTimeoutMs: 50 }),
    );
    await expectNovacronRejection(client.connect(), ProvidersErrorCode.QMP_CONNECT_FAILED);
  });

  it('fuzz: malformed and out-of-order server messages never crash or hang the client', async () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 40 }).map((s) => `${s}\n`),
      fc.constantFrom('[]\n', '42\n', 'null\n', '"str"\n', '{"error": 5}\n', '{"event": 7}\n', '{}\n', '{"return"\n'),
      fc.constant(`${JSON.stringify(GREETING)}\n`),
      fc.uint8Array({ maxLength: 30 }).map((b) => `${Buffer.from(b).toString('latin1')}\n`),
    );
    const action = fc.oneof(
      fc.record({ kind: fc.constant('reply' as const), index: fc.nat(7), value: fc.jsonValue({ maxDepth: 2 }) }),
      fc.record({ kind: fc.constant('error' as const), index: fc.nat(7), desc: fc.string({ maxLength: 10 }) }),
      fc.record({
        kind: fc.constant('unknown-id' as const),
        id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      }),
      fc.record({ kind: fc.constant('event' as const), name: fc.constantFrom('STOP', 'RESUME', 'MIGRATION') }),
      fc.record({ kind: fc.constant('junk' as const), line: junk }),
      fc.record({ kind: fc.constant('split' as const), index: fc.nat(7), at: fc.nat(20) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { maxLength: 12 }), fc.integer({ min: 1, max: 8 }), async (script, n) => {
        const server = await fakeQmpServer();
        const client = new QmpClient({ path: server.path, clock: systemClock(), commandTimeoutMs: 60_000 });
        try {
          await client.connect();
          const conn = await server.connection();
          const commands = Array.from({ length: n }, (_, i) => client.execute(`cmd${i}`));
          const outcomes = commands.map((p) =>
            p.then(
              (value) => ({ ok: true as const, value }),
              (error: unknown) => ({ ok: false as const, error }),
            ),
          );
          await conn.waitForCommands(n);
          const expected = new Map<string, unknown>();
          for (const a of script) {
            if (a.kind === 'reply' || a.kind === 'split') {
              const cmd = conn.commands[a.index % n]!;
              const value = a.kind === 'reply' ? a.value : 'split';
              const line = `${JSON.stringify({ return: value, id: cmd.id })}\r\n`;
              if (!expected.has(cmd.id as string)) expected.set(cmd.id as string, JSON.parse(JSON.stringify(value)));
              if (a.kind === 'split') {
                conn.write(line.slice(0, a.at));
                await new Promise((r) => setImmediate(r));
                conn.write(line.slice(a.at));
              } else conn.write(line);
            } else if (a.kind === 'error') {
              const cmd = conn.commands[a.index % n]!;
              if (!expected.has(cmd.id as string)) expected.set(cmd.id as string, { error: a.desc });
              conn.send({ error: { class: 'GenericError', desc: a.desc }, id: cmd.id });
            } else if (a.kind === 'unknown-id') conn.send({ return: 1, id: a.id });
            else if (a.kind === 'event') conn.send({ event: a.name, data: {} });
            else conn.write(a.line);
          }
          // Closing ends every still-pending command: nothing may hang.
          await new Promise((r) => setImmediate(r));
          conn.socket.end();
          const results = await Promise.all(outcomes);
          let protocolBroken = false;
          for (const [i, r] of results.entries()) {
            const id = conn.commands[i]!.id as string;
            if (r.ok) {
              expect(r.value).toEqual(expected.get(id));
              continue;
            }
            const known = [
              ProvidersErrorCode.QMP_COMMAND_FAILED,
              ProvidersErrorCode.QMP_PROTOCOL,
              ProvidersErrorCode.QMP_DISCONNECTED,
            ];
            expect(
              known.some((code) => isNovacronError(r.error, code)),
              String(r.error),
            ).toBe(true);
            if (isNovacronError(r.error, ProvidersErrorCode.QMP_PROTOCOL)) protocolBroken = true;
            if (isNovacronError(r.error, ProvidersErrorCode.QMP_COMMAND_FAILED))
              expect(r.error.details.desc).toBe((expected.get(id) as { error: string }).error);
          }
          if (protocolBroken) expect(client.ready).toBe(false);
        } finally {
          await client.close();
          await server.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
