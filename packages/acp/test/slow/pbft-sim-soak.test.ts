import { pbftSimSuite } from '../unit/pbft-sim-suite.js';

// NOVACRON_SLOW=1: 10,000 seeds (10,001..20,000, disjoint from CI's 1..200), longer faulty periods.
pbftSimSuite(
  'soak',
  Array.from({ length: 10_000 }, (_, i) => i + 10_001),
  2_000,
);
