import { join } from 'node:path';
import {
  type FileHandle,
  type FileIO,
  type NodeIdentity,
  NovacronError,
  assertObject,
  assertString,
  atomicWriteFile,
  encodeCanonical,
  fromHex,
  strongHashHex,
  toHex,
  verifySignature,
} from '@novacron/core';
import { SecurityErrorCode } from './security-errors.js';

/** Version of the audit record layout (docs/security.md, "Audit log"). */
export const AUDIT_RECORD_VERSION = 1;
/** The `prev` of the first record: 64 zeros. */
export const AUDIT_GENESIS = '0'.repeat(64);

/** What an audit record says happened. */
export interface AuditEvent {
  /** Who did it: a token id, a node id, `cli`, `system`. Never a secret. */
  readonly actor: string;
  /** What was done, e.g. `vm.create`, `member.add`, `token.issue`. */
  readonly action: string;
  /** What it was done to (a VM id, a node id), if anything. */
  readonly target?: string;
  /** The outcome: `ok`, or an error code. */
  readonly outcome: string;
  /** Further non-secret fields (plain JSON values). */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

/** One record as stored: the event, its place in the chain, and its hash. */
export interface AuditRecord extends AuditEvent {
  readonly v: number;
  /** 1, 2, 3, ... with no gaps. */
  readonly seq: number;
  /** Wall-clock time, ms since the epoch. */
  readonly time: number;
  /** Hash of the previous record ({@link AUDIT_GENESIS} for the first). */
  readonly prev: string;
  /** SHA-256 (hex) of the canonical encoding of every field above. */
  readonly hash: string;
  /** Ed25519 signature (hex) of `hash` by the node, when the log has an identity. */
  readonly sig?: string;
}

/**
 * The last record's place and hash, signed by the node: kept beside the log
 * and meant to be copied somewhere the log's writer cannot rewrite (the
 * cluster's control log, an operator's machine). A chain alone cannot show
 * that records were cut from its end; a head can.
 */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
  /** Ed25519 signature (hex) of `seq:hash` by `signer`, when the log has an identity. */
  readonly signature?: string;
  /** Public key (hex) of the signer. */
  readonly signer?: string;
}

/** Options of {@link AuditLog.open}. */
export interface AuditLogOptions {
  /** The file system (core's `nodeFileIO()`, or testkit's simulated ones). */
  readonly io: FileIO;
  /** Directory holding `audit.log` and `audit.head`; must exist. */
  readonly dir: string;
  /** Signs the head (recommended): a forged head then needs the node's key. */
  readonly identity?: NodeIdentity;
  /** Wall clock (default `Date.now`). */
  readonly wallClock?: () => number;
}

const LOG_FILE = 'audit.log';
const HEAD_FILE = 'audit.head';

