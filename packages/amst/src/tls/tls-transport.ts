import type net from 'node:net';
import tls from 'node:tls';
import {
  type Clock,
  type DialOptions,
  type Duplex,
  type Listener,
  type Logger,
  type Counter,
  type Metrics,
  type NodeId,
  NovacronError,
  type StreamHandler,
  type StreamTransport,
  invalidArgument,
  isNovacronError,
  noopMetrics,
  systemClock,
} from '@novacron/core';
import { AmstErrorCode } from '../errors.js';
import { bindServer, dialSocket, setWriteBuffer } from '../transport/socket-setup.js';
import { TcpDuplex, type TcpTransportOptions } from '../transport/tcp-transport.js';
import {
  type TlsCredentials,
  nodeIdOfCertificate,
  nodeNameOfCaCertificate,
  parseCertificate,
} from './node-certificate.js';

/**
 * Which peers a {@link TlsTransport} accepts. Either way the peer must hold
 * the private key of an Ed25519 certificate whose subject is the node id
 * derived from that key, so a node id cannot be borrowed.
 *
 * - `pinned`: self-signed node certificates; a peer is accepted when
 *   `isMember(nodeId)` says so (the cluster's membership list pins keys,
 *   since ids derive from them).
 * - `ca`: certificates issued by one of the cluster CAs, checked by OpenSSL
 *   during the handshake (chain, validity dates); `isMember` may narrow it
 *   further (retired or revoked nodes).
 */
export type TlsTrust =
  | { readonly kind: 'pinned'; readonly isMember: (nodeId: NodeId) => boolean }
  | {
      readonly kind: 'ca';
      readonly caCertPem: string | readonly string[];
      readonly isMember?: (nodeId: NodeId) => boolean;
    };

/** Options for {@link TlsTransport}. */
export interface TlsTransportOptions extends TcpTransportOptions {
  /** This node's key and certificate (see `createNodeCertificate`). */
  readonly credentials: TlsCredentials;
  /** Which peers to accept. */
  readonly trust: TlsTrust;
  /** An inbound connection that has not finished its handshake by then is dropped (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /**
   * TLS 1.3 cipher suites in preference order (OpenSSL names). Default:
   * AES-128-GCM first (fastest with AES-NI), then ChaCha20-Poly1305 and
   * AES-256-GCM.
   */
  readonly cipherSuites?: string;
  /** Wall clock for certificate validity checks in pinned mode (default `Date.now`). */
  readonly wallClock?: () => number;
  /** Rejected handshakes are logged at debug level here (default: nowhere). */
  readonly logger?: Logger;
  /** Counter `novacron_amst_tls_rejected_total{side,reason}` go here (default: nowhere). */
  readonly metrics?: Metrics;
}

const DEFAULT_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384';

/**
 * A {@link StreamTransport} over TLS 1.3 (`node:tls`) with mutual
 * authentication by node certificates: every stream it yields carries the
 * authenticated peer in `remoteNodeId`, and a dial with `expectedPeer`
 * fails unless that node answers. Plaintext clients, clients without a
 * certificate, and certificates of another cluster fail the handshake (or
 * are cut right after it) before any application byte is exchanged; the
 * listener keeps serving everyone else.
 */
export class TlsTransport implements StreamTransport {
  /** Always `tls`. */
  readonly name = 'tls';
  private readonly clock: Clock;
  private readonly connectTimeoutMs: number;
  private readonly noDelay: boolean;
  private readonly keepAliveMs: number;
  private readonly writeBufferBytes: number;
  private readonly readBufferBytes: number;
  private readonly handshakeTimeoutMs: number;
  private readonly secure: tls.SecureContextOptions & { minVersion: tls.SecureVersion };
  private readonly trust: TlsTrust;
  private readonly wallClock: () => number;
  private readonly logger: Logger | undefined;
  private readonly rejected: Counter;

