import {
  AmstReceiver,
  type AmstReceiverOptions,
  type SendTransferOptions,
  memorySink,
  sendTransfer,
} from '@novacron/amst';
import { SimStreams, type SimWorld, simRun } from '@novacron/testkit';

/** A sender node `a` and a receiver node `b` on simulated TCP streams. */
export function simPair(
  world: SimWorld,
  path: Record<string, number> = {},
  mss = 16 * 1024,
  receiverOptions: Partial<AmstReceiverOptions> = {},
) {
  world.addNode('a');
  world.addNode('b');
  const streams = new SimStreams(world, { path, tcp: { mss } });
  const sinks: ReturnType<typeof memorySink>[] = [];
  const receiver = new AmstReceiver({
    transport: streams.transport('b'),
    listenAddress: 'b:0',
    clock: world.node('b').clock,
    onTransfer: () => {
      const s = memorySink();
      sinks.push(s);
      return s;
    },
    ...receiverOptions,
  });
  return { streams, receiver, sinks };
}

/** Runs one transfer from a to b in virtual time. */
export async function simTransfer(
  world: SimWorld,
  pair: ReturnType<typeof simPair>,
  options: Omit<SendTransferOptions, 'transport' | 'address'> & { transport?: SendTransferOptions['transport'] },
  limitMs = 3_600_000,
) {
  return simRun(
    world,
    (async () => {
      await pair.receiver.start();
      const result = await sendTransfer({
        address: pair.receiver.address!,
        clock: world.node('a').clock,
        rng: world.node('a').rng.fork('amst'),
        ...options,
        transport: options.transport ?? pair.streams.transport('a'),
      });
      return result;
    })(),
    limitMs,
  );
}
