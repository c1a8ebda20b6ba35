import {
  assertInteger,
  assertNamespace,
  assertStateKey,
  assertStateValue,
  type Clock,
  type Counter,
  CoreErrorCode,
  type DivergenceReport,
  type DurableLog,
  decodeMsgpack,
  encodeMsgpack,
  type Logger,
  MAX_NAMESPACE_LENGTH,
  type Metrics,
  NovacronError,
  noopLogger,
  type PeerNetwork,
  type ReadOptions,
  type Rng,
  type StateChange,
  type StateEntry,
  type StateSync,
  type StateSyncStatus,
  type Timer,
  type WriteOptions,
  type WriteResult,
} from '@novacron/core';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { AssErrorCode } from '../errors.js';
import { type DocDigest, docDigest, stateVectorCovers, stateVectorsEqual } from './digest.js';
import { encodeUpdateChunks, updateChunks } from './update-chunks.js';
import { decodeUpdateRecord, encodeUpdateRecord } from './update-record.js';

/** Channel carrying y-protocols sync messages, each prefixed with its namespace (docs/protocol/ass.md). */
export const CRDT_SYNC_CHANNEL = 'ass/crdt/1';
/** Channel carrying anti-entropy digests. */
export const CRDT_DIGEST_CHANNEL = 'ass/crdt-ae/1';
/** Name of the Y.Map holding a namespace's keys in its document. */
export const CRDT_MAP_NAME = 'kv';
/** Default size of one sync step 2 message: larger answers go out as several (docs/protocol/ass.md). */
export const DEFAULT_SYNC_CHUNK_BYTES = 256 * 1024;

/** Options of {@link CrdtSync}. */
export interface CrdtSyncInit {
  /** The network to the other replicas. */
  readonly network: PeerNetwork;
  /** Ids of the other replicas. */
  readonly peers: readonly string[];
  /** Time source for anti-entropy and lag. */
  readonly clock: Clock;
  /** Randomness: the Yjs client id of each start, and push targets. */
  readonly rng: Rng;
  /**
   * Where updates are made durable before a write is acknowledged (a
   * `FileDurableLog` in production). Without it the state lives in memory only.
   */
  readonly log?: DurableLog;
  /** Peers each local update is pushed to at once (default 2); the rest learn it by relay or anti-entropy. */
  readonly fanout?: number;
  /** Interval of the anti-entropy round (default 1000 ms); divergence is reported within one. */
  readonly antiEntropyMs?: number;
  /** Compact the update log into one snapshot record per namespace once it holds this many records (default 10 000). */
  readonly compactAfter?: number;
  /**
   * Largest sync step 2 message (default {@link DEFAULT_SYNC_CHUNK_BYTES}, and
   * never above the network's `maxMessageSize`): a larger answer is split
   * into several complete Yjs updates, so a large state fits any message
   * limit, the receiver applies the first parts while later ones are still
   * being sent, and an interrupted transfer resumes from the receiver's
   * state vector.
   */
  readonly syncChunkBytes?: number;
  /** Most namespaces a replica opens on a peer's say-so (default 4096); messages for more are dropped. */
  readonly maxNamespaces?: number;
  /** Optional logger. */
  readonly logger?: Logger;
  /** Optional metrics (`ass_crdt_*`). */
  readonly metrics?: Metrics;
}

/** Counters of a {@link CrdtSync}, for tests and benchmarks. */
export interface CrdtSyncStats {
  /** Bytes of sync and digest messages sent. */
  readonly bytesSent: number;
  /** Messages sent. */
  readonly messagesSent: number;
  /** Messages dropped because they did not decode or apply. */
  readonly malformed: number;
  /** Messages not sent because they exceeded the network's `maxMessageSize`. */
  readonly oversized: number;
  /** Sync step 2 messages sent (an answer split in chunks counts each chunk). */
  readonly step2Sent: number;
  /** Compactions done. */
  readonly compactions: number;
  /** Divergences found by digest comparison. */
  readonly divergencesFound: number;
}

