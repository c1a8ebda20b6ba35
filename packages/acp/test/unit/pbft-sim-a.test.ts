import { pbftSimSuite } from './pbft-sim-suite.js';

// Seeds 1..100; the other half is in pbft-sim-b.test.ts so the two run in parallel.
pbftSimSuite(
  'a',
  Array.from({ length: 100 }, (_, i) => i + 1),
);
