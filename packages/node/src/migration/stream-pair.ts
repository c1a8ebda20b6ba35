import type { Duplex } from '@novacron/core';
import { MemoryTransport } from '@novacron/amst';

/**
 * Two connected in-process {@link Duplex} ends whose each direction holds at
 * most `bufferBytes` (a write resolves only once the reader has made room).
 * The relay hands one end to a provider's migration half and pumps the
 * other over amst, so a stalled path stalls the provider, and QEMU behind
 * it, within `bufferBytes` of slack.
 */
export async function boundedDuplexPair(bufferBytes: number): Promise<[provider: Duplex, relay: Duplex]> {
  const transport = new MemoryTransport({ host: 'relay', bufferBytes });
  let accepted: ((d: Duplex) => void) | undefined;
  const serverEnd = new Promise<Duplex>((resolve) => {
    accepted = resolve;
  });
  const listener = await transport.listen('relay:0', (d) => accepted?.(d));
  try {
    const providerEnd = await transport.dial(listener.address);
    return [providerEnd, await serverEnd];
  } finally {
    await listener.close();
  }
}
