import {
  type AffinityTerm,
  isNovacronError,
  type LabelSelector,
  NovacronError,
  type PlacementRequest,
  TOPOLOGY_SCOPES,
  type TopologyScope,
  validateResourceVector,
} from '@novacron/core';
import { ItpErrorCode } from './errors.js';
import { selectorKey } from './label-selector.js';

/** What the inventory offers, so requests naming things it lacks can be told apart from unlucky ones. */
export interface InventoryKeys {
  /** Scopes at which at least one host has a domain. */
  readonly scopes: ReadonlySet<TopologyScope>;
  /** Regions of the hosts. */
  readonly regions: ReadonlySet<string>;
  /** User regions some host has a latency measurement to. */
  readonly userRegions: ReadonlySet<string>;
}

const MAX_TERMS = 64;

function invalid(argument: string, message: string, cause?: unknown): NovacronError {
  return new NovacronError(ItpErrorCode.INVALID_REQUEST, `${argument}: ${message}`, {
    details: { argument },
    ...(cause === undefined ? {} : { cause }),
  });
}

function validateSelector(argument: string, s: unknown): void {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw invalid(argument, 'expected a label selector');
  const sel = s as LabelSelector;
  const n = Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions?.length ?? 0);
  if (n === 0) throw invalid(argument, 'an empty selector would match every VM; name a group or some labels');
  for (const [k, v] of Object.entries(sel.matchLabels ?? {}))
    if (typeof v !== 'string') throw invalid(`${argument}.matchLabels.${k}`, 'expected a string');
  for (const [i, e] of (sel.matchExpressions ?? []).entries()) {
    if (typeof e?.key !== 'string' || e.key === '')
      throw invalid(`${argument}.matchExpressions[${i}].key`, 'expected a non-empty string');
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator))
      throw invalid(`${argument}.matchExpressions[${i}].operator`, 'expected In, NotIn, Exists or DoesNotExist');
    if ((e.operator === 'In' || e.operator === 'NotIn') && (!Array.isArray(e.values) || e.values.length === 0))
      throw invalid(`${argument}.matchExpressions[${i}].values`, `${e.operator} needs a non-empty list of values`);
  }
}

function validateTerms(argument: string, terms: unknown, preferred: boolean, inv: InventoryKeys): void {
  if (terms === undefined) return;
  if (!Array.isArray(terms) || terms.length > MAX_TERMS)
    throw invalid(argument, `expected an array of at most ${MAX_TERMS} terms`);
  for (const [i, t] of (terms as AffinityTerm[]).entries()) {
    const a = `${argument}[${i}]`;
    if (typeof t !== 'object' || t === null) throw invalid(a, 'expected an affinity term');
    if (!TOPOLOGY_SCOPES.includes(t.scope))
      throw new NovacronError(
        ItpErrorCode.UNKNOWN_TOPOLOGY_KEY,
        `${a}.scope: unknown topology key ${String(t.scope)}`,
        {
          details: { argument: `${a}.scope`, key: String(t.scope) },
        },
      );
    if (!inv.scopes.has(t.scope))
      throw new NovacronError(ItpErrorCode.UNKNOWN_TOPOLOGY_KEY, `${a}.scope: no host has a ${t.scope} domain`, {
        details: { argument: `${a}.scope`, key: t.scope },
      });
    if ((t.group === undefined) === (t.selector === undefined))
      throw invalid(a, 'set exactly one of group and selector');
    if (t.group !== undefined && (typeof t.group !== 'string' || t.group === ''))
      throw invalid(`${a}.group`, 'expected a non-empty string');
    if (t.selector !== undefined) validateSelector(`${a}.selector`, t.selector);
    if (t.weight !== undefined) {
      if (!preferred) throw invalid(`${a}.weight`, 'weights apply to preferred terms only');
      if (typeof t.weight !== 'number' || !Number.isInteger(t.weight) || t.weight < 1 || t.weight > 100)
        throw invalid(`${a}.weight`, 'expected an integer in [1, 100]');
    }
  }
}

const termPeers = (t: AffinityTerm) => (t.group !== undefined ? `g:${t.group}` : `s:${selectorKey(t.selector!)}`);

/**
 * Checks a request from outside against the inventory. Throws
 * `ITP_INVALID_REQUEST` for malformed input (negative or non-finite demand,
 * bad weights, empty selectors), `ITP_UNKNOWN_TOPOLOGY_KEY` for scopes,
 * regions or user regions no host has, and `ITP_IMPOSSIBLE_CONSTRAINTS` for
 * rules that contradict each other (required affinity and anti-affinity to
 * the same peers where the anti-affinity scope contains the affinity scope,
 * an empty region list, a minimum uptime above 1).
 */
