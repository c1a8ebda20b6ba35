import { encodeCanonical, decodeCanonical, NovacronError } from '@novacron/core';
import { PbftErrorCode } from '../errors.js';
import { type PbftKeyring, sameBytes, sha256 } from './keyring.js';
import type {
  Authenticator,
  BatchItem,
  CheckpointPayload,
  NewViewPayload,
  PrePreparePayload,
  RequestPayload,
  SeqEntry,
  Signed,
  StatusPayload,
  ViewChangePayload,
  VotePayload,
} from './messages.js';
import { decideNewView, hexOf, NULL_DIGEST, type NewViewDecision, type ViewChangeSummary } from './new-view.js';
import type { PbftRecord, PersistedSlot, PersistedStable } from './records.js';
import { type PbftEnvelope, PbftWire } from './wire.js';

/** The replicated service a {@link PbftCore} executes requests against (deterministic). */
export interface PbftApplication {
  /** Executes a committed operation of `client`'s request `t`; returns the reply. */
  execute(op: Uint8Array, client: string, t: number): Uint8Array;
  /** Serialises the whole state (deterministically: equal states give equal bytes). */
  snapshot(): Uint8Array;
  /** Replaces the whole state. */
  restore(state: Uint8Array): void;
}

/** Tuning of a {@link PbftCore}. */
export interface PbftOptions {
  /** Checkpoint every K sequence numbers (default 64). */
  readonly checkpointInterval?: number;
  /** Watermark window L: sequence numbers accepted in (h, h + L] (default 2K). */
  readonly watermarkWindow?: number;
  /** Most requests per batch (default 256; 1 disables batching). */
  readonly maxBatch?: number;
  /** Most request bytes per batch (default 256 KiB). */
  readonly maxBatchBytes?: number;
  /** Batches the primary keeps in flight before queueing requests into the next (default 2). */
  readonly pipeline?: number;
  /** Ticks without progress on a pending request before a backup starts a view change (default 20). */
  readonly viewChangeTicks?: number;
  /** Ticks between status messages (default 4). */
  readonly statusTicks?: number;
  /** Requests per client remembered for deduplication (default 1024). */
  readonly clientWindow?: number;
  /** Most pending (received, unexecuted) requests held (default 16 384). */
  readonly maxPending?: number;
}

/** What {@link PbftCore} takes. */
export interface PbftCoreInit extends PbftOptions {
  /** This replica's keys (its id is the keyring's). */
  readonly keys: PbftKeyring;
  /** Replica ids in a fixed order: the primary of view v is `replicas[v mod n]`. */
  readonly replicas: readonly string[];
  /** The replicated service. */
  readonly app: PbftApplication;
  /** Records read back from the durable log, in order (restart). */
  readonly restore?: readonly PbftRecord[];
}

/** A request executed at sequence number `n`. */
export interface PbftExecuted {
  readonly n: number;
  readonly client: string;
  readonly t: number;
  readonly op: Uint8Array;
  readonly result: Uint8Array;
}

/** One message to send. */
export interface PbftSend {
  readonly to: readonly string[];
  readonly bytes: Uint8Array;
}

/** Output of the core: persist `records`, then send `sends`, then deliver `executed`. */
export interface PbftReady {
  readonly records: readonly PbftRecord[];
  readonly sends: readonly PbftSend[];
  readonly executed: readonly PbftExecuted[];
}

interface Slot {
  v: number;
  d: Uint8Array | undefined;
  batch: readonly BatchItem[] | undefined;
  raw: Uint8Array | undefined;
  prepares: Map<string, string>;
  /** Latest commit per sender: view and digest hex. */
  /** Each sender's commits in its two latest views (a certificate needs 2f+1 in one view). */
  commits: Map<string, { v: number; d: string }[]>;
  prepared: boolean;
  committed: boolean;
  /** What committed: digest and batch (set with `committed`). */
  cd: Uint8Array | undefined;
  cb: readonly BatchItem[] | undefined;
  /** Batches seen for this sequence number by digest hex (learning committed batches from other views). */
  known: Map<string, readonly BatchItem[]>;
}

interface PendingRequest {
  readonly c: string;
  readonly t: number;
  readonly bytes: Uint8Array;
  readonly auth: Authenticator;
  readonly since: number;
}

interface ClientEntry {
  low: number;
  readonly recent: Map<number, Uint8Array>;
}

interface StoredVc {
  readonly v: number;
  readonly signed: Signed;
  readonly summary: ViewChangeSummary;
}

const DEFAULTS = {
  checkpointInterval: 64,
  maxBatch: 256,
  maxBatchBytes: 256 * 1024,
  pipeline: 2,
  viewChangeTicks: 20,
  statusTicks: 4,
  clientWindow: 1024,
  maxPending: 16_384,
};

const TS_BLOCK = 1024;
const RETRANSMIT_SLOTS = 32;

/** Records `from`'s commit for view `v` (kept: its two latest views). */
function addCommit(s: Slot, from: string, v: number, d: string): void {
  // The latest message per view wins (as a single entry did before): a sender's bogus commit
  // must not shadow the valid one that follows it.
  const list = (s.commits.get(from) ?? []).filter((c) => c.v !== v);
  list.push({ v, d });
  list.sort((a, b) => a.v - b.v);
  if (list.length > 2) list.shift();
  s.commits.set(from, list);
}

/** Digest of a batch: SHA-256 over the SHA-256 of each request (the null digest for none). */
export function batchDigest(batch: readonly BatchItem[]): Uint8Array {
  if (batch.length === 0) return NULL_DIGEST;
  return sha256(...batch.map(([req]) => sha256(req)));
}

const violation = (message: string, details: Record<string, unknown> = {}) =>
  new NovacronError(PbftErrorCode.PROTOCOL_VIOLATION, `pbft: ${message}`, { details });