  constructor(options: TlsTransportOptions) {
    const { credentials, trust } = options ?? ({} as TlsTransportOptions);
    if (typeof credentials?.keyPem !== 'string' || typeof credentials?.certPem !== 'string')
      throw invalidArgument('options.credentials', '{ keyPem, certPem } PEM strings', credentials);
    parseCertificate('options.credentials.certPem', credentials.certPem);
    if (trust?.kind === 'pinned') {
      if (typeof trust.isMember !== 'function')
        throw invalidArgument('options.trust.isMember', 'a function', trust.isMember);
    } else if (trust?.kind === 'ca') {
      const cas = typeof trust.caCertPem === 'string' ? [trust.caCertPem] : trust.caCertPem;
      if (!Array.isArray(cas) || cas.length === 0)
        throw invalidArgument('options.trust.caCertPem', 'one or more PEM certificates', trust.caCertPem);
      for (const [i, pem] of cas.entries()) parseCertificate(`options.trust.caCertPem[${i}]`, pem);
    } else {
      throw invalidArgument('options.trust', "{ kind: 'pinned' | 'ca', ... }", trust);
    }
    this.trust = trust;
    this.clock = options.clock ?? systemClock();
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.noDelay = options.noDelay ?? true;
    this.keepAliveMs = options.keepAliveMs ?? 30_000;
    this.writeBufferBytes = options.writeBufferBytes ?? 1024 * 1024;
    this.readBufferBytes = options.readBufferBytes ?? 1024 * 1024;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.wallClock = options.wallClock ?? Date.now;
    this.logger = options.logger;
    this.rejected = (options.metrics ?? noopMetrics()).counter({
      name: 'novacron_amst_tls_rejected_total',
      help: 'TLS connections refused: failed handshakes and authenticated peers that are not accepted.',
      labelNames: ['side', 'reason'],
    });
    this.secure = {
      key: credentials.keyPem,
      cert: credentials.certPem,
      minVersion: 'TLSv1.3',
      ciphers: options.cipherSuites ?? DEFAULT_SUITES,
      ...(trust.kind === 'ca'
        ? { ca: typeof trust.caCertPem === 'string' ? [trust.caCertPem] : [...trust.caCertPem] }
        : {}),
    };
  }

  /**
   * Checks the peer of a finished handshake; returns its node id or throws
   * `AMST_TLS_PEER_REJECTED`.
   */
  private authenticate(socket: tls.TLSSocket, expectedPeer: NodeId | undefined): NodeId {
    if (this.trust.kind === 'ca' && !socket.authorized)
      throw reject(`peer certificate not issued by the cluster CA (${String(socket.authorizationError)})`, 'ca');
    const cert = socket.getPeerX509Certificate();
    if (cert === undefined) throw reject('peer presented no certificate', 'no-certificate');
    // A CA vouches for the name in its certificates; pinned peers are named by their key.
    const nodeId = this.trust.kind === 'ca' ? nodeNameOfCaCertificate(cert) : nodeIdOfCertificate(cert);
    if (this.trust.kind === 'pinned') {
      const now = this.wallClock();
      if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now)
        throw reject(`certificate of ${nodeId} is outside its validity period`, 'expired');
    }
    const isMember = this.trust.isMember;
    if (isMember !== undefined && !isMember(nodeId)) throw reject(`node ${nodeId} is not a member`, 'not-member');
    if (expectedPeer !== undefined && nodeId !== expectedPeer)
      throw reject(`expected node ${expectedPeer}, but ${nodeId} answered`, 'unexpected-peer');
    return nodeId;
  }

  private count(side: 'dial' | 'accept', reason: string): void {
    this.rejected.inc(1, { side, reason });
  }

  /**
   * Connects and authenticates. `CORE_DIAL_FAILED` when nothing listens,
   * the handshake fails or the peer is rejected (the cause is then an
   * `AMST_TLS_PEER_REJECTED`); `CORE_ABORTED` on abort.
   */
  dial(address: string, options: DialOptions = {}): Promise<Duplex> {
    return dialSocket(address, options, {
      clock: this.clock,
      timeoutMs: this.connectTimeoutMs,
      readyEvent: 'secureConnect',
      connect: ({ host, port }) =>
        tls.connect({
          ...this.secure,
          host,
          port,
          // Node ids, not host names, identify peers: authenticate() checks the certificate.
          servername: undefined as unknown as string,
          checkServerIdentity: () => undefined,
          rejectUnauthorized: this.trust.kind === 'ca',
          allowHalfOpen: true,
          noDelay: this.noDelay,
          keepAlive: this.keepAliveMs > 0,
          keepAliveInitialDelay: this.keepAliveMs,
          highWaterMark: this.readBufferBytes,
        } as tls.ConnectionOptions),
      ready: (socket) => {
        let peer: NodeId;
        try {
          peer = this.authenticate(socket, options.expectedPeer);
        } catch (err) {
          this.count('dial', isNovacronError(err) ? String(err.details.reason ?? 'rejected') : 'rejected');
          throw err;
        }
        setWriteBuffer(socket, this.writeBufferBytes);
        return new TlsDuplex(socket, peer);
      },
    });
  }

  /**
   * Binds `host:port` (port 0 picks one) and hands each authenticated
   * stream to `handler`. Failed or rejected handshakes are counted, logged
   * at debug level and dropped; they never reach `handler`.
   */
  async listen(address: string, handler: StreamHandler): Promise<Listener> {
    const server = tls.createServer({
      ...this.secure,
      requestCert: true,
      rejectUnauthorized: this.trust.kind === 'ca',
      handshakeTimeout: this.handshakeTimeoutMs,
      allowHalfOpen: true,
      noDelay: this.noDelay,
      keepAlive: this.keepAliveMs > 0,
      keepAliveInitialDelay: this.keepAliveMs,
      highWaterMark: this.readBufferBytes,
    } as tls.TlsOptions);
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      let peer: NodeId;
      try {
        peer = this.authenticate(socket, undefined);
      } catch (err) {
        const reason = isNovacronError(err) ? String(err.details.reason ?? 'rejected') : 'rejected';
        this.count('accept', reason);
        this.logger?.debug('tls peer rejected', {
          remote: socket.remoteAddress,
          reason,
          message: (err as Error).message,
        });
        socket.destroy();
        return;
      }
      socket.setNoDelay(this.noDelay);
      setWriteBuffer(socket, this.writeBufferBytes);
      const stream = new TlsDuplex(socket, peer);
      try {
        handler(stream);
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)));
      }
    });
    server.on('tlsClientError', (err: Error, socket: net.Socket) => {
      this.count('accept', 'handshake');
      this.logger?.debug('tls handshake failed', { remote: socket.remoteAddress, message: err.message });
      socket.destroy();
    });
    return bindServer(server, address);
  }
}

