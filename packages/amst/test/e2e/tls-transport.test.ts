import net from 'node:net';
import dgram from 'node:dgram';
import {
  AmstErrorCode,
  type StreamPeerNetwork,
  TcpTransport,
  TlsTransport,
  UdpPeerNetwork,
  createClusterCa,
  createNodeCertificate,
  encodeDatagram,
  encodeHello,
  encodeMessage,
  identityFromKeyPem,
  issueNodeCertificate,
  nameBytes,
  sealedPeerNetwork,
  tlsPeerNetwork,
} from '@novacron/amst';
import { CoreErrorCode, type NodeId, NodeIdentity, encodeFrame } from '@novacron/core';
import { peerNetworkCompliance } from '@novacron/testkit/compliance/peer-network';
import { streamTransportCompliance } from '@novacron/testkit/compliance/stream-transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ids = Array.from({ length: 4 }, () => NodeIdentity.generate());
const [a, b, stranger, caId] = ids as [NodeIdentity, NodeIdentity, NodeIdentity, NodeIdentity];
const members = new Set<NodeId>([a.nodeId, b.nodeId]);
const pinned = { kind: 'pinned' as const, isMember: (id: NodeId) => members.has(id) };

const certA = await createNodeCertificate(a);
const certB = await createNodeCertificate(b);
const certStranger = await createNodeCertificate(stranger);

streamTransportCompliance('tls (pinned node certificates, loopback)', {
  setup: () => ({
    client: new TlsTransport({ credentials: certA, trust: pinned }),
    server: new TlsTransport({ credentials: certB, trust: pinned }),
    listenAddress: '127.0.0.1:0',
    unusedAddress: '127.0.0.1:1',
  }),
});

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<string> {
  let s = '';
  for await (const c of stream) s += Buffer.from(c).toString();
  return s;
}

