import { type StreamPeerNetwork, UdpPeerNetwork, sealedPeerNetwork, tcpPeerNetwork } from '@novacron/amst';
import { asNodeId } from '@novacron/core';
import { peerNetworkCompliance } from '@novacron/testkit/compliance/peer-network';

const ids = ['a', 'b', 'c'].map(asNodeId);
const settle = () => new Promise<void>((r) => setTimeout(r, 10));

async function wire<T extends StreamPeerNetwork | UdpPeerNetwork>(peers: T[]): Promise<T[]> {
  for (const p of peers) await p.start();
  for (const p of peers) for (const q of peers) if (p !== q) p.addPeer(q.localId, q.address!);
  return peers;
}

peerNetworkCompliance('tcp (loopback)', {
  setup: async () => ({
    peers: await wire(ids.map((localId) => tcpPeerNetwork({ localId, listenAddress: '127.0.0.1:0' }))),
    settle,
    maxSettles: 200,
  }),
  teardown: async (f) => {
    for (const p of f.peers) await (p as StreamPeerNetwork).stop();
  },
});

peerNetworkCompliance('udp (loopback)', {
  setup: async () => ({
    peers: await wire(ids.map((localId) => new UdpPeerNetwork({ localId, listenAddress: '127.0.0.1:0' }))),
    settle,
    maxSettles: 200,
  }),
  teardown: async (f) => {
    for (const p of f.peers) await (p as UdpPeerNetwork).stop();
  },
});

const keys = [{ id: 1, key: new Uint8Array(32).fill(42) }];
peerNetworkCompliance('udp sealed with a cluster key (loopback)', {
  setup: async () => {
    const inner = await wire(ids.map((localId) => new UdpPeerNetwork({ localId, listenAddress: '127.0.0.1:0' })));
    return { peers: inner.map((n) => sealedPeerNetwork({ inner: n, keys })), settle, maxSettles: 200, inner };
  },
  teardown: async (f) => {
    for (const p of (f as unknown as { inner: UdpPeerNetwork[] }).inner) await p.stop();
  },
});
