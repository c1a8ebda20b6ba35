import { defineConfig, type Options } from 'tsup';

/**
 * Shared tsup settings: ESM (.js + .d.ts) and CJS (.cjs + .d.cts) for every
 * entry, Node 20 target, dependencies left external. Each package passes its
 * entry map (subpath exports need one entry each).
 */
export function packageConfig(entry: Record<string, string>, extra: Partial<Options> = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: true,
    treeshake: true,
    outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
    ...extra,
  });
}
