/**
 * A VM's memory as a sparse set of pages: pages never written read as zero
 * and cost nothing, so a simulated 64 GiB guest is cheap until it is used.
 */
export class PageImage {
  /** Bytes per page. */
  readonly pageSize: number;
  /** Number of pages. */
  readonly pageCount: number;
  readonly #pages = new Map<number, Uint8Array>();

  constructor(pageSize: number, pageCount: number) {
    this.pageSize = pageSize;
    this.pageCount = pageCount;
  }

  /** Bytes held by pages that have been written. */
  get residentBytes(): number {
    return this.#pages.size * this.pageSize;
  }

  /** Copies page `index` into the first `pageSize` bytes of `out`. */
  read(index: number, out: Uint8Array): void {
    const page = this.#pages.get(index);
    if (page) out.set(page);
    else out.fill(0, 0, this.pageSize);
  }

  /** Replaces page `index` with a copy of `data` (`pageSize` bytes). */
  write(index: number, data: Uint8Array): void {
    this.#pages.set(index, data.slice(0, this.pageSize));
  }

  /** What a guest write does to a page: a write counter at the start and a random word inside. */
  stamp(index: number, counter: number, word: number): void {
    let page = this.#pages.get(index);
    if (!page) {
      page = new Uint8Array(this.pageSize);
      this.#pages.set(index, page);
    }
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    view.setUint32(0, counter >>> 0, true);
    view.setUint32(4, Math.floor(counter / 4294967296), true);
    view.setUint32(8 + ((word >>> 0) % ((this.pageSize - 8) / 4)) * 4, word >>> 0, true);
  }

  /** A deep copy. */
  clone(): PageImage {
    const copy = new PageImage(this.pageSize, this.pageCount);
    for (const [i, p] of this.#pages) copy.#pages.set(i, p.slice());
    return copy;
  }

  /** True when both images hold the same bytes in every page. */
  equals(other: PageImage): boolean {
    if (other.pageSize !== this.pageSize || other.pageCount !== this.pageCount) return false;
    const a = new Uint8Array(this.pageSize);
    const b = new Uint8Array(this.pageSize);
    for (const i of new Set([...this.#pages.keys(), ...other.#pages.keys()])) {
      this.read(i, a);
      other.read(i, b);
      for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
    }
    return true;
  }
}
