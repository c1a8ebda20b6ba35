import { packageConfig } from '../../scripts/tsup-base.ts';

// The CLI is ESM only (it is run, not imported).
export default packageConfig({ index: 'src/index.ts' }, {}, { cli: 'src/cli/bin.ts' });
