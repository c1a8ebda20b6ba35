import { TcpTransport } from '@novacron/amst';
import { streamTransportCompliance } from '@novacron/testkit/compliance/stream-transport';

streamTransportCompliance('tcp (loopback)', {
  setup: () => {
    const t = new TcpTransport();
    return { client: t, server: t, listenAddress: '127.0.0.1:0', unusedAddress: '127.0.0.1:1' };
  },
});
