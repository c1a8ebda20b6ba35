import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRng } from '@novacron/core';
import { blockCodec, loadCodecs } from '@novacron/hde';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Runs a CLI with `input` on stdin and returns stdout (throws with stderr on failure). */
function run(cmd: string, args: string[], input?: Uint8Array): Uint8Array {
  const r = spawnSync(cmd, args, { input, maxBuffer: 256 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

const has = (cmd: string): boolean => spawnSync(cmd, ['--version']).status === 0;

/** A few MiB of mixed content: text, zeros, noise, repeated pages. */
function corpus(): Uint8Array {
  const rng = seededRng('interop');
  const out = new Uint8Array(6 * 1024 * 1024 + 123);
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog 0123456789\n'.repeat(80));
  for (let i = 0; i < out.length; i += 4096) {
    const k = (i >> 12) % 5;
    const n = Math.min(4096, out.length - i);
    if (k === 1) out.set(rng.bytes(n), i);
    else if (k === 2 || k === 3) out.set(text.subarray(0, n), i);
  }
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);

const inputs = [
  { name: 'empty', data: new Uint8Array(0) },
  { name: 'tiny', data: Uint8Array.of(1, 2, 3) },
  { name: 'mixed 6 MiB', data: corpus() },
];

let dir: string;
beforeAll(async () => {
  await loadCodecs();
  dir = mkdtempSync(join(tmpdir(), 'hde-interop-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!has('lz4'))('lz4 CLI interop (skipped: the `lz4` command is not installed)', () => {
  const lz4 = blockCodec('lz4');
  it('our LZ4 frames decode with `lz4 -d`', () => {
    for (const { data } of inputs) same(run('lz4', ['-d', '-c'], lz4.compress(data)), data);
  });
  it('decodes what `lz4` writes: default, linked blocks, block checksums, content size, no checksum', () => {
    for (const { name, data } of inputs) {
      for (const flags of [[], ['-1'], ['-9'], ['-BD'], ['-B4', '-BX'], ['--content-size'], ['--no-frame-crc']]) {
        const file = join(dir, `in-${name.replace(/\W/g, '')}`);
        writeFileSync(file, data);
        // --content-size needs a file to know the size; the rest read stdin.
        const enc = flags.includes('--content-size')
          ? run('lz4', ['-c', ...flags, file])
          : run('lz4', ['-c', ...flags], data);
        same(lz4.decompress(enc, data.length), data);
      }
    }
  });
  it('decodes concatenated frames', () => {
    const a = inputs[2]!.data.subarray(0, 100_000);
    const b = inputs[2]!.data.subarray(100_000, 300_000);
    const both = Buffer.concat([run('lz4', ['-c'], a), run('lz4', ['-c'], b)]);
    same(lz4.decompress(both, a.length + b.length), Buffer.concat([a, b]));
  });
});

describe.skipIf(!has('zstd'))('zstd CLI interop (skipped: the `zstd` command is not installed)', () => {
  it('our zstd frames decode with `zstd -d` at every level', () => {
    for (const id of ['zstd-1', 'zstd-3', 'zstd-19'] as const) {
      const codec = blockCodec(id);
      for (const { data } of id === 'zstd-19' ? inputs.slice(0, 2) : inputs) {
        same(run('zstd', ['-d', '-c', '-q'], codec.compress(data)), data);
      }
    }
  });
  it('decodes `zstd` frames with and without a content size, with and without checksums', () => {
    const zstd = blockCodec('zstd-3');
    for (const { name, data } of inputs) {
      const file = join(dir, `z-${name.replace(/\W/g, '')}`);
      writeFileSync(file, data);
      for (const flags of [['-1'], ['-3'], ['-19'], ['--no-check'], ['-3', '-T2']]) {
        // From a file the CLI records the content size; from a pipe it cannot.
        same(zstd.decompress(run('zstd', ['-c', '-q', ...flags, file]), data.length), data);
        const piped = run('zstd', ['-c', '-q', ...flags], data);
        same(zstd.decompress(piped, data.length), data);
      }
    }
  });
  it('decodes a stdin frame that has no content size (the case zstd-wasm alone cannot)', () => {
    const data = inputs[2]!.data;
    const piped = run('zstd', ['-c', '-q', '-3'], data);
    // Frame header descriptor: content-size flag 0 and not single-segment.
    expect(piped[4]! >> 6).toBe(0);
    same(blockCodec('zstd-1').decompress(piped, data.length), data);
  });
  it('decodes concatenated frames', () => {
    const data = inputs[2]!.data;
    const a = data.subarray(0, 1_000_000);
    const b = data.subarray(1_000_000);
    const both = Buffer.concat([run('zstd', ['-c', '-q'], a), blockCodec('zstd-1').compress(b)]);
    same(blockCodec('zstd-3').decompress(both, data.length), data);
  });
});