describe('TlsTransport authentication', () => {
  let addr = '';
  let accepted: NodeId[] = [];
  let close: () => Promise<void>;
  beforeAll(async () => {
    const server = new TlsTransport({ credentials: certB, trust: pinned });
    const l = await server.listen('127.0.0.1:0', (s) => {
      accepted.push(s.remoteNodeId as NodeId);
      void s.write(Buffer.from(`hello ${s.remoteNodeId}`)).then(() => s.closeWrite());
    });
    addr = l.address;
    close = l.close;
  });
  afterAll(() => close());

  it('authenticates both ends and exposes the peer node id', async () => {
    accepted = [];
    const c = await new TlsTransport({ credentials: certA, trust: pinned }).dial(addr, { expectedPeer: b.nodeId });
    expect(c.remoteNodeId).toBe(b.nodeId);
    expect(await readAll(c)).toBe(`hello ${a.nodeId}`);
    await c.close();
    expect(accepted).toEqual([a.nodeId]);
  });

  it('refuses a dial when another node answers', async () => {
    const err = await new TlsTransport({ credentials: certA, trust: pinned })
      .dial(addr, { expectedPeer: a.nodeId })
      .catch((e) => e);
    expect(err.code).toBe(CoreErrorCode.DIAL_FAILED);
    expect(err.cause.code).toBe(AmstErrorCode.TLS_PEER_REJECTED);
  });

  it('cuts a non-member right after the handshake; it reads nothing and the server keeps serving', async () => {
    accepted = [];
    const strangerTransport = new TlsTransport({
      credentials: certStranger,
      trust: { kind: 'pinned', isMember: () => true },
    });
    const c = await strangerTransport.dial(addr).catch((e) => e);
    if ('code' in c) expect(c.code).toBe(CoreErrorCode.DIAL_FAILED);
    else
      await expect(readAll(c))
        .rejects.toMatchObject({ code: CoreErrorCode.STREAM_CLOSED })
        .catch(async () => expect(await readAll(c)).toBe(''));
    expect(accepted).toEqual([]);
    const ok = await new TlsTransport({ credentials: certA, trust: pinned }).dial(addr);
    expect(await readAll(ok)).toBe(`hello ${a.nodeId}`);
    await ok.close();
  });

  it('refuses a plaintext client: the handshake fails and no application byte comes back', async () => {
    const got = await new Promise<Buffer>((resolve) => {
      const [host, port] = addr.split(':') as [string, string];
      const s = net.connect(Number(port), host, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      const chunks: Buffer[] = [];
      s.on('data', (d) => chunks.push(d));
      s.on('error', () => {});
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    expect(got.toString('latin1')).not.toContain('hello');
    // A TLS alert record at most (content type 21), never application data (23).
    if (got.length > 0) expect(got[0]).toBe(21);
    expect(accepted).not.toContain(undefined);
  });

  it('a plain TCP client of a TLS server, and a TLS client of a plain server, both fail typed', async () => {
    const plain = await new TcpTransport().listen(
      '127.0.0.1:0',
      (s) => void s.write(Buffer.from('plaintext')).then(() => s.close()),
    );
    try {
      const err = await new TlsTransport({ credentials: certA, trust: pinned, connectTimeoutMs: 2000 })
        .dial(plain.address)
        .catch((e) => e);
      expect(err.code).toBe(CoreErrorCode.DIAL_FAILED);
    } finally {
      await plain.close();
    }
  });
});

describe('TlsTransport with a cluster CA', () => {
  it('accepts CA-issued certificates and refuses self-signed and foreign-CA ones', async () => {
    const ca = await createClusterCa(caId);
    const otherCa = await createClusterCa(stranger);
    const issuedA = await createNodeCertificate(a, { issuer: { identity: caId, certPem: ca.certPem } });
    const issuedB = await createNodeCertificate(b, { issuer: { identity: caId, certPem: ca.certPem } });
    const foreign = await createNodeCertificate(stranger, { issuer: { identity: stranger, certPem: otherCa.certPem } });
    const trust = { kind: 'ca' as const, caCertPem: ca.certPem };
    const seen: NodeId[] = [];
    const l = await new TlsTransport({ credentials: issuedB, trust }).listen('127.0.0.1:0', (s) => {
      seen.push(s.remoteNodeId as NodeId);
      void s.write(Buffer.from('ok')).then(() => s.closeWrite());
    });
    try {
      const c = await new TlsTransport({ credentials: issuedA, trust }).dial(l.address);
      expect(c.remoteNodeId).toBe(b.nodeId);
      expect(await readAll(c)).toBe('ok');
      await c.close();
      for (const creds of [certA, foreign]) {
        const t = new TlsTransport({
          credentials: creds,
          trust: { kind: 'ca', caCertPem: [ca.certPem, otherCa.certPem] },
        });
        const r = await t.dial(l.address).then(
          async (s) =>
            readAll(s).then(
              (x) => `read:${x}`,
              () => 'cut',
            ),
          (e) => e.code,
        );
        expect(['cut', CoreErrorCode.DIAL_FAILED, 'read:']).toContain(r);
      }
      expect(seen).toEqual([a.nodeId]);
    } finally {
      await l.close();
    }
  });

  it('refuses an expired certificate', async () => {
    const old = await createNodeCertificate(a, { validityDays: 1, now: Date.now() - 3 * 86_400_000 });
    const l = await new TlsTransport({ credentials: certB, trust: pinned }).listen(
      '127.0.0.1:0',
      (s) => void s.close(),
    );
    try {
      const t = new TlsTransport({ credentials: old, trust: pinned });
      const r = await t.dial(l.address).then(
        async (s) =>
          readAll(s).then(
            () => 'read',
            () => 'cut',
          ),
        (e) => e.code,
      );
      expect(['cut', 'read', CoreErrorCode.DIAL_FAILED]).toContain(r);
      // The server's view decides: the expired client never reached the handler.
    } finally {
      await l.close();
    }
  });

  it('validates its options', () => {
    expect(() => new TlsTransport({ credentials: { keyPem: 'x', certPem: 'nope' }, trust: pinned })).toThrow(/certPem/);
    expect(() => new TlsTransport({ credentials: certA, trust: { kind: 'ca', caCertPem: [] } })).toThrow(/caCertPem/);
  });
});

describe('TLS close', () => {
  it('close delivers every byte of a large tail before releasing (TLS buffers records after write resolves)', async () => {
    for (let round = 0; round < 3; round++) {
      let received: Promise<number> | undefined;
      const l = await new TlsTransport({ credentials: certB, trust: pinned }).listen('127.0.0.1:0', (s) => {
        received = (async () => {
          let n = 0;
          for await (const c of s) n += c.length;
          return n;
        })();
      });
      const s = await new TlsTransport({ credentials: certA, trust: pinned }).dial(l.address);
      const data = new Uint8Array(16 * 1024 * 1024);
      const writes = [s.write(data.subarray(0, 5_000_000)), s.write(data.subarray(5_000_000))];
      await s.close();
      await Promise.all(writes);
      while (received === undefined) await new Promise((r) => setTimeout(r, 5));
      expect(await received).toBe(data.length);
      await l.close();
    }
  });
});

const peerIds = [a, b, caId];
const peerCerts = await Promise.all(peerIds.map((id) => createNodeCertificate(id)));
const peerMembers = new Set(peerIds.map((id) => id.nodeId));
const peerTrust = { kind: 'pinned' as const, isMember: (id: NodeId) => peerMembers.has(id) };
const settle = () => new Promise<void>((r) => setTimeout(r, 10));

peerNetworkCompliance('tls peer network (pinned, loopback)', {
  setup: async () => {
    const peers = peerIds.map((id, i) =>
      tlsPeerNetwork({
        localId: id.nodeId,
        listenAddress: '127.0.0.1:0',
        credentials: peerCerts[i]!,
        trust: peerTrust,
      }),
    );
    for (const p of peers) await p.start();
    for (const p of peers) for (const q of peers) if (p !== q) p.addPeer(q.localId, q.address!);
    return { peers, settle, maxSettles: 300 };
  },
  teardown: async (f) => {
    for (const p of f.peers) await (p as StreamPeerNetwork).stop();
  },
});

describe('authenticated peer networks refuse impostors', () => {
  it('a member that says hello as another node is cut off; the real node still gets through', async () => {
    const server = tlsPeerNetwork({
      localId: b.nodeId,
      listenAddress: '127.0.0.1:0',
      credentials: certB,
      trust: pinned,
    });
    const got: string[] = [];
    server.handle('x', (from, data) => got.push(`${from}:${Buffer.from(data).toString()}`));
    await server.start();
    try {
      const s = await new TlsTransport({ credentials: certA, trust: pinned }).dial(server.address!);
      await s.write(encodeFrame(encodeHello(nameBytes('id', b.nodeId))));
      await s.write(encodeFrame(encodeMessage(nameBytes('channel', 'x'), Buffer.from('forged'))));
      await s.closed.catch(() => {});
      const honest = tlsPeerNetwork({
        localId: a.nodeId,
        listenAddress: '127.0.0.1:0',
        credentials: certA,
        trust: pinned,
      });
      await honest.start();
      honest.addPeer(b.nodeId, server.address!);
      honest.send(b.nodeId, 'x', Buffer.from('real'));
      for (let i = 0; i < 200 && got.length === 0; i++) await settle();
      await honest.stop();
      expect(got).toEqual([`${a.nodeId}:real`]);
    } finally {
      await server.stop();
    }
  });

  it('a sealed UDP network drops forged, tampered and replayed datagrams and keeps serving', async () => {
    const keys = [{ id: 1, key: new Uint8Array(32).fill(3) }];
    const innerB = new UdpPeerNetwork({ localId: b.nodeId, listenAddress: '127.0.0.1:0' });
    const innerA = new UdpPeerNetwork({ localId: a.nodeId, listenAddress: '127.0.0.1:0' });
    await innerB.start();
    await innerA.start();
    innerA.addPeer(b.nodeId, innerB.address!);
    const netB = sealedPeerNetwork({ inner: innerB, keys });
    const netA = sealedPeerNetwork({ inner: innerA, keys });
    const got: string[] = [];
    netB.handle('g', (from, data) => got.push(`${from}:${Buffer.from(data).toString()}`));
    const sock = dgram.createSocket('udp4');
    const [host, port] = innerB.address!.split(':') as [string, string];
    const raw = (payload: Uint8Array) =>
      new Promise<void>((r) =>
        sock.send(
          encodeDatagram(nameBytes('id', a.nodeId), nameBytes('channel', 'g'), payload),
          Number(port),
          host,
          () => r(),
        ),
      );
    try {
      // A sealed datagram captured off the wire, then replayed, tampered and forged.
      const captured = netA.sealer.seal(a.nodeId, b.nodeId, 'g', Buffer.from('once'));
      await raw(captured);
      await raw(captured);
      const tampered = Uint8Array.from(captured);
      tampered[tampered.length - 20]! ^= 0x40;
      await raw(tampered);
      await raw(Buffer.from('plaintext gossip'));
      netA.send(b.nodeId, 'g', Buffer.from('later'));
      for (let i = 0; i < 200 && got.length < 2; i++) await settle();
      expect(got).toEqual([`${a.nodeId}:once`, `${a.nodeId}:later`]);
      expect(netB.refused).toEqual({ auth: 2, replay: 1 });
    } finally {
      sock.close();
      await innerA.stop();
      await innerB.stop();
    }
  });
});

describe('TLS handshake fuzzing', () => {
  it('hostile bytes (random, and mutated real ClientHellos) never reach the handler and never stop the listener', async () => {
    const fcm = (await import('fast-check')).default;
    let accepted = 0;
    const l = await new TlsTransport({ credentials: certB, trust: pinned, handshakeTimeoutMs: 2000 }).listen(
      '127.0.0.1:0',
      (s) => {
        accepted++;
        void s.close();
      },
    );
    const [host, port] = l.address.split(':') as [string, string];
    // A real ClientHello to mutate, captured from a genuine client's first flight.
    const hello = await new Promise<Buffer>((resolve) => {
      const srv = net.createServer((s) =>
        s.once('data', (d) => {
          resolve(d);
          s.destroy();
          srv.close();
        }),
      );
      srv.listen(0, '127.0.0.1', () => {
        const c = new TlsTransport({ credentials: certA, trust: pinned, connectTimeoutMs: 1000 });
        c.dial(`127.0.0.1:${(srv.address() as net.AddressInfo).port}`).catch(() => {});
      });
    });
    const send = (bytes: Uint8Array) =>
      new Promise<void>((resolve) => {
        const s = net.connect(Number(port), host, () => s.end(bytes));
        s.on('data', () => {});
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 150);
      });
    await fcm.assert(
      fcm.asyncProperty(
        fcm.oneof(
          fcm.uint8Array({ maxLength: 600 }),
          fcm.tuple(fcm.nat(), fcm.integer({ min: 1, max: 255 })).map(([at, x]) => {
            const m = Buffer.from(hello);
            m[at % m.length]! ^= x;
            return m;
          }),
          fcm.nat().map((n) => hello.subarray(0, n % hello.length)),
        ),
        async (bytes) => send(bytes),
      ),
      { numRuns: 40 },
    );
    expect(accepted).toBe(0);
    const ok = await new TlsTransport({ credentials: certA, trust: pinned }).dial(l.address);
    expect(ok.remoteNodeId).toBe(b.nodeId);
    await ok.close().catch(() => {});
    await l.close();
  });
});

describe('TLS records under a man in the middle', () => {
  // The attacker relays the handshake untouched, then attacks the client's application records.
  async function through(
    attack: 'none' | 'tamper' | 'replay' | 'truncate',
  ): Promise<{ echoed: number; serverError: string | undefined; sent: number }> {
    let serverError: string | undefined;
    const server = new TlsTransport({ credentials: certB, trust: pinned });
    const l = await server.listen('127.0.0.1:0', (s) => {
      void (async () => {
        try {
          for await (const c of s) await s.write(c);
          await s.closeWrite();
        } catch (err) {
          serverError = (err as { code?: string }).code ?? 'untyped';
          s.abort();
        }
      })();
    });
    const [host, port] = l.address.split(':') as [string, string];
    let handshakeDone = false;
    let captured: Buffer | undefined;
    const proxy = net.createServer((inbound) => {
      const out = net.connect(Number(port), host);
      out.on('data', (d: Buffer) => inbound.write(d));
      for (const [x, y] of [
        [out, inbound],
        [inbound, out],
      ] as const) {
        x.on('error', () => y.destroy());
        x.on('close', () => y.destroy());
      }
      inbound.on('data', (d: Buffer) => {
        if (!handshakeDone || attack === 'none') return void out.write(d);
        if (attack === 'tamper') {
          const x = Buffer.from(d);
          x[x.length - 1] = (x[x.length - 1] as number) ^ 0x40;
          return void out.write(x);
        }
        if (attack === 'replay') {
          captured ??= Buffer.from(d);
          out.write(d);
          return void out.write(captured);
        }
        out.write(d.subarray(0, Math.max(1, d.length >> 1)));
        out.end();
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    try {
      const s = await new TlsTransport({ credentials: certA, trust: pinned }).dial(`127.0.0.1:${proxyPort}`);
      handshakeDone = true;
      let echoed = 0;
      const reading = (async () => {
        try {
          for await (const c of s) echoed += c.length;
        } catch {
          // cut by the server
        }
      })();
      let sent = 0;
      try {
        for (let i = 0; i < 8; i++) {
          await s.write(new Uint8Array(2048).fill(i));
          sent += 2048;
          await new Promise((r) => setTimeout(r, 5));
        }
        await s.closeWrite();
      } catch {
        // cut by the server
      }
      await Promise.race([reading, new Promise((r) => setTimeout(r, 3000))]);
      s.abort();
      return { echoed, serverError, sent };
    } finally {
      await new Promise<void>((r) => proxy.close(() => r()));
      await l.close();
    }
  }

  it('relayed untouched, every byte echoes (the control)', async () => {
    const r = await through('none');
    expect(r.echoed).toBe(r.sent);
    expect(r.serverError).toBeUndefined();
  });

  it('a tampered record is refused with a typed error; nothing from it is delivered', async () => {
    const r = await through('tamper');
    expect(r.echoed).toBeLessThan(r.sent);
    expect(r.serverError).toMatch(/^[A-Z]+_[A-Z_]+$/);
  });

  it('a replayed record is refused with a typed error: no byte is delivered twice', async () => {
    const r = await through('replay');
    // Without replay protection the server would echo the captured record again (more than was sent).
    expect(r.echoed).toBeLessThanOrEqual(r.sent);
    expect(r.serverError).toMatch(/^[A-Z]+_[A-Z_]+$/);
  });

  it('a truncated stream delivers only whole authenticated records, never the cut one', async () => {
    const r = await through('truncate');
    expect(r.echoed).toBeLessThan(r.sent);
  });
});

describe('CA-issued certificates may carry a node name', () => {
  it('a CA vouches for a name (remoteNodeId is the name); a name that is another key’s id is refused', async () => {
    const ca = await createClusterCa(caId);
    const issuer = { identity: caId, certPem: ca.certPem };
    const named = await createNodeCertificate(a, { issuer, name: 'edge-7' });
    const server = await createNodeCertificate(b, { issuer, name: 'n1' });
    const trust = { kind: 'ca' as const, caCertPem: ca.certPem };
    const l = await new TlsTransport({ credentials: server, trust }).listen('127.0.0.1:0', (s) => {
      void s.write(Buffer.from(String(s.remoteNodeId))).then(() => s.closeWrite());
    });
    try {
      const c = await new TlsTransport({ credentials: named, trust }).dial(l.address, { expectedPeer: 'n1' as NodeId });
      expect(c.remoteNodeId).toBe('n1');
      expect(await readAll(c)).toBe('edge-7');
      await c.close();
    } finally {
      await l.close();
    }
    await expect(createNodeCertificate(a, { issuer, name: b.nodeId })).rejects.toMatchObject({
      code: CoreErrorCode.INVALID_ARGUMENT,
    });
    await expect(createNodeCertificate(a, { name: 'edge-7' })).rejects.toMatchObject({
      code: CoreErrorCode.INVALID_ARGUMENT,
    });
    await expect(issueNodeCertificate(new Uint8Array(5), { issuer })).rejects.toMatchObject({
      code: CoreErrorCode.INVALID_ARGUMENT,
    });
    expect(identityFromKeyPem(ca.keyPem).nodeId).toBe(caId.nodeId);
    expect(() => identityFromKeyPem('not a key')).toThrow(/PKCS#8/);
  });
});
