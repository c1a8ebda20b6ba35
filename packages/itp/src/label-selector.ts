import type { LabelSelector } from '@novacron/core';

/** True when `labels` satisfy every pair and expression of `selector` (an empty selector matches all). */
export function matchesSelector(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const l = labels ?? {};
  if (selector.matchLabels) for (const [k, v] of Object.entries(selector.matchLabels)) if (l[k] !== v) return false;
  if (selector.matchExpressions)
    for (const e of selector.matchExpressions) {
      const has = Object.hasOwn(l, e.key);
      switch (e.operator) {
        case 'Exists':
          if (!has) return false;
          break;
        case 'DoesNotExist':
          if (has) return false;
          break;
        case 'In':
          if (!has || !(e.values ?? []).includes(l[e.key]!)) return false;
          break;
        case 'NotIn':
          if (has && (e.values ?? []).includes(l[e.key]!)) return false;
          break;
      }
    }
  return true;
}

/** A canonical text form of a selector, so equal selectors share one index. */
export function selectorKey(selector: LabelSelector): string {
  const pairs = Object.entries(selector.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const exprs = (selector.matchExpressions ?? [])
    .map((e) => [e.key, e.operator, [...(e.values ?? [])].sort()] as const)
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  return JSON.stringify([pairs, exprs]);
}
