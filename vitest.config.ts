import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { projects, sourceAliases } from './vitest.workspace.ts';

export default defineConfig({
  resolve: { alias: sourceAliases() },
  test: {
    projects,
    setupFiles: [fileURLToPath(new URL('./scripts/vitest-setup.ts', import.meta.url))],
    // Property tests print their seed on failure; keep the default timeout generous for 2-core CI.
    testTimeout: 30_000,
  },
});
