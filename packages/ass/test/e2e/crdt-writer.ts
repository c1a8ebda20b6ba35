// Child process of crdt-kill9.test.ts: a CrdtSync on real files that writes
// `k<i % keys>` = `v<i>` for i = start, start + 1, ... one at a time and
// prints `ack <i>` after each acknowledgement, until it is killed.
// With `verify`, it prints the recovered entries as JSON and exits.
import { FileDurableLog, nodeFileIO, type PeerNetwork, randomSeed, seededRng, systemClock } from '@novacron/core';
import { CrdtSync } from '../../src/index.js';

const [dir, mode, startArg] = process.argv.slice(2);
// A replica without peers: everything it knows comes from its own log.
const alone: PeerNetwork = {
  localId: 'solo',
  maxMessageSize: 1 << 20,
  send: () => undefined,
  handle: () => () => undefined,
};
const sync = new CrdtSync({
  network: alone,
  peers: [],
  clock: systemClock(),
  rng: seededRng(randomSeed()),
  log: new FileDurableLog({ io: nodeFileIO(), dir: dir!, segmentBytes: 16 * 1024 }),
  compactAfter: 100,
  antiEntropyMs: 20,
});
await sync.start();
if (mode === 'verify') {
  const out: Record<string, string> = {};
  for (const [k, e] of sync.entries('ns')) out[k] = new TextDecoder().decode(e.value);
  process.stdout.write(`${JSON.stringify({ entries: out })}\n`);
  await sync.stop();
  process.exit(0);
}
for (let i = Number(startArg); ; i++) {
  await sync.put('ns', `k${i % 50}`, new TextEncoder().encode(`v${i}`));
  process.stdout.write(`ack ${i} ${sync.stats.compactions}\n`);
}
