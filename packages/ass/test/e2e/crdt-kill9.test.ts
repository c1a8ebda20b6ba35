import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const child = join(here, 'crdt-writer.ts');

function run(dir: string, mode: 'write' | 'verify', start = 0): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', child, dir, mode, String(start)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

describe('CrdtSync on real files under kill -9', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged write across SIGKILLs mid-write and mid-compaction', async () => {
    dir = await mkdtemp(join(tmpdir(), 'novacron-ass-kill9-'));
    // Per key, the highest acknowledged i.
    const acked = new Map<string, number>();
    let next = 0;
    let compactions = 0;
    for (let round = 0; round < 3; round++) {
      const p = run(dir, 'write', next);
      let buf = '';
      let count = 0;
      await new Promise<void>((done, fail) => {
        p.on('error', fail);
        p.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          let nl = buf.indexOf('\n');
          while (nl >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            const [tag, n, c] = line.split(' ');
            if (tag === 'ack') {
              const i = Number(n);
              acked.set(`k${i % 50}`, i);
              next = i + 1;
              compactions = Math.max(compactions, Number(c));
              // Kill at a different depth each round, while the child is mid-stream.
              if (++count === 300 + round * 250) p.kill('SIGKILL');
            }
            nl = buf.indexOf('\n');
          }
        });
        p.on('exit', () => done());
      });
      next += 1000; // unacknowledged writes in flight used the numbers just after the last ack
    }
    expect(compactions).toBeGreaterThan(0);
    const v = run(dir, 'verify');
    let out = '';
    v.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await new Promise<void>((done) => v.on('exit', () => done()));
    const entries = (JSON.parse(out) as { entries: Record<string, string> }).entries;
    for (const [key, i] of acked) {
      const got = Number(entries[key]?.slice(1));
      // The acknowledged write or a later one to the same key (written but killed before its ack).
      expect(got, `key ${key}`).toBeGreaterThanOrEqual(i);
    }
  }, 120_000);
});