interface Space {
  readonly ns: string;
  readonly doc: Y.Doc;
  readonly map: Y.Map<Uint8Array>;
  seq: number;
  readonly watchers: Set<(c: StateChange) => void>;
  /** Per peer: when a change of ours started waiting for that peer's confirmation. */
  readonly unconfirmed: Map<string, number>;
  /**
   * The document's digest, until it changes: computing one walks every
   * struct, and digests are compared several times per interval.
   */
  digest: DocDigest | undefined;
  /**
   * Per peer, what our step 2s and pushed updates are bringing it: our
   * state vector when we last sent, the peer's state vector from its last
   * digest, and when we started sending without it catching up.
   */
  readonly sent: Map<string, InFlight>;
  /** The last step 1 sent for this namespace (see `#ask`). */
  /**
   * The step 1 whose answer may still be arriving: to whom, when it was
   * sent, when the last step 2 from that peer was applied, and the state
   * vector the peer showed in its latest digest (what the answer covers).
   */
  asked:
    | { readonly peer: string; readonly at: number; lastStep2At: number; want: Map<number, number> | undefined }
    | undefined;
}

const LOCAL = Symbol('local');
const RESTORE = Symbol('restore');
interface InFlight {
  upTo: Map<number, number>;
  seen: Map<number, number> | undefined;
  /** When the peer was last sent everything from its own state vector. */
  since: number;
  /** When its state vector last advanced towards `upTo` (or `since`). */
  advancedAt: number;
}

interface RemoteOrigin {
  readonly peer: string;
  /** Part of a sync step 2 (an answer to a step 1 or a repair), which is not relayed. */
  readonly step2: boolean;
}

/**
 * Eventually consistent {@link StateSync}: one Yjs document per namespace
 * (a `Y.Map` named `kv` of byte values), synced over any `PeerNetwork`
 * with y-protocols messages (sync step 1 with the state vector, step 2
 * with the missing update, incremental updates), so a stock Yjs +
 * y-protocols peer can take part. Local updates are made durable in the
 * update log before the write is acknowledged, pushed to `fanout` peers
 * and relayed on by peers that learn something new; every
 * `antiEntropyMs` each replica sends every peer a digest (state vector
 * and delete-set hash) per namespace, and a mismatch is reported as
 * divergence and repaired with step 1 / step 2 in both directions.
 * Every value is `eventual`.
 */
