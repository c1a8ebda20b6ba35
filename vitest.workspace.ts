import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The vitest project list (vitest 4 has no workspace file; vitest.config.ts
 * reads this). Every package is one project; tests run against `src`
 * through aliases derived from each package's exports map, so no build is
 * needed. Slow suites (`test/slow`) join only when NOVACRON_SLOW=1.
 */
const root = fileURLToPath(new URL('.', import.meta.url));
const slow = process.env.NOVACRON_SLOW === '1';

interface ExportTarget {
  import?: { default?: string } | string;
}

/** Maps `@novacron/x[/sub]` to the source file behind its built entry. */
export function sourceAliases(): { find: string | RegExp; replacement: string }[] {
  const aliases: { find: string | RegExp; replacement: string }[] = [];
  for (const dir of readdirSync(join(root, 'packages'))) {
    const pkgPath = join(root, 'packages', dir, 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as {
      name: string;
      exports: Record<string, ExportTarget | string>;
    };
    const subpaths = Object.entries(pkg.exports).filter(([k]) => k !== './package.json');
    // Longest subpath first so `@novacron/testkit/compliance/x` wins over `@novacron/testkit`.
    subpaths.sort((a, b) => b[0].length - a[0].length);
    for (const [sub, target] of subpaths) {
      const built =
        typeof target === 'string'
          ? target
          : typeof target.import === 'string'
            ? target.import
            : target.import?.default;
      if (!built) continue;
      const src = built.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts');
      const spec = sub === '.' ? pkg.name : `${pkg.name}/${sub.slice(2)}`;
      aliases.push({
        find: new RegExp(`^${spec.replace(/[/.]/g, '\\$&')}$`),
        replacement: resolve(root, 'packages', dir, src),
      });
    }
  }
  return aliases;
}

const packageNames = readdirSync(join(root, 'packages')).filter((d) =>
  existsSync(join(root, 'packages', d, 'package.json')),
);

export const projects = packageNames.map((name) => ({
  extends: true as const,
  test: {
    name,
    root: join(root, 'packages', name),
    include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts', ...(slow ? ['test/slow/**/*.test.ts'] : [])],
    passWithNoTests: true,
  },
}));
