import { streamTransportCompliance } from '@novacron/testkit/compliance/stream-transport';
import { SimStreams, SimWorld, simRun } from '@novacron/testkit';

// Once with a clean datacenter-like path, once with a long lossy one: the contract holds on both.
for (const [label, path] of [
  ['sim (clean path)', {}],
  ['sim (50 ms RTT, 1% loss)', { latencyMs: 25, loss: 0.01, bytesPerSecond: 12.5e6, queueBytes: 1e6 }],
] as const) {
  streamTransportCompliance(label, {
    setup: () => {
      const world = new SimWorld({ seed: `compliance:${label}` });
      world.addNode('a');
      world.addNode('b');
      const streams = new SimStreams(world, { path, tcp: { mss: 16 * 1024 } });
      return {
        client: streams.transport('a'),
        server: streams.transport('b'),
        listenAddress: 'b:0',
        unusedAddress: 'b:9',
        clock: world.clock,
        run: (scenario) => simRun(world, scenario, 3_600_000),
      };
    },
  });
}
