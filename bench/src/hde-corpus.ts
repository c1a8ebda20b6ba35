/**
 * Deterministic corpus for the hde benchmark and the selector's training:
 * a memory image of 4 KiB pages with a pinned mix (20% zero pages, 10%
 * random pages, 70% pages cut from real files under /usr: shared libraries,
 * binaries, text), and the derived images of issue #4 (memA, memC, diskB).
 *
 * The files under /usr differ between machines, so callers record the
 * corpus hash with their results. The same seed on the same machine gives
 * the same bytes.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Rng, seededRng } from '@novacron/core';

export const PAGE = 4096;

/** Regular files of at least 64 KiB under `roots`, sorted, so the list is stable on a machine. */
function sourceFiles(roots: string[], limit: number): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (out.length >= limit || depth > 4) return;
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (out.length >= limit) return;
      const p = join(dir, n);
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, depth + 1);
      else if (st.isFile() && st.size >= 65_536) out.push(p);
    }
  };
  for (const r of roots) walk(r, 0);
  return out;
}

/** Source of real-file pages: libraries, binaries and text. */
class FilePages {
  readonly #files: { path: string; size: number }[];
  constructor() {
    const libs = sourceFiles(['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'], 400);
    const bins = sourceFiles(['/usr/bin', '/usr/sbin'], 300);
    const text = sourceFiles(['/usr/share/doc', '/usr/share/common-licenses', '/usr/include', '/usr/share/perl'], 300);
    this.#files = [...libs, ...bins, ...text].map((path) => ({ path, size: statSync(path).size }));
    if (this.#files.length === 0) throw new Error('no files under /usr to build the corpus from');
  }
  /** Copies `n` consecutive pages from a random file at a random page offset into `out` at `at`. */
  fill(rng: Rng, out: Uint8Array, at: number, n: number): void {
    const f = this.#files[rng.int(0, this.#files.length - 1)]!;
    const pages = Math.floor(f.size / PAGE);
    const start = rng.int(0, Math.max(0, pages - n)) * PAGE;
    const fd = openSync(f.path, 'r');
    try {
      const got = readSync(fd, out, at, Math.min(n * PAGE, f.size - start), start);
      if (got < n * PAGE) out.fill(0x20, at + got, at + n * PAGE);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * The `mem` image: runs of 1-16 pages of one kind, so files keep their
 * locality as in a real guest's page cache. Kind shares are pinned by pages.
 */
export function generateMem(bytes: number, seed: string): Uint8Array {
  const rng = seededRng(seed);
  const files = new FilePages();
  const pages = Math.floor(bytes / PAGE);
  const out = new Uint8Array(pages * PAGE);
  // Exact shares: shuffle a list of kinds run by run.
  const kinds: number[] = [];
  let zero = Math.round(pages * 0.2);
  let random = Math.round(pages * 0.1);
  let file = pages - zero - random;
  let p = 0;
  while (p < pages) {
    const left = zero + random + file;
    const r = rng.int(0, left - 1);
    const kind = r < zero ? 0 : r < zero + random ? 1 : 2;
    const avail = kind === 0 ? zero : kind === 1 ? random : file;
    const run = Math.min(avail, rng.int(1, 16), pages - p);
    for (let i = 0; i < run; i++) kinds.push(kind);
    if (kind === 0) zero -= run;
    else if (kind === 1) {
      random -= run;
      out.set(rng.bytes(run * PAGE), p * PAGE);
    } else {
      file -= run;
      files.fill(rng, out, p * PAGE, run);
    }
    p += run;
  }
  return out;
}

/** `share` of the pages, chosen at random, each get `n` random bytes at a random place. */
export function dirtyPages(mem: Uint8Array, share: number, n: number, seed: string): Uint8Array {
  const rng = seededRng(seed);
  const out = mem.slice();
  const pages = mem.length / PAGE;
  const count = Math.round(pages * share);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(rng.int(0, pages - 1));
  for (const p of chosen) out.set(rng.bytes(n), p * PAGE + rng.int(0, PAGE - n));
  return out;
}

/** `diskB`: `memA` with a 100-byte insertion at 10 MiB and a 50-byte deletion at 40 MiB (scaled to the image). */
export function diskFrom(memA: Uint8Array, seed: string): Uint8Array {
  const rng = seededRng(seed);
  const scale = memA.length / (256 * 1024 * 1024);
  const ins = Math.floor(10 * 1024 * 1024 * scale);
  const del = Math.floor(40 * 1024 * 1024 * scale);
  const insert = rng.bytes(100);
  const out = new Uint8Array(memA.length + 100 - 50);
  out.set(memA.subarray(0, ins), 0);
  out.set(insert, ins);
  out.set(memA.subarray(ins, del), ins + 100);
  out.set(memA.subarray(del + 50), del + 100);
  return out;
}
