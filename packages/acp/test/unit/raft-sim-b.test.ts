import { raftSimSuite } from './raft-sim-suite.js';

// Seeds 101..200; the other half is in raft-sim-a.test.ts so the two run in parallel.
raftSimSuite(
  'b',
  Array.from({ length: 100 }, (_, i) => i + 101),
);
