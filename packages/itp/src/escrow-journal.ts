import {
  addResources,
  type CapacityLedger,
  CoreErrorCode,
  checksum32,
  type FileHandle,
  type FileIO,
  fitsWithin,
  NovacronError,
  type ResourceVector,
  subtractResources,
  validateResourceVector,
  ZERO_RESOURCES,
} from '@novacron/core';
import { ItpErrorCode } from './errors.js';

/** One journal record. */
type EscrowRecord =
  | { readonly seq: number; readonly op: 'grant'; readonly hostId: string; readonly resources: ResourceVector }
  | {
      readonly seq: number;
      readonly op: 'consume';
      readonly vmId: string;
      readonly hostId: string;
      readonly resources: ResourceVector;
    }
  | { readonly seq: number; readonly op: 'release'; readonly vmId: string }
  | { readonly seq: number; readonly op: 'ack'; readonly of: number };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Options of {@link EscrowSite.open}. */
export interface EscrowSiteInit {
  /** Site name, as used in the ledger's escrow grants. */
  readonly site: string;
  /** File system holding the journal. */
  readonly io: FileIO;
  /** Journal file path. */
  readonly path: string;
}

/**
 * A site's durable record of its escrow while it may be cut off from the
 * consensus log. While online the site records what the ledger granted it
 * (`recordGrant`, after `ledger.grantEscrow` committed). While cut off it
 * places only onto that escrow: `consume` checks the local remainder and
 * appends a record, fsync'd before it returns, so a crash never forgets
 * capacity the site handed out. When the log is reachable again,
 * `reconcile` replays unacknowledged records into the ledger (a consume as
 * reserve + commit on the site's escrow, a release as a release) and
 * acknowledges each. Ordering keeps every crash window on the safe side: a
 * consume is applied before its ack (a crash replays it, over-counting use),
 * a release is acked before it is applied (a crash loses it, leaking
 * capacity) — neither can overcommit a host.
 *
 * Format: one record per line, `crc32hex TAB json`. On open, a torn or
 * corrupt tail (from a crash mid-append) is truncated at the first bad
 * line.
 */
export class EscrowSite {
  readonly site: string;
  readonly #io: FileIO;
  readonly #path: string;
  #fh: FileHandle | undefined;
  #size = 0;
  #seq = 0;
  readonly #granted = new Map<string, ResourceVector>();
  readonly #consumed = new Map<string, ResourceVector>();
  readonly #vms = new Map<string, { hostId: string; resources: ResourceVector }>();
  readonly #pending: EscrowRecord[] = [];
  /** Every VM ever placed on escrow → its claim (a release needs the amount after the VM is gone). */
  readonly #history = new Map<string, { hostId: string; resources: ResourceVector }>();

  private constructor(init: EscrowSiteInit) {
    this.site = init.site;
    this.#io = init.io;
    this.#path = init.path;
  }

  /** Opens (or creates) the journal and rebuilds the site's escrow state from it. */
  static async open(init: EscrowSiteInit): Promise<EscrowSite> {
    const s = new EscrowSite(init);
    await s.#load();
    return s;
  }

