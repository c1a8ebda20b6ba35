import { raftSimSuite } from './raft-sim-suite.js';

// Seeds 1..100; the other half is in raft-sim-b.test.ts so the two run in parallel.
raftSimSuite(
  'a',
  Array.from({ length: 100 }, (_, i) => i + 1),
);
