import {
  addResources,
  CoreErrorCode,
  fitsWithin,
  isNovacronError,
  type ResourceVector,
  subtractResources,
  validateResourceVector,
  ZERO_RESOURCES,
} from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const GIB = 2 ** 30;

const vector = fc.record(
  {
    cpuMillis: fc.integer({ min: 0, max: 1_000_000 }),
    memoryBytes: fc.integer({ min: 0, max: 2 ** 40 }),
    diskBytes: fc.integer({ min: 0, max: 2 ** 44 }),
    networkBps: fc.integer({ min: 0, max: 10 ** 11 }),
    extended: fc.dictionary(fc.constantFrom('gpu', 'fpga', 'licence'), fc.integer({ min: 0, max: 16 })),
  },
  { requiredKeys: ['cpuMillis', 'memoryBytes'] },
);

describe('resource arithmetic', () => {
  it('adds and subtracts field by field, extended resources by name', () => {
    const a: ResourceVector = { cpuMillis: 2000, memoryBytes: 4 * GIB, extended: { gpu: 1 } };
    const b: ResourceVector = { cpuMillis: 500, memoryBytes: GIB, diskBytes: 10, networkBps: 5, extended: { fpga: 2 } };
    expect(addResources(a, b)).toEqual({
      cpuMillis: 2500,
      memoryBytes: 5 * GIB,
      diskBytes: 10,
      networkBps: 5,
      extended: { gpu: 1, fpga: 2 },
    });
    expect(subtractResources(a, b)).toEqual({
      cpuMillis: 1500,
      memoryBytes: 3 * GIB,
      diskBytes: -10,
      networkBps: -5,
      extended: { gpu: 1, fpga: -2 },
    });
    expect(addResources(ZERO_RESOURCES, ZERO_RESOURCES)).not.toHaveProperty('extended');
  });

  it('subtracting what was added gets back where it started', () => {
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        const back = subtractResources(addResources(a, b), b);
        expect(back.cpuMillis).toBe(a.cpuMillis);
        expect(back.memoryBytes).toBe(a.memoryBytes);
        expect(back.diskBytes).toBe(a.diskBytes ?? 0);
        expect(back.networkBps).toBe(a.networkBps ?? 0);
        for (const [k, v] of Object.entries(back.extended ?? {})) expect(v).toBe(a.extended?.[k] ?? 0);
      }),
    );
  });

  it('does not modify its inputs', () => {
    const a: ResourceVector = { cpuMillis: 1, memoryBytes: 1, extended: { gpu: 1 } };
    addResources(a, { cpuMillis: 1, memoryBytes: 1, extended: { gpu: 2 } });
    expect(a).toEqual({ cpuMillis: 1, memoryBytes: 1, extended: { gpu: 1 } });
  });

  it('ZERO_RESOURCES is frozen', () => {
    expect(Object.isFrozen(ZERO_RESOURCES)).toBe(true);
  });
});

describe('fitsWithin', () => {
  const host: ResourceVector = {
    cpuMillis: 4000,
    memoryBytes: 8 * GIB,
    diskBytes: 100 * GIB,
    networkBps: 1e9,
    extended: { gpu: 2 },
  };

  it('accepts demand up to and including every capacity', () => {
    expect(fitsWithin(host, host)).toBe(true);
    expect(fitsWithin({ cpuMillis: 1, memoryBytes: 1 }, host)).toBe(true);
    expect(fitsWithin(ZERO_RESOURCES, ZERO_RESOURCES)).toBe(true);
  });

  it('rejects demand over any one capacity', () => {
    expect(fitsWithin({ ...host, cpuMillis: 4001 }, host)).toBe(false);
    expect(fitsWithin({ ...host, memoryBytes: 8 * GIB + 1 }, host)).toBe(false);
    expect(fitsWithin({ ...host, diskBytes: 100 * GIB + 1 }, host)).toBe(false);
    expect(fitsWithin({ ...host, networkBps: 1e9 + 1 }, host)).toBe(false);
    expect(fitsWithin({ ...host, extended: { gpu: 3 } }, host)).toBe(false);
    expect(fitsWithin({ cpuMillis: 0, memoryBytes: 0, extended: { fpga: 1 } }, host)).toBe(false);
  });

  it('treats untracked optional capacity as zero, and zero demand of it as fitting', () => {
    const bare: ResourceVector = { cpuMillis: 1000, memoryBytes: GIB };
    expect(fitsWithin({ cpuMillis: 1, memoryBytes: 1, diskBytes: 0, extended: { gpu: 0 } }, bare)).toBe(true);
    expect(fitsWithin({ cpuMillis: 1, memoryBytes: 1, diskBytes: 1 }, bare)).toBe(false);
  });

  it('agrees with subtraction: a fitting demand leaves nothing negative', () => {
    fc.assert(
      fc.property(vector, vector, (demand, available) => {
        const left = subtractResources(available, demand);
        const nonNegative =
          left.cpuMillis >= 0 &&
          left.memoryBytes >= 0 &&
          (left.diskBytes ?? 0) >= 0 &&
          (left.networkBps ?? 0) >= 0 &&
          Object.values(left.extended ?? {}).every((v) => v >= 0);
        expect(fitsWithin(demand, available)).toBe(nonNegative);
      }),
    );
  });
});

describe('validateResourceVector', () => {
  it('returns a valid vector unchanged', () => {
    const v = { cpuMillis: 0, memoryBytes: 10, diskBytes: 0, networkBps: 1, extended: { gpu: 1 } };
    expect(validateResourceVector('vm.resources', v)).toBe(v);
  });

  const bad: [string, unknown, string][] = [
    ['not an object', 5, 'vm.resources'],
    ['null', null, 'vm.resources'],
    ['an array', [], 'vm.resources'],
    ['missing cpu', { memoryBytes: 1 }, 'vm.resources.cpuMillis'],
    ['negative memory', { cpuMillis: 1, memoryBytes: -1 }, 'vm.resources.memoryBytes'],
    ['NaN disk', { cpuMillis: 1, memoryBytes: 1, diskBytes: Number.NaN }, 'vm.resources.diskBytes'],
    [
      'infinite network',
      { cpuMillis: 1, memoryBytes: 1, networkBps: Number.POSITIVE_INFINITY },
      'vm.resources.networkBps',
    ],
    ['extended not an object', { cpuMillis: 1, memoryBytes: 1, extended: [1] }, 'vm.resources.extended'],
    ['negative extended', { cpuMillis: 1, memoryBytes: 1, extended: { gpu: -1 } }, 'vm.resources.extended.gpu'],
    ['string extended', { cpuMillis: 1, memoryBytes: 1, extended: { gpu: '1' } }, 'vm.resources.extended.gpu'],
  ];
  for (const [name, value, argument] of bad) {
    it(`rejects ${name}, naming ${argument}`, () => {
      let thrown: unknown;
      try {
        validateResourceVector('vm.resources', value);
      } catch (err) {
        thrown = err;
      }
      expect(isNovacronError(thrown, CoreErrorCode.INVALID_ARGUMENT)).toBe(true);
      expect((thrown as { details: { argument: string } }).details.argument).toBe(argument);
    });
  }
});
