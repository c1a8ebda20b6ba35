import { MemoryNetwork, MemoryTransport, StreamPeerNetwork, tcpPeerNetwork } from '@novacron/amst';
import { asNodeId } from '@novacron/core';
import { describe, expect, it } from 'vitest';

const settleUntil = async (done: () => boolean, limit = 500) => {
  for (let i = 0; i < limit && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(done()).toBe(true);
};

describe('stream PeerNetwork faults', () => {
  it('reconnects after the peer restarts, keeping what was queued meanwhile', async () => {
    const a = tcpPeerNetwork({ localId: asNodeId('a'), listenAddress: '127.0.0.1:0', reconnectDelayMs: 10 });
    let b = tcpPeerNetwork({ localId: asNodeId('b'), listenAddress: '127.0.0.1:0' });
    await a.start();
    await b.start();
    const bAddress = b.address!;
    a.addPeer(b.localId, bAddress);
    const got: number[] = [];
    b.handle('t', (_f, d) => got.push(d[0]!));
    a.send(b.localId, 't', Uint8Array.of(1));
    await settleUntil(() => got.includes(1));
    await b.stop();
    // Sent while b is down: the connection breaks, a redials with backoff until b is back.
    for (let i = 2; i < 6; i++) a.send(b.localId, 't', Uint8Array.of(i));
    await new Promise((r) => setTimeout(r, 50));
    b = tcpPeerNetwork({ localId: asNodeId('b'), listenAddress: bAddress });
    b.handle('t', (_f, d) => got.push(d[0]!));
    await b.start();
    a.send(b.localId, 't', Uint8Array.of(9));
    await settleUntil(() => got.includes(9));
    expect(a.stats().reconnects).toBeGreaterThanOrEqual(1);
    // Whatever was lost with the broken connection is counted, not silently gone.
    const lost = [2, 3, 4, 5].filter((i) => !got.includes(i)).length;
    expect(lost).toBeLessThanOrEqual(a.stats().droppedConnectionLost);
    await a.stop();
    await b.stop();
  });

  it('bounds the send queue and counts the drops', async () => {
    const network = new MemoryNetwork();
    const a = new StreamPeerNetwork({
      localId: asNodeId('a'),
      transport: new MemoryTransport({ network }),
      listenAddress: 'mem:0',
      maxQueueMessages: 10,
    });
    // Nobody listens at b: messages queue while dials fail, then overflow.
    a.addPeer(asNodeId('b'), 'mem:4242');
    await a.start();
    for (let i = 0; i < 25; i++) a.send(asNodeId('b'), 't', Uint8Array.of(i));
    expect(a.stats().droppedQueueFull).toBeGreaterThanOrEqual(15);
    a.send(asNodeId('nobody'), 't', Uint8Array.of(0));
    expect(a.stats().droppedUnknownPeer).toBe(1);
    await a.stop();
  });

  it('drops a connection that sends garbage and counts it as malformed', async () => {
    const network = new MemoryNetwork();
    const b = new StreamPeerNetwork({
      localId: asNodeId('b'),
      transport: new MemoryTransport({ network, host: 'b' }),
      listenAddress: 'b:0',
    });
    await b.start();
    const raw = await new MemoryTransport({ network }).dial(b.address!);
    await raw.write(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'));
    await settleUntil(() => b.stats().malformed === 1);
    await b.stop();
  });
});
