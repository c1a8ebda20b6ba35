import { packageConfig } from '../../scripts/tsup-base.ts';

export default packageConfig(
  { index: 'src/index.ts' },
  { external: ['vitest'] },
  {
    // ESM only: these import vitest, which cannot be loaded with require().
    vitest: 'src/vitest.ts',
    'compliance/stream-transport': 'src/compliance/stream-transport.ts',
    'compliance/peer-network': 'src/compliance/peer-network.ts',
    'compliance/clock': 'src/compliance/clock.ts',
    'compliance/file-io': 'src/compliance/file-io.ts',
    'compliance/durable-log': 'src/compliance/durable-log.ts',
    'compliance/consensus-group': 'src/compliance/consensus-group.ts',
  },
);