  async #load(): Promise<void> {
    const exists = await this.#io.stat(this.#path);
    const bytes = exists ? await this.#io.readFile(this.#path) : new Uint8Array(0);
    let good = 0;
    const records: EscrowRecord[] = [];
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(0x0a, start);
      if (nl < 0) break; // torn tail
      const line = bytes.subarray(start, nl);
      const tab = line.indexOf(0x09);
      if (tab !== 8) break;
      const body = line.subarray(9);
      if (Number.parseInt(dec.decode(line.subarray(0, 8)), 16) !== checksum32(body)) break;
      let rec: EscrowRecord;
      try {
        rec = JSON.parse(dec.decode(body)) as EscrowRecord;
      } catch (err) {
        throw new NovacronError(
          ItpErrorCode.ESCROW_JOURNAL_CORRUPT,
          `escrow journal ${this.#path}: record at byte ${start} is not JSON`,
          {
            details: { path: this.#path, offset: start },
            cause: err,
          },
        );
      }
      records.push(rec);
      start = nl + 1;
      good = start;
    }
    this.#fh = await this.#io.open(this.#path, exists ? 'r+' : 'w');
    if (!exists) {
      // A new file's name is durable only once its directory is synced.
      await this.#fh.sync();
      const slash = this.#path.lastIndexOf('/');
      await this.#io.syncDir(slash > 0 ? this.#path.slice(0, slash) : slash === 0 ? '/' : '.');
    }
    if (good < bytes.length) {
      await this.#fh.truncate(good);
      await this.#fh.sync();
    }
    this.#size = good;
    const acked = new Set<number>();
    for (const r of records) if (r.op === 'ack') acked.add(r.of);
    for (const r of records) {
      this.#seq = Math.max(this.#seq, r.seq);
      this.#apply(r);
      if ((r.op === 'consume' || r.op === 'release') && !acked.has(r.seq)) this.#pending.push(r);
    }
  }

  #apply(r: EscrowRecord): void {
    switch (r.op) {
      case 'grant':
        this.#granted.set(r.hostId, addResources(this.#granted.get(r.hostId) ?? ZERO_RESOURCES, r.resources));
        break;
      case 'consume':
        this.#consumed.set(r.hostId, addResources(this.#consumed.get(r.hostId) ?? ZERO_RESOURCES, r.resources));
        this.#vms.set(r.vmId, { hostId: r.hostId, resources: r.resources });
        this.#history.set(r.vmId, { hostId: r.hostId, resources: r.resources });
        break;
      case 'release': {
        const vm = this.#vms.get(r.vmId);
        if (vm) {
          this.#consumed.set(vm.hostId, subtractResources(this.#consumed.get(vm.hostId)!, vm.resources));
          this.#vms.delete(r.vmId);
        }
        break;
      }
      case 'ack':
        break;
      default:
        throw new NovacronError(
          ItpErrorCode.ESCROW_JOURNAL_CORRUPT,
          `escrow journal ${this.#path}: unknown record kind`,
          {
            details: { path: this.#path },
          },
        );
    }
  }

  async #append(r: EscrowRecord): Promise<void> {
    const body = enc.encode(JSON.stringify(r));
    const head = enc.encode(`${checksum32(body).toString(16).padStart(8, '0')}\t`);
    const line = new Uint8Array(head.length + body.length + 1);
    line.set(head);
    line.set(body, head.length);
    line[line.length - 1] = 0x0a;
    await this.#fh!.write(line, this.#size);
    await this.#fh!.sync();
    this.#size += line.length;
  }

  /** Escrow the journal records as granted to this site on `hostId` (consumed or not). */
  granted(hostId: string): ResourceVector {
    return this.#granted.get(hostId) ?? ZERO_RESOURCES;
  }

  /** Ids of the VMs currently placed on this site's escrow. */
  vmIds(): string[] {
    return [...this.#vms.keys()];
  }

  /** Escrow granted to this site on `hostId` and not consumed. */
  remaining(hostId: string): ResourceVector {
    return subtractResources(this.#granted.get(hostId) ?? ZERO_RESOURCES, this.#consumed.get(hostId) ?? ZERO_RESOURCES);
  }

  /** Records escrow the ledger granted this site (call after `ledger.grantEscrow` committed). */
  async recordGrant(hostId: string, resources: ResourceVector): Promise<void> {
    validateResourceVector('resources', resources);
    const r: EscrowRecord = { seq: ++this.#seq, op: 'grant', hostId, resources };
    await this.#append(r);
    this.#apply(r);
  }

  /** Places a VM onto this site's escrow, durably; throws `CORE_LEDGER_INSUFFICIENT` when it does not fit. */
  async consume(vmId: string, hostId: string, resources: ResourceVector): Promise<void> {
    validateResourceVector('resources', resources);
    if (this.#vms.has(vmId))
      throw new NovacronError(ItpErrorCode.DUPLICATE_ID, `VM ${vmId} already consumes escrow`, { details: { vmId } });
    if (!fitsWithin(resources, this.remaining(hostId)))
      throw new NovacronError(
        CoreErrorCode.LEDGER_INSUFFICIENT,
        `site ${this.site} has not enough escrow on ${hostId}`,
        {
          details: { hostId, site: this.site },
        },
      );
    const r: EscrowRecord = { seq: ++this.#seq, op: 'consume', vmId, hostId, resources };
    await this.#append(r);
    this.#apply(r);
    this.#pending.push(r);
  }

  /** Records that a VM placed on escrow has gone, durably. */
  async release(vmId: string): Promise<void> {
    if (!this.#vms.has(vmId))
      throw new NovacronError(ItpErrorCode.UNKNOWN_VM, `VM ${vmId} holds no escrow here`, { details: { vmId } });
    const r: EscrowRecord = { seq: ++this.#seq, op: 'release', vmId };
    await this.#append(r);
    this.#apply(r);
    this.#pending.push(r);
  }

  /** Records not yet reconciled into the ledger. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Replays unreconciled consumes and releases into `ledger` in order and
   * acknowledges each (see the class comment for the crash-safe order).
   * Returns how many records were reconciled.
   */
  async reconcile(ledger: CapacityLedger, options: { readonly ttlMs: number } = { ttlMs: 60_000 }): Promise<number> {
    let n = 0;
    while (this.#pending.length > 0) {
      const r = this.#pending[0]!;
      if (r.op === 'consume') {
        const res = await ledger.reserve([{ hostId: r.hostId, resources: r.resources }], {
          ttlMs: options.ttlMs,
          site: this.site,
        });
        await ledger.commit(res.id);
        await this.#append({ seq: ++this.#seq, op: 'ack', of: r.seq });
      } else if (r.op === 'release') {
        const consumed = this.#history.get(r.vmId);
        await this.#append({ seq: ++this.#seq, op: 'ack', of: r.seq });
        if (consumed) await ledger.release([consumed], { site: this.site });
      }
      this.#pending.shift();
      n++;
    }
    return n;
  }

  /** Closes the journal file. */
  async close(): Promise<void> {
    await this.#fh?.close();
    this.#fh = undefined;
  }
}
