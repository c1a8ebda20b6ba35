import { ManualClock, systemClock } from '@novacron/core';
import { SimWorld } from '@novacron/testkit';
import { clockCompliance } from '@novacron/testkit/compliance/clock';

clockCompliance('ManualClock', {
  setup: () => {
    const clock = new ManualClock(1000);
    return { clock, advance: (ms) => clock.advanceAsync(ms), toleranceMs: 0 };
  },
});

clockCompliance('SimWorld.clock', {
  setup: () => {
    const world = new SimWorld({ seed: 1 });
    return { clock: world.clock, advance: (ms) => world.runFor(ms), toleranceMs: 0 };
  },
});

clockCompliance('SimNode.clock', {
  setup: () => {
    const world = new SimWorld({ seed: 1 });
    const node = world.addNode('a');
    return { clock: node.clock, advance: (ms) => world.runFor(ms), toleranceMs: 0 };
  },
});

// Real time: the suite's delays are ~10 ms, so this stays well under a second.
clockCompliance('systemClock', {
  setup: () => ({
    clock: systemClock(),
    advance: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  }),
});
