import { type Options, defineConfig } from 'tsup';

/** Entries of one package: name in dist -> source file. */
export type EntryMap = Record<string, string>;

const common: Options = {
  dts: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  treeshake: true,
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
};

/**
 * Shared tsup settings: ESM (.js + .d.ts) and CJS (.cjs + .d.cts) for every
 * entry, Node 20 target, dependencies left external. `esmOnly` entries are
 * built as ESM alone: they import vitest, which refuses to load through
 * require(), so a CJS build of them could never run. The ESM build covers
 * every entry in one pass so shared code lands in shared chunks (one copy of
 * each class, whichever subpath a consumer imports).
 */
export function packageConfig(entry: EntryMap, extra: Partial<Options> = {}, esmOnly: EntryMap = {}) {
  const both = Object.keys(esmOnly).length === 0;
  if (both) return defineConfig({ ...common, entry, format: ['esm', 'cjs'], clean: true, ...extra });
  return defineConfig([
    { ...common, entry: { ...entry, ...esmOnly }, format: ['esm'], clean: false, ...extra },
    { ...common, entry, format: ['cjs'], clean: false, ...extra },
  ]);
}