/**
 * The PBFT replica state machine (Castro & Liskov, OSDI '99 and TOCS 2002;
 * view change as in Castro's thesis §3.2.4 with signed view changes): no
 * I/O and no clock, so the simulator can drive it deterministically. Feed
 * it network bytes ({@link receive}), local requests ({@link submit}) and
 * ticks ({@link tick}); drain {@link ready} and act on it in order (persist,
 * send, deliver). Authentication (MACs, signatures) happens here, so any
 * byte string that passes {@link receive} is authentic.
 *
 * Normal case: the primary of view v assigns each batch a sequence number n
 * within the watermarks (h, h + L] in a pre-prepare; backups accept it when
 * it is the first for (v, n) and every request in it authenticates, and
 * send a prepare; 2f matching prepares (plus the pre-prepare) make it
 * prepared, and the replica sends a commit; 2f+1 matching commits make it
 * committed, and it executes once everything before it has executed.
 * Every K sequence numbers replicas exchange signed checkpoints; 2f+1
 * matching ones make the checkpoint stable, which moves the low watermark
 * and discards everything below it. A backup that has a request pending
 * for `viewChangeTicks` without progress starts a view change.
 */
export class PbftCore {
  /** This replica's id. */
  readonly id: string;
  /** Replica ids, in primary order. */
  readonly replicas: readonly string[];
  /** Byzantine faults tolerated: floor((n - 1) / 3). */
  readonly f: number;
  readonly #keys: PbftKeyring;
  readonly #wire: PbftWire;
  readonly #app: PbftApplication;
  readonly #o: Required<PbftOptions>;

  #view = 0;
  #inChange = false;
  #slots = new Map<number, Slot>();
  #P = new Map<number, readonly [Uint8Array, number]>();
  #Q = new Map<number, readonly [Uint8Array, number]>();
  #lastExec = 0;
  #stable: PersistedStable = { n: 0, d: NULL_DIGEST, proof: [], s: new Uint8Array(0) };
  #ownCkpts = new Map<number, { d: Uint8Array; s: Uint8Array }>();
  #ckVotes = new Map<number, Map<string, { d: string; signed: Signed }>>();
  #clients = new Map<string, ClientEntry>();
  #pending = new Map<string, PendingRequest>();
  #queue: string[] = [];
  #assigned = new Set<string>();
  #nextSeq = 1;
  #vcs = new Map<string, StoredVc>();
  #myVc: Signed | undefined;
  #nv: Signed | undefined;
  #transfer: { n: number; d: Uint8Array; proof: readonly Signed[]; asked: number } | undefined;
  #ts = 0;
  #tsReserved = 0;
  #ticks = 0;
  #idle = 0;
  #vcTicks = 0;
  #vcTimeout: number;
  #peerSeen = new Map<string, number>();
  /** Authenticated, decoded requests by digest hex (bounded), so batches need not decode or verify them again. */
  #requests = new Map<string, RequestPayload>();

  #records: PbftRecord[] = [];
  #sends: PbftSend[] = [];
  #executed: PbftExecuted[] = [];

