import { pbftSimSuite } from './pbft-sim-suite.js';

// Seeds 101..200; the other half is in pbft-sim-a.test.ts.
pbftSimSuite(
  'b',
  Array.from({ length: 100 }, (_, i) => i + 101),
);