export class CrdtSync implements StateSync {
  readonly #init: CrdtSyncInit;
  readonly #logger: Logger;
  readonly #fanout: number;
  readonly #antiEntropyMs: number;
  readonly #compactAfter: number;
  readonly #maxNamespaces: number;
  readonly #spaces = new Map<string, Space>();
  readonly #divergence = new Map<string, DivergenceReport>();
  readonly #spaceListeners = new Set<(ns: string, keys: readonly string[], origin: unknown) => void>();
  #running = false;
  #timer: Timer | undefined;
  #offs: (() => void)[] = [];
  #pendingLocal = 0;
  #lastPersist: Promise<void> = Promise.resolve();
  #compacting: Promise<void> | undefined;
  #persistError: unknown;
  readonly #bytesCounter: Counter | undefined;
  readonly #chunkBytes: number;
  #stats = {
    bytesSent: 0,
    messagesSent: 0,
    malformed: 0,
    oversized: 0,
    step2Sent: 0,
    compactions: 0,
    divergencesFound: 0,
  };

  constructor(init: CrdtSyncInit) {
    this.#init = init;
    this.#logger = init.logger ?? noopLogger();
    this.#fanout = init.fanout ?? 2;
    this.#antiEntropyMs = init.antiEntropyMs ?? 1000;
    this.#compactAfter = init.compactAfter ?? 10_000;
    this.#maxNamespaces = init.maxNamespaces ?? 4096;
    this.#chunkBytes = init.syncChunkBytes ?? DEFAULT_SYNC_CHUNK_BYTES;
    this.#bytesCounter = init.metrics?.counter({
      name: 'novacron_ass_crdt_bytes_sent_total',
      help: 'Bytes of CRDT sync and digest messages sent.',
    });
    assertInteger('fanout', this.#fanout, { min: 0 });
    assertInteger('antiEntropyMs', this.#antiEntropyMs, { min: 1 });
    assertInteger('compactAfter', this.#compactAfter, { min: 1 });
    assertInteger('maxNamespaces', this.#maxNamespaces, { min: 1 });
    assertInteger('syncChunkBytes', this.#chunkBytes, { min: 1024 });
  }

  /** Counters since construction. */
  get stats(): CrdtSyncStats {
    return { ...this.#stats };
  }

  /** This replica's id on the network. */
  get id(): string {
    return this.#init.network.localId;
  }

  /** Opens and replays the update log, then joins the peers (handlers, anti-entropy timer, a first step 1). */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#persistError = undefined;
    const log = this.#init.log;
    if (log) {
      await log.open();
      // Replay the log: compacted snapshots first, then updates, in log order.
      const last = log.lastIndex();
      for (let i = log.firstIndex(); i <= last; ) {
        const batch = log.entries(i, last + 1, 16 * 1024 * 1024);
        for (const e of batch) {
          const r = decodeUpdateRecord(e.data);
          const space = this.#open(r.namespace);
          Y.applyUpdate(space.doc, r.update, RESTORE);
        }
        i += batch.length;
      }
    }
    const net = this.#init.network;
    this.#offs = [
      net.handle(CRDT_SYNC_CHANNEL, (from, data) => this.#onSync(from, data)),
      net.handle(CRDT_DIGEST_CHANNEL, (from, data) => this.#onDigest(from, data)),
    ];
    this.#running = true;
    this.#timer = this.#init.clock.setInterval(() => this.antiEntropy(), this.#antiEntropyMs);
    // Catch up at once rather than after the first interval (one peer; the
    // digests bring in whatever the others hold beyond it).
    for (const space of this.#spaces.values()) this.#ask(space);
  }

  /** Stops syncing, waits for pending log writes and closes the log. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#timer?.cancel();
    for (const off of this.#offs) off();
    this.#offs = [];
    await this.#lastPersist.catch(() => undefined);
    await this.#compacting?.catch(() => undefined);
    if (this.#init.log) await this.#init.log.close();
    for (const s of this.#spaces.values()) s.doc.destroy();
    this.#spaces.clear();
    this.#divergence.clear();
  }

  /** Reads this replica's current value (always local; the level is `eventual`). */
  async get(namespace: string, key: string, _options: ReadOptions = {}): Promise<StateEntry | null> {
    assertNamespace(namespace);
    assertStateKey(key);
    this.#assertRunning();
    const v = this.#spaces.get(namespace)?.map.get(key);
    return v === undefined ? null : { value: v, level: 'eventual' };
  }

  /** Sets `key` in one Yjs transaction; resolves once its update is durable in the log. */
  async put(namespace: string, key: string, value: Uint8Array, _options: WriteOptions = {}): Promise<WriteResult> {
    assertNamespace(namespace);
    assertStateKey(key);
    assertStateValue(value);
    this.#assertRunning();
    const space = this.#open(namespace);
    await this.#local(space, (map) => map.set(key, value));
    return { level: 'eventual' };
  }

  /** Deletes `key` (durable like `put`); deleting an absent key writes nothing. */
  async delete(namespace: string, key: string, _options: WriteOptions = {}): Promise<WriteResult> {
    assertNamespace(namespace);
    assertStateKey(key);
    this.#assertRunning();
    const space = this.#open(namespace);
    if (space.map.has(key)) await this.#local(space, (map) => map.delete(key));
    else await this.#lastPersist;
    return { level: 'eventual' };
  }

  /**
   * Applies several changes to one namespace in one Yjs transaction (one
   * update on the wire and in the log); resolves once it is durable.
   */
  async transact(namespace: string, changes: (map: Y.Map<Uint8Array>) => void): Promise<WriteResult> {
    assertNamespace(namespace);
    this.#assertRunning();
    await this.#local(this.#open(namespace), changes);
    return { level: 'eventual' };
  }

  entries(namespace: string): ReadonlyMap<string, StateEntry> {
    assertNamespace(namespace);
    const map = this.#spaces.get(namespace)?.map;
    if (!map) return new Map();
    const keys = [...map.keys()].sort();
    return new Map(keys.map((k) => [k, { value: map.get(k)!, level: 'eventual' as const }]));
  }

  watch(namespace: string, listener: (change: StateChange) => void): () => void {
    assertNamespace(namespace);
    const set = this.#watcherSet(namespace);
    set.add(listener);
    return () => set.delete(listener);
  }

  status(): StateSyncStatus {
    const now = this.#init.clock.now();
    let oldest = now;
    for (const s of this.#spaces.values()) for (const t of s.unconfirmed.values()) oldest = Math.min(oldest, t);
    return {
      strategy: 'crdt',
      writeLevel: 'eventual',
      pendingWrites: this.#pendingLocal,
      divergence: [...this.#divergence.values()],
      convergenceLagMs: now - oldest,
    };
  }

  /**
   * The per-key version vector: for each Yjs client that ever wrote `key`,
   * the highest clock of its writes to it (over the key's current value
   * and the values it replaced). Equal on replicas that have seen the same
   * writes of the key; empty when the key was never written.
   */
  versionVector(namespace: string, key: string): ReadonlyMap<number, number> {
    assertNamespace(namespace);
    assertStateKey(key);
    const out = new Map<number, number>();
    let item: Y.Item | null =
      (this.#spaces.get(namespace)?.map as unknown as { _map: Map<string, Y.Item> } | undefined)?._map.get(key) ?? null;
    while (item !== null) {
      const top = item.id.clock + item.length - 1;
      if ((out.get(item.id.client) ?? -1) < top) out.set(item.id.client, top);
      item = item.left;
    }
    return out;
  }

  /** The Yjs document of `namespace` (created empty when unknown); for inspection and interop. */
  doc(namespace: string): Y.Doc {
    assertNamespace(namespace);
    return this.#open(namespace).doc;
  }

  /** Namespaces this replica holds. */
  namespaces(): string[] {
    return [...this.#spaces.keys()];
  }

  /**
   * Subscribes to key changes of every namespace with the transaction's
   * origin (for {@link HybridSync}); returns the unsubscribe function.
   */
  onKeysChanged(listener: (ns: string, keys: readonly string[], origin: unknown) => void): () => void {
    this.#spaceListeners.add(listener);
    return () => this.#spaceListeners.delete(listener);
  }

  /**
   * One anti-entropy round (run every `antiEntropyMs`): a digest of every
   * namespace to every peer. Exposed so tests can trigger a round.
   */
  antiEntropy(): void {
    if (!this.#running) return;
    for (const space of this.#spaces.values()) {
      if (this.#receiving(space)) continue;
      const d = this.#digest(space);
      const msg = encodeMsgpack({ v: 1, n: space.ns, s: d.stateVector, h: d.deleteSetHash });
      for (const peer of this.#init.peers) this.#send(peer, CRDT_DIGEST_CHANNEL, msg);
    }
    if (this.#init.log && this.#init.log.lastIndex() - this.#init.log.firstIndex() + 1 > this.#compactAfter) {
      void this.compact().catch((err) => this.#logger.warn('compaction failed', { err: String(err) }));
    }
  }

  /**
   * Merges the update log into one snapshot record per namespace: appends
   * the snapshots, then drops every record before them. A crash between
   * the two leaves both, which replays to the same state (Yjs updates are
   * idempotent).
   */
  compact(): Promise<void> {
    const log = this.#init.log;
    if (!log || !this.#running) return Promise.resolve();
    if (this.#compacting) return this.#compacting;
    const run = async () => {
      const cut = log.lastIndex();
      if (cut < log.firstIndex()) return;
      let next = cut;
      const records = [...this.#spaces.values()].map((s) => ({
        index: ++next,
        term: 1,
        data: encodeUpdateRecord({ kind: 'snapshot', namespace: s.ns, update: Y.encodeStateAsUpdate(s.doc) }),
      }));
      const appended = log.append(records);
      this.#lastPersist = appended;
      await appended;
      await log.compact(cut, 1);
      this.#stats.compactions++;
    };
    this.#compacting = run().finally(() => {
      this.#compacting = undefined;
    });
    return this.#compacting;
  }

  #assertRunning(): void {
    if (!this.#running) throw new NovacronError(CoreErrorCode.INVALID_STATE, 'CRDT sync is not running');
    if (this.#persistError !== undefined) {
      throw new NovacronError(CoreErrorCode.INVALID_STATE, 'CRDT update log failed; restart to recover', {
        cause: this.#persistError,
      });
    }
  }

  async #local(space: Space, change: (map: Y.Map<Uint8Array>) => void): Promise<void> {
    this.#pendingLocal++;
    try {
      space.doc.transact(() => change(space.map), LOCAL);
      await this.#lastPersist;
    } finally {
      this.#pendingLocal--;
    }
  }

  #watcherSet(ns: string): Set<(c: StateChange) => void> {
    return this.#open(ns).watchers;
  }

  /** The namespace's space, created when new; `ASS_NAMESPACE_LIMIT` past `maxNamespaces`. */
  #open(ns: string): Space {
    const known = this.#spaces.has(ns);
    const space = this.#space(ns, true);
    // A namespace opened here may already exist on the peers: catch up at
    // once rather than at the next digest.
    if (space && !known && this.#running) this.#ask(space);
    if (!space) {
      throw new NovacronError(
        AssErrorCode.NAMESPACE_LIMIT,
        `CRDT sync holds ${this.#maxNamespaces} namespaces already`,
        {
          details: { namespace: ns, maxNamespaces: this.#maxNamespaces },
        },
      );
    }
    return space;
  }

  #space(ns: string, create: boolean): Space | undefined {
    const space = this.#spaces.get(ns);
    if (space || !create) return space;
    if (this.#spaces.size >= this.#maxNamespaces) return undefined;
    const doc = new Y.Doc({ gc: true });
    // Yjs draws client ids from Math.random; ours come from the injected Rng
    // (a fresh one per start: an id must never be reused after a crash).
    doc.clientID = this.#init.rng.nextUint32();
    const map = doc.getMap<Uint8Array>(CRDT_MAP_NAME);
    const created: Space = {
      ns,
      doc,
      map,
      seq: 0,
      watchers: new Set(),
      unconfirmed: new Map(),
      asked: undefined,
      digest: undefined,
      sent: new Map(),
    };
    map.observe((event, tx) => {
      const keys = [...event.keysChanged].sort();
      for (const key of keys) {
        const v = map.get(key);
        created.seq++;
        const c: StateChange = {
          namespace: ns,
          key,
          entry: v === undefined ? null : { value: v, level: 'eventual' },
          seq: created.seq,
        };
        for (const l of [...created.watchers]) {
          try {
            l(c);
          } catch (err) {
            this.#logger.warn('watch listener threw', { err: String(err) });
          }
        }
      }
      for (const l of this.#spaceListeners) l(ns, keys, tx.origin);
    });
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      created.digest = undefined;
      this.#onUpdate(created, update, origin);
    });
    this.#spaces.set(ns, created);
    return created;
  }

  #digest(space: Space): DocDigest {
    space.digest ??= docDigest(space.doc);
    return space.digest;
  }

  #onUpdate(space: Space, update: Uint8Array, origin: unknown): void {
    if (origin === RESTORE) return;
    const now = this.#init.clock.now();
    for (const peer of this.#init.peers) if (!space.unconfirmed.has(peer)) space.unconfirmed.set(peer, now);
    this.#persist(space.ns, update);
    if (!this.#running) return;
    const remote = origin === LOCAL ? undefined : (origin as RemoteOrigin | undefined);
    const from = remote?.peer;
    // With fanout covering every peer the origin reached them all itself:
    // relaying would only duplicate (anti-entropy covers losses). A step 2
    // answered our own request or repair; the other peers get theirs from
    // their own digests.
    if (from !== undefined && (remote!.step2 || this.#fanout >= this.#init.peers.length)) return;
    const targets = this.#init.peers.filter((p) => p !== from);
    this.#init.rng.shuffle(targets);
    const budget = this.#chunkBudget(space.ns);
    let parts = [update];
    if (update.length > budget) {
      // A transaction too large for one message goes out in chunks: its
      // structs (from where it started, per client) and the delete set.
      const target = Y.decodeStateVector(Y.encodeStateVector(space.doc));
      for (const [client, clock] of Y.parseUpdateMeta(update).from) target.set(client, clock);
      parts = encodeUpdateChunks(space.doc, target, budget);
    }
    const msgs = parts.map((part) => this.#syncMessage(space.ns, (e) => syncProtocol.writeUpdate(e, part)));
    for (const peer of targets.slice(0, this.#fanout)) {
      for (const msg of msgs) this.#send(peer, CRDT_SYNC_CHANNEL, msg);
      this.#sentAll(peer, space);
    }
  }

  #persist(ns: string, update: Uint8Array): void {
    const log = this.#init.log;
    if (!log) return;
    const data = encodeUpdateRecord({ kind: 'update', namespace: ns, update });
    const p = log.append([{ index: log.lastIndex() + 1, term: 1, data }]);
    p.catch((err) => {
      this.#persistError ??= err;
      this.#logger.error('CRDT update log append failed', { err: String(err) });
    });
    this.#lastPersist = p;
  }

  #syncMessage(ns: string, write: (e: encoding.Encoder) => void): Uint8Array {
    const e = encoding.createEncoder();
    encoding.writeVarString(e, ns);
    write(e);
    return encoding.toUint8Array(e);
  }

  #send(peer: string, channel: string, msg: Uint8Array): void {
    if (msg.length > this.#init.network.maxMessageSize) {
      this.#stats.oversized++;
      this.#logger.warn('sync message exceeds maxMessageSize; left to a later round', { peer, bytes: msg.length });
      return;
    }
    this.#stats.bytesSent += msg.length;
    this.#stats.messagesSent++;
    this.#bytesCounter?.inc(msg.length);
    this.#init.network.send(peer, channel, msg);
  }

  /**
   * Sends a step 1 to `peer` (default a random one) unless the answer to an
   * earlier one may still be arriving: several peers answering with the same
   * large step 2, or one peer answering twice, would make a joining replica
   * transfer and apply the state more than once. `want` is the state vector
   * the peer showed in its digest, when known.
   */
  #ask(space: Space, peer?: string, want?: Map<number, number>): void {
    const target = peer ?? (this.#init.peers.length > 0 ? this.#init.rng.pick(this.#init.peers) : undefined);
    if (target === undefined) return;
    if (this.#receiving(space)) return;
    const now = this.#init.clock.now();
    space.asked = { peer: target, at: now, lastStep2At: now, want };
    this.#sendStep1(target, space);
  }

  /**
   * Whether the answer to our last step 1 may still be arriving: the asked
   * peer's last step 2 was applied (or the step 1 sent) within the last two
   * intervals, and we do not yet hold what that peer showed in its latest
   * digest. Once over, it stays over until the next step 1 (a lost step 1
   * thus costs two intervals).
   */
  #receiving(space: Space): boolean {
    const asked = space.asked;
    if (!asked) return false;
    const active = this.#init.clock.now() - asked.lastStep2At < 2 * this.#antiEntropyMs;
    if (
      !active ||
      (asked.want !== undefined && stateVectorCovers(Y.decodeStateVector(Y.encodeStateVector(space.doc)), asked.want))
    ) {
      space.asked = undefined;
      return false;
    }
    return true;
  }

  /**
   * Sends `peer` what its digest shows it lacks, except what our earlier
   * step 2s and pushed updates are still bringing it: until its state
   * vector has not advanced towards them for three intervals, only newer
   * changes go out. A busy receiver, or a large transfer on a slow link, is
   * thus not sent the same state again at every digest (nor for each stale
   * digest queued while we were busy sending); one that stalls (a lost
   * message) gets it again from its state vector, and so does one still
   * behind after 20 intervals.
   */
  #repair(peer: string, space: Space, theirs: Map<number, number>, ours: Map<number, number>): void {
    const now = this.#init.clock.now();
    const prev = space.sent.get(peer);
    if (prev && !stateVectorCovers(theirs, prev.upTo) && now - prev.since < 20 * this.#antiEntropyMs) {
      if (prev.seen === undefined || advancedTowards(prev.seen, theirs, prev.upTo)) prev.advancedAt = now;
      prev.seen = theirs;
      if (now - Math.max(prev.since, prev.advancedAt) < 3 * this.#antiEntropyMs) {
        if (stateVectorCovers(prev.upTo, ours)) return;
        const from = new Map(theirs);
        for (const [client, clock] of prev.upTo) if ((from.get(client) ?? 0) < clock) from.set(client, clock);
        this.#sendStep2(peer, space, from);
        prev.upTo = ours;
        return;
      }
    }
    this.#sendStep2(peer, space, theirs);
    space.sent.set(peer, { upTo: ours, seen: theirs, since: now, advancedAt: now });
  }

  /** Notes that `peer` was sent everything up to our current state. */
  #sentAll(peer: string, space: Space): void {
    const ours = Y.decodeStateVector(Y.encodeStateVector(space.doc));
    const prev = space.sent.get(peer);
    if (prev) prev.upTo = ours;
    else {
      const now = this.#init.clock.now();
      space.sent.set(peer, { upTo: ours, seen: undefined, since: now, advancedAt: now });
    }
  }

  /** Bytes of Yjs update that fit one sync message of `ns` (namespace and type headers aside). */
  #chunkBudget(ns: string): number {
    const header = 5 + 3 * ns.length + 1 + 5;
    return Math.max(1024, Math.min(this.#chunkBytes, this.#init.network.maxMessageSize - header));
  }

  /**
   * Sends `peer` what it lacks beyond the state vector `target` (with our
   * whole delete set) as y-protocols sync step 2 messages, split to fit
   * `syncChunkBytes` and the network's message limit.
   */
  #sendStep2(peer: string, space: Space, target: Map<number, number>): void {
    for (const chunk of updateChunks(space.doc, target, this.#chunkBudget(space.ns))) {
      this.#stats.step2Sent++;
      this.#send(
        peer,
        CRDT_SYNC_CHANNEL,
        this.#syncMessage(space.ns, (e) => {
          encoding.writeVarUint(e, syncProtocol.messageYjsSyncStep2);
          encoding.writeVarUint8Array(e, chunk);
        }),
      );
    }
  }

  #sendStep1(peer: string, space: Space): void {
    this.#send(
      peer,
      CRDT_SYNC_CHANNEL,
      this.#syncMessage(space.ns, (e) => syncProtocol.writeSyncStep1(e, space.doc)),
    );
  }

  #malformed(from: string, err: unknown): void {
    this.#stats.malformed++;
    this.#logger.debug('dropping malformed sync message', { from, err: String(err) });
  }

  #onSync(from: string, data: Uint8Array): void {
    if (!this.#running) return;
    let ns: string;
    let type: number;
    let payload: Uint8Array;
    try {
      const d = decoding.createDecoder(data);
      ns = decoding.readVarString(d);
      if (ns.length === 0 || ns.length > MAX_NAMESPACE_LENGTH) throw new Error('namespace length');
      type = decoding.readVarUint(d);
      payload = decoding.readVarUint8Array(d);
      if (decoding.hasContent(d)) throw new Error('trailing bytes');
      // State vectors are checked here; updates are checked by Yjs itself, which
      // reads every struct of an update before integrating any (a malformed
      // one throws first), so a second full decode would only double the cost.
      if (type === syncProtocol.messageYjsSyncStep1) Y.decodeStateVector(payload);
      else if (type !== syncProtocol.messageYjsSyncStep2 && type !== syncProtocol.messageYjsUpdate)
        throw new Error(`unknown sync message type ${type}`);
    } catch (err) {
      this.#malformed(from, err);
      return;
    }
    const space = this.#space(ns, true);
    if (!space) return;
    try {
      if (type === syncProtocol.messageYjsSyncStep1) {
        const theirs = Y.decodeStateVector(payload);
        this.#sendStep2(from, space, theirs);
        const now = this.#init.clock.now();
        space.sent.set(from, {
          upTo: Y.decodeStateVector(Y.encodeStateVector(space.doc)),
          seen: theirs,
          since: now,
          advancedAt: now,
        });
        // They have something we lack: ask for it in the same round.
        if (!stateVectorCovers(Y.decodeStateVector(Y.encodeStateVector(space.doc)), theirs))
          this.#sendStep1(from, space);
      } else {
        const step2 = type === syncProtocol.messageYjsSyncStep2;
        Y.applyUpdate(space.doc, payload, { peer: from, step2 } satisfies RemoteOrigin);
        // Stamped after applying: a large chunk on a busy machine takes a while.
        if (step2 && space.asked?.peer === from) space.asked.lastStep2At = this.#init.clock.now();
      }
    } catch (err) {
      this.#malformed(from, err);
    }
  }

  #onDigest(from: string, data: Uint8Array): void {
    if (!this.#running) return;
    let ns: string;
    let sv: Uint8Array;
    let hash: number;
    let theirs: Map<number, number>;
    try {
      const m = decodeMsgpack(data) as Record<string, unknown>;
      if (typeof m !== 'object' || m === null || m.v !== 1) throw new Error('version');
      if (typeof m.n !== 'string' || m.n.length === 0 || m.n.length > MAX_NAMESPACE_LENGTH)
        throw new Error('namespace');
      if (!(m.s instanceof Uint8Array) || !Number.isInteger(m.h)) throw new Error('digest');
      ns = m.n;
      sv = m.s;
      hash = m.h as number;
      theirs = Y.decodeStateVector(sv);
    } catch (err) {
      this.#malformed(from, err);
      return;
    }
    const space = this.#space(ns, true);
    if (!space) return;
    if (space.asked?.peer === from) space.asked.want = theirs;
    const mine = this.#digest(space);
    const ours = Y.decodeStateVector(mine.stateVector);
    const key = `${from}\u0000${ns}`;
    if (stateVectorCovers(theirs, ours)) space.unconfirmed.delete(from);
    if (stateVectorsEqual(ours, theirs) && mine.deleteSetHash === hash) {
      this.#divergence.delete(key);
      return;
    }
    if (!this.#divergence.has(key)) {
      this.#stats.divergencesFound++;
      this.#divergence.set(key, { peer: from, namespace: ns, since: this.#init.clock.now() });
    }
    // Repair both ways: what they lack (with our whole delete set), and a step 1 for what we lack.
    this.#repair(from, space, theirs, ours);
    if (!stateVectorCovers(ours, theirs)) this.#ask(space, from, theirs);
    else if (mine.deleteSetHash !== hash) this.#sendStep1(from, space);
  }
}

/** Whether `now` holds more than `before` of some client that `target` has and `before` lacked. */
function advancedTowards(
  before: ReadonlyMap<number, number>,
  now: ReadonlyMap<number, number>,
  target: ReadonlyMap<number, number>,
): boolean {
  for (const [client, clock] of target) {
    const was = before.get(client) ?? 0;
    if (was < clock && (now.get(client) ?? 0) > was) return true;
  }
  return false;
}
