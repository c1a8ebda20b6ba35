import dgram from 'node:dgram';
import { type PeerMessageHandler, type PeerNetwork, randomSeed, seededRng, systemClock } from '@novacron/core';
import { afterEach, expect, it } from 'vitest';
import { GossipMembership } from '../../src/index.js';

/**
 * A bare UDP PeerNetwork for this test: one datagram per message,
 * `[idLen][id][chanLen][chan][payload]`. (Production uses amst's
 * `UdpPeerNetwork`; bench/src/gossip.ts runs it across processes.)
 */
class LoopbackUdp implements PeerNetwork {
  readonly maxMessageSize = 60_000;
  readonly #socket = dgram.createSocket('udp4');
  readonly #peers = new Map<string, number>();
  readonly #handlers = new Map<string, PeerMessageHandler>();
  port = 0;
  constructor(readonly localId: string) {
    this.#socket.on('message', (msg) => {
      const idLen = msg[0]!;
      const from = msg.subarray(1, 1 + idLen).toString();
      const chanLen = msg[1 + idLen]!;
      const channel = msg.subarray(2 + idLen, 2 + idLen + chanLen).toString();
      this.#handlers.get(channel)?.(from, new Uint8Array(msg.subarray(2 + idLen + chanLen)));
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.#socket.bind(0, '127.0.0.1', r));
    this.port = this.#socket.address().port;
  }
  close(): void {
    this.#socket.close();
  }
  addPeer(id: string, address: string): void {
    this.#peers.set(id, Number(address.split(':')[1]));
  }
  send(to: string, channel: string, data: Uint8Array): void {
    const port = this.#peers.get(to);
    if (port === undefined) return;
    const id = Buffer.from(this.localId);
    const ch = Buffer.from(channel);
    this.#socket.send(
      Buffer.concat([Buffer.from([id.length]), id, Buffer.from([ch.length]), ch, data]),
      port,
      '127.0.0.1',
    );
  }
  handle(channel: string, handler: PeerMessageHandler): () => void {
    this.#handlers.set(channel, handler);
    return () => this.#handlers.delete(channel);
  }
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

async function until(pred: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
}

it('five members over real UDP join through one seed, exchange an event, and detect a dead member', async () => {
  const config = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, joinRetryMs: 200 };
  const nets = ['a', 'b', 'c', 'd', 'e'].map((id) => new LoopbackUdp(id));
  for (const n of nets) {
    await n.start();
    cleanup.push(() => {
      try {
        n.close();
      } catch {
        // already closed by the test
      }
    });
  }
  const seed = { id: 'a', address: `127.0.0.1:${nets[0]!.port}` };
  const members = nets.map(
    (n) =>
      new GossipMembership({
        network: n,
        clock: systemClock(),
        rng: seededRng(randomSeed()),
        address: `127.0.0.1:${n.port}`,
        addressBook: n,
        config,
        ...(n.localId === 'a' ? {} : { seeds: [seed] }),
      }),
  );
  for (const m of members) {
    m.start();
    cleanup.push(() => m.stop());
  }
  expect(await until(() => members.every((m) => m.liveMembers().length === 5), 10_000)).toBe(true);

  const got = new Set<string>();
  for (const m of members) {
    m.onUserEvent((e) => {
      if (e.name === 'hello') got.add(m.id);
    });
  }
  members[2]!.broadcastEvent('hello', new Uint8Array([1]));
  expect(await until(() => got.size === 5, 10_000)).toBe(true);

  // 'e' vanishes without a word (socket closed, timers stopped): everyone else must declare it dead.
  members[4]!.stop();
  nets[4]!.close();
  const others = members.slice(0, 4);
  expect(await until(() => others.every((m) => m.member('e')?.status === 'dead'), 20_000)).toBe(true);

  // 'd' leaves gracefully: seen as left.
  await members[3]!.leave();
  expect(await until(() => members.slice(0, 3).every((m) => m.member('d')?.status === 'left'), 10_000)).toBe(true);
}, 60_000);
