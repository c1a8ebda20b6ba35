/**
 * One end of an amst transfer as its own process, for the tests that run
 * each end in its own network namespace behind the WAN emulator (a process
 * cannot switch namespaces per socket). Not a test file itself.
 *
 *   wan-peer.ts recv <host:port>             prints "listening", then one JSON line per finished transfer
 *   wan-peer.ts send <host:port> <bytes> <lanes|adaptive>   prints the result and the SHA-256 sent
 */
import { createHash, randomBytes } from 'node:crypto';
import { AmstReceiver, TcpTransport, sendTransfer } from '@novacron/amst';

const [mode, address, size, lanes] = process.argv.slice(2);
const tcp = new TcpTransport();
if (mode === 'recv') {
  const receiver: AmstReceiver = new AmstReceiver({
    transport: tcp,
    listenAddress: address!,
    mode: 'internet',
    onTransfer: (t) => {
      const hash = createHash('sha256');
      return {
        write: async (d) => {
          hash.update(d);
        },
        close: async () => {
          const duplicateChunks = receiver.transferStats(t.transferId)?.duplicateChunks;
          console.log(JSON.stringify({ sha256: hash.digest('hex'), duplicateChunks }));
        },
      };
    },
  });
  await receiver.start();
  console.log('listening');
} else {
  const data = new Uint8Array(randomBytes(Number(size)));
  const result = await sendTransfer({
    transport: tcp,
    address: address!,
    source: data,
    lanes: lanes === 'adaptive' ? 'adaptive' : Number(lanes),
    mode: 'internet',
    signal: AbortSignal.timeout(120_000),
  });
  console.log(JSON.stringify({ result, sha256: createHash('sha256').update(data).digest('hex') }));
  process.exit(0);
}