function hashOf(record: Omit<AuditRecord, 'hash'>): string {
  // Canonical MessagePack of the fields, so a reformatted JSON line still verifies and an edited one cannot.
  return strongHashHex(encodeCanonical(stripUndefined(record)));
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const headMessage = (seq: number, hash: string) => new TextEncoder().encode(`novacron-audit-head:${seq}:${hash}`);

/**
 * An append-only, hash-chained audit log: every mutating API call and
 * membership change is appended as one JSON line whose hash covers the
 * previous record's hash, so editing, removing or reordering any record
 * breaks the chain at that point, and cutting records from the end
 * contradicts the signed head. Appends are group-committed: concurrent
 * appends share one write and one fdatasync, and `append` resolves only
 * once its record is durable.
 */
export class AuditLog {
  private last: { seq: number; hash: string };
  /** The newest record handed out, durable or still being written: the next append chains to it. */
  private tip: { seq: number; hash: string };
  private queue: { record: AuditRecord; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private offset: number;
  private failure: unknown;

  private constructor(
    private readonly options: AuditLogOptions,
    private readonly handle: FileHandle,
    last: { seq: number; hash: string },
    offset: number,
  ) {
    this.last = last;
    this.tip = last;
    this.offset = offset;
  }

  /**
   * Opens (or creates) the log in `options.dir`, verifying it first:
   * `NODE_AUDIT_TAMPERED` when the chain or the head does not hold, so a
   * node never appends to a log that was tampered with.
   */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    assertObject('options', options);
    assertString('options.dir', options.dir, { nonEmpty: true });
    const report = await verifyAuditLog(options.io, options.dir);
    if (!report.ok) {
      // A crash between the log's fsync and the head's rename leaves the log ahead of its head. Accept
      // that only when every record past the head carries this node's signature: anyone can chain
      // unkeyed hashes, only the node can sign.
      const pk = options.identity?.publicKey;
      const behind = report.problem?.kind === 'head-behind' && pk !== undefined;
      if (!behind || !report.pastHead.every((r) => recordSignedBy(r, pk))) throw tampered(report);
    }
    const handle = await options.io.open(join(options.dir, LOG_FILE), 'a', 0o600);
    const size = await handle.size();
    const log = new AuditLog(options, handle, { seq: report.records, hash: report.headHash }, size);
    if (!report.ok) await log.writeHead();
    return log;
  }

  /** The head as of the last durable append. */
  head(): AuditHead {
    return this.signHead(this.last.seq, this.last.hash);
  }

  private signHead(seq: number, hash: string): AuditHead {
    const id = this.options.identity;
    if (id === undefined) return { seq, hash };
    return { seq, hash, signature: toHex(id.sign(headMessage(seq, hash))), signer: toHex(id.publicKey) };
  }

  /** Appends one event; resolves once it is on disk (with the head updated). Returns the stored record. */
  append(event: AuditEvent): Promise<AuditRecord> {
    assertObject('event', event);
    assertString('event.actor', event.actor, { nonEmpty: true });
    assertString('event.action', event.action, { nonEmpty: true });
    assertString('event.outcome', event.outcome, { nonEmpty: true });
    if (this.failure !== undefined) return Promise.reject(this.failure);
    // Chain to the tip, not to what is durable: records of a batch being written are not in the queue any more.
    const seq = this.tip.seq + 1;
    const prev = this.tip.hash;
    const body = stripUndefined({
      v: AUDIT_RECORD_VERSION,
      seq,
      time: Math.floor((this.options.wallClock ?? Date.now)()),
      actor: event.actor,
      action: event.action,
      target: event.target,
      outcome: event.outcome,
      details: event.details,
      prev,
    });
    const hash = hashOf(body);
    const id = this.options.identity;
    const record: AuditRecord = { ...body, hash, ...(id ? { sig: toHex(id.sign(fromHex(hash))) } : {}) };
    this.tip = { seq, hash };
    return new Promise<AuditRecord>((resolve, reject) => {
      this.queue.push({ record, resolve: () => resolve(record), reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    // Let appends issued in the same turn join this batch.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        const bytes = new TextEncoder().encode(batch.map((b) => `${JSON.stringify(b.record)}\n`).join(''));
        await this.handle.write(bytes, this.offset);
        await this.handle.datasync();
        this.offset += bytes.length;
        const tail = batch[batch.length - 1]!.record;
        this.last = { seq: tail.seq, hash: tail.hash };
        await this.writeHead();
        for (const b of batch) b.resolve();
      } catch (err) {
        // The chain must not continue past a record whose durability is unknown.
        // Every appender hears of the failure; the log refuses further appends until reopened.
        this.failure = err;
        for (const b of [...batch, ...this.queue]) b.reject(err);
        this.queue = [];
        this.flushing = undefined;
        return;
      }
    }
    this.flushing = undefined;
  }

  private writeHead(): Promise<void> {
    return atomicWriteFile(
      this.options.io,
      join(this.options.dir, HEAD_FILE),
      new TextEncoder().encode(`${JSON.stringify(this.head())}\n`),
      { mode: 0o600 },
    );
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    await this.flushing?.catch(() => {});
    await this.handle.close();
  }
}

/** Result of {@link verifyAuditLog}. */
export interface AuditVerification {
  /** True when every record chains to the previous one and the head matches the last. */
  readonly ok: boolean;
  /** Records that verified (the whole log when `ok`). */
  readonly records: number;
  /** Hash of the last verified record. */
  readonly headHash: string;
  /** Records after the one the head names (problem `head-behind`): a crash before the head update, or forged records. */
  readonly pastHead: readonly AuditRecord[];
  /** The first problem found, if any. */
  readonly problem?: {
    readonly kind:
      | 'malformed'
      | 'hash-mismatch'
      | 'chain-broken'
      | 'sequence-gap'
      | 'record-signature'
      | 'head-mismatch'
      | 'head-behind'
      | 'head-signature';
    /** 1-based line number in `audit.log` (0 for the head file). */
    readonly line: number;
    readonly message: string;
  };
}

/**
 * Verifies the audit log in `dir` (what `novacron audit verify` runs): each
 * line must parse, carry the hash of its own canonical fields, name the
 * previous record's hash and the next sequence number; the head file must
 * name the last record (a log cut short, or extended without the node, fails
 * here) and, when signed, carry a valid signature — by `expectedSigner`
 * (public key hex) when given. An absent log with no head verifies as empty.
 */
export async function verifyAuditLog(
  io: FileIO,
  dir: string,
  options: { readonly expectedSigner?: string; readonly anchor?: AuditHead } = {},
): Promise<AuditVerification> {
  const logPath = join(dir, LOG_FILE);
  const headPath = join(dir, HEAD_FILE);
  const text = (await io.stat(logPath)) ? new TextDecoder().decode(await io.readFile(logPath)) : '';
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let prev = AUDIT_GENESIS;
  let n = 0;
  const records: AuditRecord[] = [];
  let pastHead: AuditRecord[] = [];
  const fail = (kind: NonNullable<AuditVerification['problem']>['kind'], line: number, message: string) => ({
    ok: false,
    records: n,
    headHash: prev,
    pastHead,
    problem: { kind, line, message },
  });
  const signer = options.expectedSigner === undefined ? undefined : fromHexOrEmpty(options.expectedSigner);
  for (const [i, line] of lines.entries()) {
    let r: AuditRecord;
    try {
      r = JSON.parse(line) as AuditRecord;
      if (typeof r !== 'object' || r === null || typeof r.hash !== 'string' || typeof r.seq !== 'number')
        throw new Error('not an audit record');
    } catch (err) {
      return fail('malformed', i + 1, `line ${i + 1} is not an audit record: ${(err as Error).message}`);
    }
    const { hash, sig: _sig, ...body } = r;
    if (hashOf(body) !== hash)
      return fail('hash-mismatch', i + 1, `record ${r.seq} was edited (its hash does not match)`);
    if (r.seq !== n + 1)
      return fail('sequence-gap', i + 1, `record ${r.seq} follows record ${n}: records were removed or reordered`);
    if (r.prev !== prev)
      return fail(
        'chain-broken',
        i + 1,
        `record ${r.seq} does not chain to record ${n}: records were removed or reordered`,
      );
    if (signer !== undefined && !recordSignedBy(r, signer))
      return fail('record-signature', i + 1, `record ${r.seq} is not signed by the expected node`);
    prev = hash;
    n++;
    records.push(r);
  }
  const headStat = await io.stat(headPath);
  if (headStat === undefined) {
    if (n === 0 && options.anchor === undefined) return { ok: true, records: 0, headHash: prev, pastHead };
    return fail('head-mismatch', 0, 'audit.head is missing');
  }
  let head: AuditHead;
  try {
    head = JSON.parse(new TextDecoder().decode(await io.readFile(headPath))) as AuditHead;
  } catch {
    return fail('head-mismatch', 0, 'audit.head is not valid JSON');
  }
  if (typeof head.seq !== 'number' || !Number.isInteger(head.seq) || head.seq < 0)
    return fail('head-mismatch', 0, 'audit.head is not an audit head');
  const headRecordHash = head.seq === 0 ? AUDIT_GENESIS : records[head.seq - 1]?.hash;
  if (head.seq > n || headRecordHash !== head.hash)
    return fail(
      'head-mismatch',
      0,
      `audit.head names record ${head.seq}, the log ends at record ${n}: the log was cut or rewritten`,
    );
  if (head.signature !== undefined || options.expectedSigner !== undefined) {
    const signer = head.signer ?? '';
    let valid = false;
    try {
      valid =
        (options.expectedSigner === undefined || options.expectedSigner === signer) &&
        verifySignature(fromHex(signer), headMessage(head.seq, head.hash), fromHex(head.signature ?? ''));
    } catch {
      valid = false;
    }
    if (!valid) return fail('head-signature', 0, 'audit.head signature is missing or invalid');
  }
  if (options.anchor !== undefined) {
    // An anchor copied elsewhere earlier must still be a record of this log, unchanged.
    const a = options.anchor;
    if (a.seq > n) return fail('head-mismatch', 0, `the anchored head names record ${a.seq}, the log ends at ${n}`);
    const at = a.seq === 0 ? AUDIT_GENESIS : records[a.seq - 1]!.hash;
    if (at !== a.hash) return fail('head-mismatch', 0, `record ${a.seq} differs from the anchored head`);
  }
  if (head.seq < n) {
    pastHead = records.slice(head.seq);
    return fail('head-behind', head.seq + 1, `the log has ${n - head.seq} record(s) after the one audit.head names`);
  }
  return { ok: true, records: n, headHash: prev, pastHead };
}

function fromHexOrEmpty(hex: string): Uint8Array {
  try {
    return fromHex(hex);
  } catch {
    return new Uint8Array(0);
  }
}

function recordSignedBy(r: AuditRecord, publicKey: Uint8Array): boolean {
  try {
    return typeof r.sig === 'string' && verifySignature(publicKey, fromHex(r.hash), fromHex(r.sig));
  } catch {
    return false;
  }
}

function tampered(report: AuditVerification): NovacronError {
  return new NovacronError(
    SecurityErrorCode.AUDIT_TAMPERED,
    `audit log failed verification: ${report.problem?.message}`,
    {
      details: { ...report.problem, records: report.records },
    },
  );
}
