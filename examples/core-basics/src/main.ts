/**
 * Two NovaCron nodes on one machine: each loads (or creates) its Ed25519
 * identity from disk, then A sends B signed, canonical MessagePack messages in
 * length-prefixed frames over a real loopback TCP socket. B verifies every
 * signature and echoes an acknowledgement; A turns the round trips into
 * LinkSamples and lets the ModeDetector classify the path. Finally a corrupt
 * frame shows how bad input surfaces: as a typed NovacronError.
 *
 * Run: pnpm start (or `pnpm demo` from the repository root); `--smoke` sends fewer messages.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FrameDecoder,
  type LinkSample,
  MessageCodec,
  ModeDetector,
  type ModeChangeReason,
  type NodeIdentity,
  defineMessage,
  encodeCanonical,
  encodeFrame,
  isNovacronError,
  loadOrCreateIdentity,
  nodeFileIO,
  systemClock,
  verifySignature,
} from '@novacron/core';

const smoke = process.argv.includes('--smoke');
const HELLOS = smoke ? 5 : 20;
const PINGS = smoke ? 20 : 200;
const BULK_MESSAGES = smoke ? 64 : 512;
const BULK_BYTES = 1024 * 1024;

interface Hello {
  seq: number;
  payload: Uint8Array;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const HelloV1 = defineMessage({
  type: 'example/hello',
  version: 1,
  validate: (body: unknown): Hello => {
    if (!isRecord(body) || typeof body.seq !== 'number') throw new Error('hello: seq missing');
    for (const k of ['payload', 'publicKey', 'signature'] as const) {
      if (!(body[k] instanceof Uint8Array)) throw new Error(`hello: ${k} must be bytes`);
    }
    return body as unknown as Hello;
  },
});
const AckV1 = defineMessage({
  type: 'example/ack',
  version: 1,
  validate: (body: unknown): { seq: number; ok: boolean } => {
    if (!isRecord(body) || typeof body.seq !== 'number' || typeof body.ok !== 'boolean')
      throw new Error('ack: bad body');
    return body as { seq: number; ok: boolean };
  },
});
const ChunkV1 = defineMessage({
  type: 'example/chunk',
  version: 1,
  validate: (body: unknown): { seq: number; payload: Uint8Array } => {
    if (!isRecord(body) || typeof body.seq !== 'number' || !(body.payload instanceof Uint8Array))
      throw new Error('chunk: bad body');
    return body as { seq: number; payload: Uint8Array };
  },
});
const codec = new MessageCodec([HelloV1, AckV1, ChunkV1]);

const describe = (r: ModeChangeReason): string =>
  r.kind === 'override' ? 'manual override' : `${r.metric} ${r.direction} threshold ${r.threshold}`;

/** What a signature covers: the canonical encoding of the signed fields, so both ends get the same bytes. */
function signedBytes(seq: number, payload: Uint8Array): Uint8Array {
  return encodeCanonical({ type: HelloV1.type, seq, payload });
}

function write(socket: Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => socket.write(encodeFrame(bytes), (err) => (err ? reject(err) : resolve())));
}

