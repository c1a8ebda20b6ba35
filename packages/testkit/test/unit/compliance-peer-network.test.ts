import { type LinkConfig, SimNetwork, SimWorld } from '@novacron/testkit';
import { peerNetworkCompliance } from '@novacron/testkit/compliance/peer-network';

function simFixture(defaults: Partial<LinkConfig>, reliable = true) {
  return () => {
    const world = new SimWorld({ seed: 'compliance' });
    const net = new SimNetwork(world, { defaults, maxMessageSize: 64 * 1024 });
    const peers = ['a', 'b', 'c'].map((id) => {
      world.addNode(id);
      return net.endpoint(id);
    });
    return { peers, reliable, settle: () => world.runFor(10) };
  };
}

peerNetworkCompliance('SimNetwork (default links)', { setup: simFixture({}) });
peerNetworkCompliance('SimNetwork (jitter, duplication, reordering, 1 MB/s)', {
  setup: simFixture({ latencyMs: 5, jitterMs: 20, duplicate: 0.2, reorder: 0.2, bytesPerSecond: 1_000_000 }),
});
peerNetworkCompliance('SimNetwork (20% loss)', { setup: simFixture({ latencyMs: 2, loss: 0.2 }, false) });
