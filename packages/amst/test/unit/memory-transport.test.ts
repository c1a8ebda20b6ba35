import { MemoryTransport } from '@novacron/amst';
import { streamTransportCompliance } from '@novacron/testkit/compliance/stream-transport';

streamTransportCompliance('memory', {
  setup: () => {
    const t = new MemoryTransport();
    return { client: t, server: t, listenAddress: 'mem:0', unusedAddress: 'mem:9999' };
  },
});