  constructor(init: PbftCoreInit) {
    this.id = init.keys.id;
    this.replicas = [...init.replicas];
    const n = this.replicas.length;
    this.f = Math.floor((n - 1) / 3);
    const K = init.checkpointInterval ?? DEFAULTS.checkpointInterval;
    this.#o = {
      checkpointInterval: K,
      watermarkWindow: init.watermarkWindow ?? 2 * K,
      maxBatch: init.maxBatch ?? DEFAULTS.maxBatch,
      maxBatchBytes: init.maxBatchBytes ?? DEFAULTS.maxBatchBytes,
      pipeline: init.pipeline ?? DEFAULTS.pipeline,
      viewChangeTicks: init.viewChangeTicks ?? DEFAULTS.viewChangeTicks,
      statusTicks: init.statusTicks ?? DEFAULTS.statusTicks,
      clientWindow: init.clientWindow ?? DEFAULTS.clientWindow,
      maxPending: init.maxPending ?? DEFAULTS.maxPending,
    };
    const o = this.#o;
    const bad =
      n < 4 ||
      new Set(this.replicas).size !== n ||
      !this.replicas.includes(this.id) ||
      !(K >= 1) ||
      !(o.watermarkWindow >= K) ||
      o.watermarkWindow % K !== 0 ||
      !(o.maxBatch >= 1) ||
      !(o.pipeline >= 1) ||
      !(o.viewChangeTicks >= 2) ||
      !(o.statusTicks >= 1) ||
      !(o.clientWindow >= 1);
    if (bad) {
      throw new NovacronError(PbftErrorCode.CONFIG_INVALID, 'pbft: invalid configuration', {
        details: { id: this.id, replicas: n, checkpointInterval: K, watermarkWindow: o.watermarkWindow },
      });
    }
    this.#keys = init.keys;
    this.#wire = new PbftWire(init.keys);
    this.#app = init.app;
    this.#vcTimeout = o.viewChangeTicks;
    if (init.restore && init.restore.length > 0) this.#recover(init.restore);
  }

  // ------------------------------------------------------------------ queries

  /** Current view. */
  get view(): number {
    return this.#view;
  }
  /** True between sending a view change and accepting the new view. */
  get inViewChange(): boolean {
    return this.#inChange;
  }
  /** The primary of the current view. */
  get primary(): string {
    return this.primaryOf(this.#view);
  }
  /** The primary of view `v`. */
  primaryOf(v: number): string {
    return this.replicas[v % this.replicas.length]!;
  }
  /** Last executed sequence number. */
  get lastExecuted(): number {
    return this.#lastExec;
  }
  /** Stable checkpoint (low watermark h). */
  get stableCheckpoint(): number {
    return this.#stable.n;
  }
  /** Options in effect. */
  get options(): Readonly<Required<PbftOptions>> {
    return this.#o;
  }
  /** The digest of the batch executed... or assigned at `n`, when still held. */
  slotDigest(n: number): Uint8Array | undefined {
    return this.#slots.get(n)?.cd;
  }
  /** Sizes of the bounded structures (memory is bounded by the watermark window). */
  stats(): {
    slots: number;
    P: number;
    Q: number;
    checkpoints: number;
    ckVotes: number;
    pending: number;
    vcs: number;
    low: number;
    highestSlot: number;
  } {
    return {
      low: this.#low(),
      highestSlot: Math.max(0, ...this.#slots.keys()),
      slots: this.#slots.size,
      P: this.#P.size,
      Q: this.#Q.size,
      checkpoints: this.#ownCkpts.size,
      ckVotes: this.#ckVotes.size,
      pending: this.#pending.size,
      vcs: this.#vcs.size,
    };
  }

  /** Whether {@link ready} has anything. */
  hasReady(): boolean {
    return this.#records.length + this.#sends.length + this.#executed.length > 0;
  }

  /** Drains the output. */
  ready(): PbftReady {
    const rd = { records: this.#records, sends: this.#sends, executed: this.#executed };
    this.#records = [];
    this.#sends = [];
    this.#executed = [];
    return rd;
  }

  // ------------------------------------------------------------------ inputs

  /**
   * Submits a request from this replica as a client: it is broadcast to
   * every replica (the primary orders it; backups watch the primary).
   * Returns the request's (client, timestamp).
   */
  submit(op: Uint8Array): { client: string; t: number } {
    const t = this.#nextTimestamp();
    const payload: RequestPayload = { k: 'req', c: this.id, x: this.#keys.publicKey, t, o: op };
    const bytes = encodeCanonical(payload);
    const auth = this.#keys.authenticator(this.replicas, bytes);
    this.#send(this.#others(), this.#wire.encodeMacRaw(bytes, auth));
    this.#onRequest(payload, bytes, auth);
    return { client: this.id, t };
  }

  /**
   * Handles bytes from the network.
   *
   * @throws `NovacronError` (`CORE_MESSAGE_*`, `CORE_CANONICAL_MISMATCH`,
   *   `ACP_PBFT_AUTH_INVALID`, `ACP_PBFT_PROTOCOL_VIOLATION`) for bytes that
   *   are malformed, not authentic, or contradict the protocol; the state
   *   is unchanged then.
   */
  receive(data: Uint8Array): void {
    const env = this.#wire.decode(data);
    this.#step(env);
  }

  /** Advances logical time by one tick (timers, status, retransmission). */
  tick(): void {
    this.#ticks++;
    const o = this.#o;
    if (this.#inChange) {
      // Castro–Liskov: the timer for giving up on a view runs only once 2f+1 replicas asked for it,
      // so a replica cut off alone does not run ahead through views the others never reach.
      let asking = 0;
      for (const x of this.#vcs.values()) if (x.v >= this.#view) asking++;
      if (asking >= 2 * this.f + 1 && ++this.#vcTicks >= this.#vcTimeout) this.#startViewChange(this.#view + 1);
    } else if (this.#pending.size > 0 && this.primary !== this.id) {
      this.#idle++;
      if (this.#idle === Math.floor(o.viewChangeTicks / 2)) this.#forwardPending();
      if (this.#idle >= o.viewChangeTicks) this.#startViewChange(this.#view + 1);
    } else {
      this.#idle = 0;
    }
    if (this.#ticks % o.statusTicks === 0) {
      const st: StatusPayload = {
        k: 'st',
        v: this.#view,
        h: this.#stable.n,
        e: this.#lastExec,
        c: this.#inChange,
        i: this.id,
      };
      this.#send(this.#others(), this.#wire.encodeMac(st, this.#others()));
      this.#resendOwnRequests();
      if (this.#transfer) this.#askState();
      if (this.#inChange && this.#myVc) this.#send(this.#others(), this.#wire.encodeStatement(this.#myVc));
    }
    this.#propose();
  }

  // ------------------------------------------------------------------ dispatch

  #step(env: PbftEnvelope): void {
    const p = env.payload;
    if ('i' in p && p.i === this.id) return; // our own message reflected back
    switch (p.k) {
      case 'req':
        this.#onRequest(p, env.bytes, env.auth!);
        return;
      case 'pp':
        this.#onPrePrepare(p, env.raw);
        return;
      case 'p':
        this.#onPrepare(p);
        return;
      case 'c':
        this.#onCommit(p);
        return;
      case 'ck':
        this.#onCheckpoint(p, env.signed!);
        return;
      case 'vc':
        this.#onViewChange(p, env.signed!);
        return;
      case 'nv':
        this.#onNewView(p, env.signed!);
        return;
      case 'st':
        this.#onStatus(p);
        return;
      case 'fs':
        this.#onFetch(p.n, p.i);
        return;
      case 'ss':
        this.#onState(p.n, p.s);
        return;
      case 'r':
        return; // replies are for clients
    }
  }

  // ------------------------------------------------------------------ requests

  #clientEntry(c: string): ClientEntry | undefined {
    return this.#clients.get(c);
  }

  #executedBefore(c: string, t: number): boolean {
    const e = this.#clientEntry(c);
    return e !== undefined && (t <= e.low || e.recent.has(t));
  }

  #onRequest(p: RequestPayload, bytes: Uint8Array, auth: Authenticator): void {
    const key = `${p.c}|${p.t}`;
    if (this.#executedBefore(p.c, p.t)) {
      const r = this.#clientEntry(p.c)?.recent.get(p.t);
      if (r && p.c !== this.id) this.#reply(p.c, p.t, r);
      return;
    }
    if (this.#pending.has(key) || this.#pending.size >= this.#o.maxPending) return;
    let perClient = 0;
    for (const q of this.#pending.values()) if (q.c === p.c && ++perClient >= this.#o.clientWindow) return;
    this.#pending.set(key, { c: p.c, t: p.t, bytes, auth, since: this.#ticks });
    this.#rememberRequest(bytes, p);
    if (this.primary === this.id && !this.#inChange && !this.#assigned.has(key)) {
      this.#queue.push(key);
      this.#propose();
    }
  }

  #rememberRequest(bytes: Uint8Array, p: RequestPayload): void {
    this.#requests.set(hexOf(sha256(bytes)), p);
    if (this.#requests.size > 2 * this.#o.maxPending) this.#requests.delete(this.#requests.keys().next().value!);
  }

  #forwardPending(): void {
    let count = 0;
    for (const q of this.#pending.values()) {
      if (this.#assigned.has(`${q.c}|${q.t}`)) continue;
      this.#send([this.primary], this.#wire.encodeMacRaw(q.bytes, q.auth));
      if (++count >= 64) break;
    }
  }

  #resendOwnRequests(): void {
    let count = 0;
    for (const q of this.#pending.values()) {
      if (q.c !== this.id || this.#ticks - q.since < this.#o.statusTicks) continue;
      this.#send(this.#others(), this.#wire.encodeMacRaw(q.bytes, q.auth));
      if (++count >= 64) break;
    }
  }

  #nextTimestamp(): number {
    const last = this.#clientEntry(this.id);
    this.#ts = Math.max(this.#ts, last ? Math.max(last.low, ...last.recent.keys()) : 0) + 1;
    if (this.#ts > this.#tsReserved) {
      this.#tsReserved = this.#ts + TS_BLOCK;
      this.#records.push({ t: 'ts', upTo: this.#tsReserved });
    }
    return this.#ts;
  }

  // ------------------------------------------------------------------ normal case

  #inWindow(n: number): boolean {
    const h = this.#low();
    return n > h && n <= h + this.#o.watermarkWindow;
  }

  /** The low watermark: the stable checkpoint, or the one being fetched by state transfer. */
  #low(): number {
    return Math.max(this.#stable.n, this.#transfer?.n ?? 0);
  }

  #slot(n: number): Slot {
    let s = this.#slots.get(n);
    if (!s) {
      s = {
        v: this.#view,
        d: undefined,
        batch: undefined,
        raw: undefined,
        prepares: new Map(),
        commits: new Map(),
        prepared: false,
        committed: false,
        cd: undefined,
        cb: undefined,
        known: new Map(),
      };
      this.#slots.set(n, s);
    }
    return s;
  }

  /** The primary cuts batches from its queue while the pipeline and watermarks allow. */
  #propose(): void {
    if (this.primary !== this.id || this.#inChange || this.#transfer) return;
    const o = this.#o;
    while (
      this.#queue.length > 0 &&
      this.#nextSeq <= this.#stable.n + o.watermarkWindow &&
      this.#nextSeq - 1 - this.#lastExec < o.pipeline
    ) {
      const batch: BatchItem[] = [];
      let bytes = 0;
      while (this.#queue.length > 0 && batch.length < o.maxBatch) {
        const key = this.#queue[0]!;
        const q = this.#pending.get(key);
        if (!q || this.#assigned.has(key) || this.#executedBefore(q.c, q.t)) {
          this.#queue.shift();
          continue;
        }
        if (batch.length > 0 && bytes + q.bytes.length > o.maxBatchBytes) break;
        this.#queue.shift();
        this.#assigned.add(key);
        batch.push([q.bytes, q.auth]);
        bytes += q.bytes.length;
      }
      if (batch.length === 0) break;
      const n = this.#nextSeq++;
      const d = batchDigest(batch);
      const pp: PrePreparePayload = { k: 'pp', v: this.#view, n, d, i: this.id, b: batch };
      const raw = this.#wire.encodeMac(pp, this.#others());
      const s = this.#slot(n);
      Object.assign(s, { v: this.#view, d, batch, raw });
      this.#Q.set(n, [d, this.#view]);
      this.#records.push({ t: 'pp', slot: this.#persisted(n, s) });
      this.#send(this.#others(), raw);
    }
  }

  #onPrePrepare(p: PrePreparePayload, raw: Uint8Array): void {
    if (!this.#inWindow(p.n)) return;
    const digests = p.b.map(([req]) => sha256(req));
    const d = p.b.length === 0 ? NULL_DIGEST : sha256(...digests);
    if (!sameBytes(d, p.d)) throw violation('pre-prepare digest does not match its batch', { n: p.n });
    const existing = this.#slots.get(p.n);
    if (existing && !existing.committed) {
      // Any batch whose digest matches may complete a commit certificate (2f+1 commits bind the digest).
      if (existing.known.size < 4) existing.known.set(hexOf(p.d), p.b);
      this.#checkCommitted(p.n);
    }
    if (p.v !== this.#view || this.#inChange || p.i !== this.primary || !this.#inWindow(p.n)) return;
    if (existing?.d !== undefined && existing.v === p.v) return; // first pre-prepare wins; an equivocation is ignored
    // Requests already authenticated when the client sent them to us are not checked again.
    p.b.forEach(([req, auth], k) => {
      if (!this.#requests.has(hexOf(digests[k]!))) this.#rememberRequest(req, this.#wire.openRequest(req, auth));
    });
    const s = this.#slot(p.n);
    Object.assign(s, { v: p.v, d: p.d, batch: p.b, raw });
    this.#Q.set(p.n, [p.d, p.v]);
    this.#records.push({ t: 'pp', slot: this.#persisted(p.n, s) });
    this.#vote('p', p.n, p.d);
    s.prepares.set(this.id, hexOf(p.d));
    this.#checkPrepared(p.n);
  }

  #vote(k: 'p' | 'c', n: number, d: Uint8Array, to: readonly string[] = this.#others(), v = this.#view): void {
    const m: VotePayload = { k, v, n, d, i: this.id };
    this.#send(to, this.#wire.encodeMac(m, to));
  }

  #onPrepare(p: VotePayload): void {
    if (p.v !== this.#view || this.#inChange || !this.#inWindow(p.n) || p.i === this.primary) return;
    const s = this.#slot(p.n);
    s.prepares.set(p.i, hexOf(p.d));
    this.#checkPrepared(p.n);
  }

  #onCommit(p: VotePayload): void {
    // Commits count in any view: 2f+1 for one (view, digest) certify it, even to a replica elsewhere in a view change.
    if (!this.#inWindow(p.n)) return;
    const s = this.#slot(p.n);
    addCommit(s, p.i, p.v, hexOf(p.d));
    this.#checkCommitted(p.n);
  }

  #checkPrepared(n: number): void {
    const s = this.#slots.get(n);
    if (!s || s.d === undefined || s.prepared || s.v !== this.#view) return;
    const dh = hexOf(s.d);
    let votes = 0;
    for (const [id, d] of s.prepares) if (id !== this.primary && d === dh) votes++;
    if (votes < 2 * this.f) return;
    s.prepared = true;
    this.#P.set(n, [s.d, s.v]);
    this.#records.push({ t: 'prep', v: s.v, n, d: s.d });
    this.#vote('c', n, s.d);
    addCommit(s, this.id, s.v, dh);
    this.#checkCommitted(n);
  }

  #checkCommitted(n: number): void {
    const s = this.#slots.get(n);
    if (!s || s.committed) return;
    const groups = new Map<string, number>();
    let cert: { v: number; d: string } | undefined;
    for (const list of s.commits.values()) {
      for (const c of list) {
        const key = `${c.v}:${c.d}`;
        const votes = (groups.get(key) ?? 0) + 1;
        groups.set(key, votes);
        if (votes >= 2 * this.f + 1) cert = c;
      }
    }
    if (!cert) return;
    const batch =
      cert.d === hexOf(NULL_DIGEST)
        ? []
        : s.d !== undefined && hexOf(s.d) === cert.d && s.batch
          ? s.batch
          : s.known.get(cert.d);
    if (!batch) return; // certified, but the batch has not reached us yet
    s.committed = true;
    s.cd = Uint8Array.from(Buffer.from(cert.d, 'hex'));
    s.cb = batch;
    s.known.clear();
    this.#records.push({ t: 'cmt', v: cert.v, n, d: s.cd, b: batch });
    this.#execute();
  }

  #execute(): void {
    for (;;) {
      const n = this.#lastExec + 1;
      const s = this.#slots.get(n);
      if (!s?.committed || !s.cb) return;
      for (const [bytes] of s.cb) {
        const h = hexOf(sha256(bytes));
        const req = this.#requests.get(h) ?? (PbftWire.decodePayload(bytes) as RequestPayload);
        this.#requests.delete(h);
        const key = `${req.c}|${req.t}`;
        this.#pending.delete(key);
        this.#assigned.delete(key);
        if (this.#executedBefore(req.c, req.t)) continue;
        const result = this.#app.execute(req.o, req.c, req.t);
        this.#remember(req.c, req.t, result);
        this.#executed.push({ n, client: req.c, t: req.t, op: req.o, result });
        if (req.c !== this.id) this.#reply(req.c, req.t, result);
      }
      this.#lastExec = n;
      this.#idle = 0;
      if (n % this.#o.checkpointInterval === 0) this.#checkpoint(n);
    }
  }

  #remember(c: string, t: number, result: Uint8Array): void {
    let e = this.#clients.get(c);
    if (!e) {
      e = { low: 0, recent: new Map() };
      this.#clients.set(c, e);
    }
    e.recent.set(t, result);
    while (e.recent.size > this.#o.clientWindow) {
      let min = Number.POSITIVE_INFINITY;
      for (const k of e.recent.keys()) if (k < min) min = k;
      e.recent.delete(min);
      e.low = Math.max(e.low, min);
    }
  }

  #reply(c: string, t: number, r: Uint8Array): void {
    try {
      this.#send([c], this.#wire.encodeMac({ k: 'r', v: this.#view, c, t, r, i: this.id }, [c]));
    } catch {
      // The client's key fell out of the cache: it will retransmit and be answered then.
    }
  }

  // ------------------------------------------------------------------ checkpoints

  #encodeState(): Uint8Array {
    const clients = [...this.#clients]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([c, e]) => [c, e.low, [...e.recent].sort((a, b) => a[0] - b[0])]);
    return encodeCanonical([this.#lastExec, clients, this.#app.snapshot()]);
  }

  #installState(n: number, state: Uint8Array): void {
    const [at, clients, app] = decodeCanonical(state) as [
      number,
      [string, number, [number, Uint8Array][]][],
      Uint8Array,
    ];
    if (at !== n) throw violation('state does not belong to its checkpoint', { n, at });
    this.#clients.clear();
    for (const [c, low, recent] of clients) this.#clients.set(c, { low, recent: new Map(recent) });
    this.#app.restore(app);
    this.#lastExec = n;
  }

  #checkpoint(n: number): void {
    const s = this.#encodeState();
    const d = sha256(s);
    this.#ownCkpts.set(n, { d, s });
    this.#records.push({ t: 'ckpt', n, d, s });
    const ck: CheckpointPayload = { k: 'ck', n, d, i: this.id };
    const { signed, bytes } = this.#wire.encodeSigned(ck);
    this.#send(this.#others(), bytes);
    this.#addCkVote(n, this.id, d, signed);
  }

  #onCheckpoint(p: CheckpointPayload, signed: Signed): void {
    if (!this.#keys.isReplica(p.i)) return;
    if (p.n % this.#o.checkpointInterval !== 0 || p.n <= this.#low()) return;
    if (p.n > this.#low() + 4 * this.#o.watermarkWindow) return;
    this.#addCkVote(p.n, p.i, p.d, signed);
  }

  #addCkVote(n: number, from: string, d: Uint8Array, signed: Signed): void {
    let votes = this.#ckVotes.get(n);
    if (!votes) {
      votes = new Map();
      this.#ckVotes.set(n, votes);
    }
    votes.set(from, { d: hexOf(d), signed });
    const dh = hexOf(d);
    const matching = [...votes.values()].filter((v) => v.d === dh);
    if (matching.length >= 2 * this.f + 1) {
      this.#stabilize(
        n,
        d,
        matching.slice(0, 2 * this.f + 1).map((m) => m.signed),
      );
    }
  }

  /** A checkpoint became stable (2f+1 signed matching checkpoints). */
  #stabilize(n: number, d: Uint8Array, proof: readonly Signed[]): void {
    if (n <= this.#stable.n) return;
    const own = this.#ownCkpts.get(n);
    if (own && sameBytes(own.d, d)) {
      this.#stable = { n, d, proof, s: own.s };
      this.#transfer = undefined;
      this.#gc();
      this.#records.push(this.#base());
      return;
    }
    if (this.#lastExec >= n) return; // our state there differs from 2f+1 others: we would be faulty; keep ours
    // Behind: fetch the state from the replicas that signed it.
    if (!this.#transfer || this.#transfer.n < n) {
      this.#transfer = { n, d, proof, asked: 0 };
      this.#gc(); // the transferred state will cover everything up to n
      this.#askState();
    }
  }

  #gc(): void {
    const h = this.#low();
    for (const n of [...this.#slots.keys()]) if (n <= h) this.#slots.delete(n);
    for (const n of [...this.#P.keys()]) if (n <= h) this.#P.delete(n);
    for (const n of [...this.#Q.keys()]) if (n <= h) this.#Q.delete(n);
    for (const n of [...this.#ownCkpts.keys()]) if (n < h) this.#ownCkpts.delete(n);
    for (const n of [...this.#ckVotes.keys()]) if (n <= h) this.#ckVotes.delete(n);
    if (this.#nextSeq <= h) this.#nextSeq = h + 1;
  }

  #askState(): void {
    const t = this.#transfer!;
    const signers = t.proof
      .map(([p]) => (PbftWire.decodePayload(p) as CheckpointPayload).i)
      .filter((i) => i !== this.id);
    if (signers.length === 0) return;
    const to = signers[t.asked++ % signers.length]!;
    this.#send([to], this.#wire.encodeMac({ k: 'fs', n: t.n, i: this.id }, [to]));
  }

  #onFetch(n: number, from: string): void {
    const s = this.#stable.n === n ? this.#stable.s : this.#ownCkpts.get(n)?.s;
    if (!s) return;
    this.#send([from], this.#wire.encodeMac({ k: 'ss', n, s, i: this.id }, [from]));
  }

  #onState(n: number, s: Uint8Array): void {
    const t = this.#transfer;
    if (!t || t.n !== n) return;
    if (this.#lastExec >= n) {
      this.#transfer = undefined;
      return;
    }
    if (!sameBytes(sha256(s), t.d)) {
      throw new NovacronError(PbftErrorCode.STATE_MISMATCH, 'pbft: transferred state does not match its checkpoint', {
        details: { n },
      });
    }
    this.#installState(n, s);
    this.#transfer = undefined;
    this.#ownCkpts.set(n, { d: t.d, s });
    this.#stable = { n, d: t.d, proof: t.proof, s };
    for (const q of [...this.#pending.values()]) {
      if (!this.#executedBefore(q.c, q.t)) continue;
      this.#pending.delete(`${q.c}|${q.t}`);
      // Our own request executed in the state we just installed: answer it from the reply cache.
      const result = this.#clientEntry(q.c)?.recent.get(q.t);
      if (q.c === this.id && result) {
        const req = PbftWire.decodePayload(q.bytes) as RequestPayload;
        this.#executed.push({ n, client: q.c, t: q.t, op: req.o, result });
      }
    }
    this.#gc();
    this.#records.push(this.#base());
    this.#execute();
  }

  // ------------------------------------------------------------------ view change

  #startViewChange(v: number): void {
    if (v <= this.#view && this.#inChange) return;
    this.#view = v;
    this.#inChange = true;
    this.#vcTicks = 0;
    this.#idle = 0;
    this.#vcTimeout = Math.min(this.#vcTimeout * 2, this.#o.viewChangeTicks * 8);
    this.#nv = undefined;
    for (const s of this.#slots.values()) s.prepares.clear();
    this.#records.push({ t: 'view', v, c: true });
    const vc = this.#makeViewChange(v);
    const { signed, bytes } = this.#wire.encodeSigned(vc);
    this.#myVc = signed;
    this.#send(this.#others(), bytes);
    this.#vcs.set(this.id, { v, signed, summary: this.#summarize(vc) });
    this.#tryNewView();
  }

  #makeViewChange(v: number): ViewChangePayload {
    // While fetching a certified checkpoint, that checkpoint (with its proof) is our low watermark.
    const t = this.#transfer;
    const h = t && t.n > this.#stable.n ? t.n : this.#stable.n;
    const proof = t && t.n > this.#stable.n ? t.proof : this.#stable.proof;
    const L = this.#o.watermarkWindow;
    const entries = (m: Map<number, readonly [Uint8Array, number]>): SeqEntry[] =>
      [...m]
        .filter(([n, [, w]]) => n > h && n <= h + L && w < v)
        .sort((a, b) => a[0] - b[0])
        .map(([n, [d, w]]) => [n, d, w] as const);
    const Q = entries(this.#Q);
    const B = new Map<string, readonly [Uint8Array, readonly BatchItem[]]>();
    for (const [n, d] of Q) {
      const s = this.#slots.get(n);
      if (s?.batch && s.d && sameBytes(s.d, d) && !sameBytes(d, NULL_DIGEST)) B.set(hexOf(d), [d, s.batch]);
    }
    return { k: 'vc', v, h, C: proof, P: entries(this.#P), Q, B: [...B.values()], i: this.id };
  }

  /** Checks a view change's proofs and digests and summarises it. */
  #summarize(vc: ViewChangePayload): ViewChangeSummary {
    let hd: Uint8Array = NULL_DIGEST;
    if (vc.h > 0) {
      const signers = new Set<string>();
      let d: string | undefined;
      for (const s of vc.C) {
        const ck = this.#wire.openSigned(s, 'ck');
        if (ck.n !== vc.h || (d !== undefined && hexOf(ck.d) !== d)) throw violation('checkpoint proof mismatch');
        d = hexOf(ck.d);
        hd = ck.d;
        signers.add(ck.i);
      }
      if (signers.size < 2 * this.f + 1) throw violation('checkpoint proof too small', { h: vc.h });
    }
    const window = (n: number) => n > vc.h && n <= vc.h + this.#o.watermarkWindow;
    const P = new Map<number, readonly [Uint8Array, number]>();
    const Q = new Map<number, readonly [Uint8Array, number]>();
    for (const [n, d, v] of vc.P) {
      if (!window(n) || v >= vc.v) throw violation('view change: prepared entry out of range', { n });
      P.set(n, [d, v]);
    }
    for (const [n, d, v] of vc.Q) {
      if (!window(n) || v >= vc.v) throw violation('view change: pre-prepared entry out of range', { n });
      Q.set(n, [d, v]);
    }
    const batches = new Map<string, readonly BatchItem[]>();
    for (const [d, b] of vc.B) {
      if (!sameBytes(batchDigest(b), d)) throw violation('view change: batch digest mismatch');
      batches.set(hexOf(d), b);
    }
    return { i: vc.i, h: vc.h, hd, proof: vc.C, P, Q, batches };
  }

  #onViewChange(p: ViewChangePayload, signed: Signed): void {
    if (!this.#keys.isReplica(p.i)) return;
    const prev = this.#vcs.get(p.i);
    if (prev && prev.v >= p.v) return;
    if (p.v < this.#view || (p.v === this.#view && !this.#inChange && this.#nv)) return;
    const summary = this.#summarize(p);
    this.#vcs.set(p.i, { v: p.v, signed, summary });
    // Join: f+1 replicas want a later view, so at least one correct one does.
    const later = [...this.#vcs.values()].filter((x) => x.v > this.#view).map((x) => x.v);
    if (later.length >= this.f + 1) this.#startViewChange(Math.min(...later));
    this.#tryNewView();
  }

  #tryNewView(): void {
    const v = this.#view;
    if (!this.#inChange || this.primaryOf(v) !== this.id) return;
    const set = [...this.#vcs.values()].filter((x) => x.v === v).sort((a, b) => (a.summary.i < b.summary.i ? -1 : 1));
    if (set.length < 2 * this.f + 1) return;
    const decision = decideNewView(
      set.map((x) => x.summary),
      this.f,
    );
    if (!decision) return;
    const nv: NewViewPayload = { k: 'nv', v, V: set.map((x) => x.signed), i: this.id };
    const { signed, bytes } = this.#wire.encodeSigned(nv);
    this.#send(this.#others(), bytes);
    this.#enterView(v, decision, signed);
  }

  #onNewView(p: NewViewPayload, signed: Signed): void {
    if (p.v < this.#view || (p.v === this.#view && !this.#inChange)) return;
    if (p.i !== this.primaryOf(p.v)) throw violation('new view from a replica that is not its primary', { v: p.v });
    const seen = new Set<string>();
    const summaries: ViewChangeSummary[] = [];
    for (const s of p.V) {
      const vc = this.#wire.openSigned(s, 'vc');
      if (vc.v !== p.v || seen.has(vc.i)) throw violation('new view: view change for another view or repeated');
      seen.add(vc.i);
      summaries.push(this.#summarize(vc));
    }
    summaries.sort((a, b) => (a.i < b.i ? -1 : 1));
    const decision = decideNewView(summaries, this.f);
    if (!decision) throw violation('new view: its view changes decide nothing', { v: p.v });
    if (p.v > this.#view) for (const s of this.#slots.values()) s.prepares.clear();
    this.#enterView(p.v, decision, signed);
  }

  #enterView(v: number, decision: NewViewDecision, nv: Signed): void {
    this.#view = v;
    this.#inChange = false;
    this.#nv = nv;
    this.#myVc = undefined;
    this.#vcTicks = 0;
    this.#idle = 0;
    this.#vcTimeout = this.#o.viewChangeTicks;
    this.#records.push({ t: 'view', v, c: false });
    this.#records.push({ t: 'nv', v, nv });
    for (const [id, x] of [...this.#vcs]) if (x.v <= v) this.#vcs.delete(id);
    if (decision.h > this.#stable.n) this.#stabilize(decision.h, decision.hd, decision.proof);
    const primary = this.primaryOf(v) === this.id;
    let maxN = Math.max(decision.h, this.#low());
    for (const slot of decision.slots) {
      maxN = Math.max(maxN, slot.n);
      if (slot.n <= this.#low()) continue;
      const s = this.#slot(slot.n);
      Object.assign(s, { v, d: slot.d, batch: slot.batch, raw: undefined, prepared: false });
      s.prepares.clear();
      this.#Q.set(slot.n, [slot.d, v]);
      this.#records.push({ t: 'pp', slot: this.#persisted(slot.n, s) });
      if (!primary) {
        this.#vote('p', slot.n, slot.d);
        s.prepares.set(this.id, hexOf(slot.d));
      }
    }
    // Slots past the decision were never pre-prepared by enough replicas: the new primary reassigns them.
    for (const n of [...this.#slots.keys()]) {
      const s = this.#slots.get(n)!;
      if (n > maxN && !s.committed) this.#slots.delete(n);
      else if (s.v < v) s.prepares.clear();
    }
    this.#nextSeq = maxN + 1;
    this.#assigned.clear();
    for (const slot of decision.slots) {
      for (const [req] of slot.batch) {
        const r = PbftWire.decodePayload(req) as RequestPayload;
        this.#assigned.add(`${r.c}|${r.t}`);
      }
    }
    this.#queue = primary ? [...this.#pending.keys()].filter((k) => !this.#assigned.has(k)) : [];
    this.#execute();
    this.#propose();
  }

  // ------------------------------------------------------------------ status and retransmission

  #onStatus(p: StatusPayload): void {
    const to = [p.i];
    if (p.h < this.#stable.n) {
      for (const s of this.#stable.proof) this.#send(to, this.#wire.encodeStatement(s));
    }
    if ((p.v < this.#view || (p.v === this.#view && p.c)) && !this.#inChange && this.#nv) {
      this.#send(to, this.#wire.encodeStatement(this.#nv));
    }
    if (this.#inChange && this.#myVc && p.v <= this.#view) this.#send(to, this.#wire.encodeStatement(this.#myVc));
    const stalled = this.#peerSeen.get(p.i) === p.e;
    this.#peerSeen.set(p.i, p.e);
    // A peer behind us, or stuck with us in this view, gets what it may have lost: the batches and our votes.
    const sameView = p.v === this.#view && !p.c && !this.#inChange;
    if (!stalled || !(p.e < this.#lastExec || sameView)) return;
    let count = 0;
    for (let n = Math.max(p.e, this.#stable.n) + 1; count < RETRANSMIT_SLOTS; n++) {
      const s = this.#slots.get(n);
      if (!s || (s.d === undefined && s.cd === undefined)) break;
      count++;
      if (s.raw) this.#send(to, s.raw);
      else if (s.cb && s.cd) {
        const pp: PrePreparePayload = { k: 'pp', v: this.#view, n, d: s.cd, i: this.id, b: s.cb };
        this.#send(to, this.#wire.encodeMac(pp, to));
      }
      if (sameView && s.v === this.#view && s.d && this.primary !== this.id && s.prepares.has(this.id)) {
        this.#vote('p', n, s.d, to);
      }
      for (const mine of s.commits.get(this.id) ?? []) {
        this.#vote('c', n, Uint8Array.from(Buffer.from(mine.d, 'hex')), to, mine.v);
      }
    }
    for (const n of this.#ownCkpts.keys()) {
      if (n > p.h && n > this.#stable.n) {
        const votes = this.#ckVotes.get(n)?.get(this.id);
        if (votes) this.#send(to, this.#wire.encodeStatement(votes.signed));
      }
    }
  }

  // ------------------------------------------------------------------ persistence

  #persisted(n: number, s: Slot): PersistedSlot {
    return {
      v: s.v,
      n,
      d: s.d ?? s.cd!,
      b: s.batch ?? s.cb!,
      raw: s.raw ?? new Uint8Array(0),
      prepared: s.prepared,
      c: s.committed ? { d: s.cd!, b: s.cb! } : null,
    };
  }

  #base(): PbftRecord {
    const entries = (m: Map<number, readonly [Uint8Array, number]>): SeqEntry[] =>
      [...m].sort((a, b) => a[0] - b[0]).map(([n, [d, v]]) => [n, d, v] as const);
    return {
      t: 'base',
      v: this.#view,
      c: this.#inChange,
      stable: this.#stable,
      slots: [...this.#slots]
        .filter(([, s]) => (s.d !== undefined && s.batch !== undefined) || s.committed)
        .map(([n, s]) => this.#persisted(n, s)),
      P: entries(this.#P),
      Q: entries(this.#Q),
      ckpts: [...this.#ownCkpts].filter(([n]) => n > this.#stable.n).map(([n, c]) => [n, c.d, c.s] as const),
      nv: this.#nv ?? null,
      upTo: this.#tsReserved,
    };
  }

  #recover(records: readonly PbftRecord[]): void {
    const putSlot = (p: PersistedSlot) => {
      const s = this.#slot(p.n);
      const q = this.#Q.get(p.n);
      const preprepared = q !== undefined && q[1] === p.v && sameBytes(q[0], p.d);
      Object.assign(s, {
        v: p.v,
        d: preprepared ? p.d : undefined,
        batch: preprepared ? p.b : undefined,
        raw: p.raw.length > 0 ? p.raw : undefined,
        prepared: p.prepared,
      });
      if (p.c) Object.assign(s, { committed: true, cd: p.c.d, cb: p.c.b });
    };
    for (const r of records) {
      switch (r.t) {
        case 'base':
          this.#view = r.v;
          this.#inChange = r.c;
          this.#stable = r.stable;
          this.#P = new Map(r.P.map(([n, d, v]) => [n, [d, v] as const]));
          this.#Q = new Map(r.Q.map(([n, d, v]) => [n, [d, v] as const]));
          this.#slots.clear();
          for (const s of r.slots) putSlot(s);
          this.#ownCkpts = new Map(r.ckpts.map(([n, d, s]) => [n, { d, s }]));
          this.#nv = r.nv ?? undefined;
          this.#tsReserved = r.upTo;
          break;
        case 'view':
          this.#view = r.v;
          this.#inChange = r.c;
          break;
        case 'pp':
          this.#Q.set(r.slot.n, [r.slot.d, r.slot.v]);
          putSlot(r.slot);
          break;
        case 'prep': {
          this.#P.set(r.n, [r.d, r.v]);
          const s = this.#slots.get(r.n);
          if (s && s.v === r.v && s.d && sameBytes(s.d, r.d)) s.prepared = true;
          break;
        }
        case 'cmt':
          Object.assign(this.#slot(r.n), { committed: true, cd: r.d, cb: r.b });
          break;
        case 'ckpt':
          this.#ownCkpts.set(r.n, { d: r.d, s: r.s });
          break;
        case 'stable':
          this.#stable = r.stable;
          break;
        case 'nv':
          this.#nv = r.nv;
          break;
        case 'ts':
          this.#tsReserved = Math.max(this.#tsReserved, r.upTo);
          break;
      }
    }
    this.#ts = this.#tsReserved;
    this.#gc();
    if (this.#stable.n > 0) this.#installState(this.#stable.n, this.#stable.s);
    for (const s of this.#slots.values()) {
      if (s.v === this.#view && s.d) {
        if (this.primaryOf(s.v) !== this.id) s.prepares.set(this.id, hexOf(s.d));
        if (s.prepared) addCommit(s, this.id, s.v, hexOf(s.d));
      }
    }
    let last = this.#stable.n;
    for (const n of this.#slots.keys()) if (n > last) last = n;
    this.#nextSeq = last + 1;
    this.#execute();
    if (this.#inChange) {
      this.#inChange = false;
      const v = this.#view;
      this.#view = v - 1;
      this.#vcTimeout = this.#o.viewChangeTicks / 2;
      this.#startViewChange(v);
    }
  }

  // ------------------------------------------------------------------ helpers

  #others(): string[] {
    return this.replicas.filter((r) => r !== this.id);
  }

  #send(to: readonly string[], bytes: Uint8Array): void {
    this.#sends.push({ to, bytes });
  }
}