function reject(message: string, reason: string): NovacronError {
  return new NovacronError(AmstErrorCode.TLS_PEER_REJECTED, message, { details: { reason } });
}

/** TLS 1.3 record overhead: 5-byte header, 1-byte inner content type, 16-byte AEAD tag. */
const RECORD_OVERHEAD = 22;
const MAX_RECORD = 16_384;
/** How long `close` waits for TLS to hand its last records to the kernel before giving up. */
const FLUSH_LIMIT_MS = 30_000;

interface TcpHandle {
  readonly writeQueueSize: number;
  readonly bytesWritten: number;
  reset(callback: () => void): number;
}

/**
 * A TLS connection as a core Duplex. Node's TLS socket reports a write (and
 * `end`) done once OpenSSL has taken the cleartext, while encrypted records
 * may still wait to reach the kernel; destroying the socket then silently
 * drops the tail. So `close` waits until the TCP handle underneath has
 * written at least the encrypted size of everything written and stays idle,
 * and `abort` resets that TCP handle (a TLS socket cannot be reset itself).
 */
export class TlsDuplex extends TcpDuplex {
  private cleartextBytes = 0;
  private readonly baseline: number;

  /**
   * @param socket - a TLS socket whose handshake has completed and been authenticated.
   * @param remoteNodeId - the authenticated peer.
   */
  constructor(socket: tls.TLSSocket, remoteNodeId: NodeId) {
    super(socket, remoteNodeId);
    this.baseline = this.tcpHandle()?.bytesWritten ?? 0;
  }

  private tcpHandle(): TcpHandle | undefined {
    const parent = (this.socket as unknown as { _handle?: { _parent?: TcpHandle } })._handle?._parent;
    return parent && typeof parent.writeQueueSize === 'number' ? parent : undefined;
  }

  override write(data: Uint8Array): Promise<void> {
    const p = super.write(data);
    this.cleartextBytes += data.length;
    return p;
  }

  override async close(): Promise<void> {
    if (!this.socket.destroyed) {
      await this.closeWrite();
      await this.flushed();
      this.socket.destroy();
    }
    await this.closed;
  }

  /** Resolves once the kernel has every encrypted byte (or the socket died, or the limit passed). */
  private async flushed(): Promise<void> {
    const records = Math.ceil(this.cleartextBytes / MAX_RECORD);
    const target = this.baseline + this.cleartextBytes + records * RECORD_OVERHEAD;
    const started = Date.now();
    let idle = 0;
    while (!this.socket.destroyed && Date.now() - started < FLUSH_LIMIT_MS) {
      const h = this.tcpHandle();
      if (h === undefined) return;
      // TLS continues encrypting pending cleartext from an immediate: require several idle turns.
      if (h.writeQueueSize === 0 && h.bytesWritten >= target) {
        if (++idle >= 3) return;
      } else idle = 0;
      await new Promise<void>((r) => (h.writeQueueSize > 0 ? setTimeout(r, 1) : setImmediate(r)));
    }
  }

  override abort(reason?: Error): void {
    this.writable = false;
    this.abortReason = reason ?? new Error('aborted');
    if (this.socket.destroyed) return;
    const h = this.tcpHandle();
    // RST on the TCP handle, so the peer's reads and writes fail rather than see a clean end.
    if (h !== undefined) {
      try {
        h.reset(() => {});
      } catch {
        // Already closing: the destroy below finishes the job.
      }
    }
    this.socket.destroy();
    // A reset TCP handle never reports back through the TLS socket's 'close'.
    this.resolveClosed();
  }
}