export function validatePlacementRequest(request: unknown, inv: InventoryKeys): PlacementRequest {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw invalid('request', 'expected an object');
  const r = request as PlacementRequest;
  if (typeof r.id !== 'string' || r.id === '' || r.id.length > 256)
    throw invalid('request.id', 'expected a non-empty string of at most 256 characters');
  try {
    validateResourceVector('request.resources', r.resources);
  } catch (err) {
    if (isNovacronError(err))
      throw invalid((err.details as { argument?: string }).argument ?? 'request.resources', err.message, err);
    throw err;
  }
  if (r.group !== undefined && (typeof r.group !== 'string' || r.group === ''))
    throw invalid('request.group', 'expected a non-empty string');
  if (r.priority !== undefined && (typeof r.priority !== 'number' || !Number.isFinite(r.priority)))
    throw invalid('request.priority', 'expected a finite number');
  validateTerms('request.affinity.required', r.affinity?.required, false, inv);
  validateTerms('request.affinity.preferred', r.affinity?.preferred, true, inv);
  validateTerms('request.antiAffinity.required', r.antiAffinity?.required, false, inv);
  validateTerms('request.antiAffinity.preferred', r.antiAffinity?.preferred, true, inv);

  const scopeRank = (s: TopologyScope) => TOPOLOGY_SCOPES.indexOf(s);
  for (const a of r.affinity?.required ?? [])
    for (const b of r.antiAffinity?.required ?? [])
      if (termPeers(a) === termPeers(b) && scopeRank(b.scope) >= scopeRank(a.scope))
        throw new NovacronError(
          ItpErrorCode.IMPOSSIBLE_CONSTRAINTS,
          `request requires being in the same ${a.scope} as its peers and in a different ${b.scope} from them`,
          { details: { affinity: a.scope, antiAffinity: b.scope } },
        );

  const c = r.constraints;
  if (c !== undefined) {
    if (typeof c !== 'object' || c === null) throw invalid('request.constraints', 'expected an object');
    if (c.minUptime !== undefined) {
      if (typeof c.minUptime !== 'number' || !Number.isFinite(c.minUptime) || c.minUptime < 0)
        throw invalid('request.constraints.minUptime', 'expected a number >= 0');
      if (c.minUptime > 1)
        throw new NovacronError(ItpErrorCode.IMPOSSIBLE_CONSTRAINTS, 'minUptime above 1 can never be met', {
          details: { minUptime: c.minUptime },
        });
    }
    if (c.maxCostPerHour !== undefined && (typeof c.maxCostPerHour !== 'number' || !(c.maxCostPerHour >= 0)))
      throw invalid('request.constraints.maxCostPerHour', 'expected a number >= 0');
    for (const [region, ms] of Object.entries(c.maxLatencyMs ?? {})) {
      if (typeof ms !== 'number' || !(ms >= 0))
        throw invalid(`request.constraints.maxLatencyMs.${region}`, 'expected a number >= 0');
      if (!inv.userRegions.has(region))
        throw new NovacronError(
          ItpErrorCode.UNKNOWN_TOPOLOGY_KEY,
          `no host has a latency measurement to user region ${region}`,
          {
            details: { argument: `request.constraints.maxLatencyMs.${region}`, key: region },
          },
        );
    }
    if (c.regions !== undefined) {
      if (!Array.isArray(c.regions)) throw invalid('request.constraints.regions', 'expected an array of region names');
      if (c.regions.length === 0)
        throw new NovacronError(ItpErrorCode.IMPOSSIBLE_CONSTRAINTS, 'an empty region list allows no host', {
          details: {},
        });
      for (const region of c.regions)
        if (!inv.regions.has(region))
          throw new NovacronError(ItpErrorCode.UNKNOWN_TOPOLOGY_KEY, `unknown region ${String(region)}`, {
            details: { argument: 'request.constraints.regions', key: String(region) },
          });
    }
    if (c.hostSelector !== undefined) validateSelector('request.constraints.hostSelector', c.hostSelector);
  }
  for (const [region, w] of Object.entries(r.userRegions ?? {})) {
    if (typeof w !== 'number' || !(w > 0) || !Number.isFinite(w))
      throw invalid(`request.userRegions.${region}`, 'expected a weight > 0');
    if (!inv.userRegions.has(region))
      throw new NovacronError(
        ItpErrorCode.UNKNOWN_TOPOLOGY_KEY,
        `no host has a latency measurement to user region ${region}`,
        {
          details: { argument: `request.userRegions.${region}`, key: region },
        },
      );
  }
  return r;
}
