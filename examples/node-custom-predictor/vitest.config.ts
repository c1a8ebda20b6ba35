import { defineConfig } from 'vitest/config';

// Runs against the built packages, as a third party would.
export default defineConfig({ test: { include: ['test/**/*.test.ts'] } });