async function runReceiver(socket: Socket, self: NodeIdentity): Promise<{ verified: number }> {
  const decoder = new FrameDecoder();
  let verified = 0;
  for await (const chunk of socket) {
    for (const frame of decoder.push(chunk as Uint8Array)) {
      const msg = codec.decode(frame);
      if (msg.type === 'example/hello') {
        const ok = verifySignature(msg.body.publicKey, signedBytes(msg.body.seq, msg.body.payload), msg.body.signature);
        if (ok) verified++;
        await write(socket, codec.encode(AckV1, { seq: msg.body.seq, ok }));
      } else if (msg.type === 'example/chunk') {
        // Chunks rely on the frame's CRC-32 for integrity; signatures only where the protocol needs them.
        await write(socket, codec.encode(AckV1, { seq: msg.body.seq, ok: true }));
      }
    }
  }
  decoder.end();
  void self;
  return { verified };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'novacron-example-'));
  const io = nodeFileIO();
  const clock = systemClock();
  try {
    const a = await loadOrCreateIdentity(io, join(dir, 'a', 'identity.json'));
    const b = await loadOrCreateIdentity(io, join(dir, 'b', 'identity.json'));
    // Loading again must give the same node: the identity is durable.
    const again = await loadOrCreateIdentity(io, join(dir, 'a', 'identity.json'));
    if (again.nodeId !== a.nodeId) throw new Error('identity did not survive a reload');
    console.log(`node A ${a.nodeId}\nnode B ${b.nodeId}`);

    let receiverResult: Promise<{ verified: number }> | undefined;
    const server = createServer((socket) => {
      receiverResult = runReceiver(socket, b);
      receiverResult.catch((err: unknown) => {
        console.error('receiver failed:', err);
        socket.destroy();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');

    const socket = connect(address.port, '127.0.0.1');
    await once(socket, 'connect');
    const detector = new ModeDetector();
    detector.onChange((c) => console.log(`link mode ${c.from} -> ${c.to} (${describe(c.reason)})`));
    const decoder = new FrameDecoder();
    const acks = socket[Symbol.asyncIterator]();
    // One read may carry several acks: queue them all, hand them out one by one.
    const pending: { seq: number; ok: boolean }[] = [];
    const nextAck = async (): Promise<{ seq: number; ok: boolean }> => {
      while (pending.length === 0) {
        const next = await acks.next();
        if (next.done) throw new Error('receiver closed early');
        for (const frame of decoder.push(next.value as Uint8Array)) {
          const m = codec.decode(frame);
          if (m.type === 'example/ack') pending.push(m.body);
        }
      }
      return pending.shift()!;
    };

    // Phase 1, identity: signed hellos over canonical bytes; B verifies each against A's key.
    const hello = new Uint8Array(256).fill(7);
    for (let seq = 0; seq < HELLOS; seq++) {
      await write(
        socket,
        codec.encode(HelloV1, {
          seq,
          payload: hello,
          publicKey: a.publicKey,
          signature: a.sign(signedBytes(seq, hello)),
        }),
      );
      const ack = await nextAck();
      if (ack.seq !== seq || !ack.ok) throw new Error(`hello ${seq} was not verified`);
    }

    // Phase 2, latency: small chunks, one at a time; each ack is one RTT sample.
    const rtts: number[] = [];
    const small = new Uint8Array(64);
    for (let seq = 0; seq < PINGS; seq++) {
      const sentAt = clock.now();
      await write(socket, codec.encode(ChunkV1, { seq, payload: small }));
      if ((await nextAck()).seq !== seq) throw new Error(`ping ${seq} lost`);
      rtts.push(clock.now() - sentAt);
    }

    // Phase 3, throughput: pipelined 1 MiB chunks; the last ack closes the measurement.
    const bulk = new Uint8Array(BULK_BYTES).map((_, i) => (i * 31) & 0xff);
    const started = clock.now();
    for (let seq = 0; seq < BULK_MESSAGES; seq++) await write(socket, codec.encode(ChunkV1, { seq, payload: bulk }));
    for (let i = 0; i < BULK_MESSAGES; i++) await nextAck();
    const seconds = (clock.now() - started) / 1000;
    const bandwidthBps = (BULK_MESSAGES * BULK_BYTES * 8) / seconds;
    for (const rttMs of rtts) {
      const sample: LinkSample = { at: clock.now(), rttMs, bandwidthBps, source: 'example' };
      detector.observe(sample);
    }
    socket.end();
    await once(socket, 'close');
    const { verified } = (await receiverResult) ?? { verified: 0 };
    server.close();

    const sorted = [...rtts].sort((x, y) => x - y);
    console.log(`identity: B verified ${verified} of ${HELLOS} signed hellos from ${a.nodeId}`);
    console.log(`latency: ${PINGS} round trips, median RTT ${sorted[sorted.length >> 1]!.toFixed(3)} ms`);
    console.log(
      `throughput: ${BULK_MESSAGES} x ${BULK_BYTES >> 20} MiB frames in ${seconds.toFixed(2)} s = ${(bandwidthBps / 1e9).toFixed(2)} Gbit/s`,
    );
    console.log(`link mode: ${detector.mode}`);
    if (verified !== HELLOS) throw new Error('some signatures did not verify');

    // Bad input from outside: flip one payload byte of a valid frame.
    const frame = encodeFrame(codec.encode(AckV1, { seq: 1, ok: true }));
    frame[frame.length - 1]! ^= 0xff;
    try {
      new FrameDecoder().push(frame);
      throw new Error('a corrupt frame was accepted');
    } catch (err) {
      if (!isNovacronError(err, 'CORE_FRAME_CORRUPT')) throw err;
      console.log(`corrupt frame rejected: ${err.code} (${err.message})`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
