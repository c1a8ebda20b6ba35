import { type PredictorState, invalidPredictorState } from '@novacron/core';

/**
 * Readers for fields of an untrusted {@link PredictorState}: each throws
 * `CORE_PREDICTOR_STATE_INVALID` naming the field instead of letting a
 * malformed checkpoint poison the predictor.
 */
export class StateReader {
  constructor(
    private readonly kind: string,
    private readonly obj: Readonly<Record<string, unknown>>,
  ) {}

  /** Checks `kind` and `version` and returns a reader, or throws. */
  static open(kind: string, version: number, state: unknown): StateReader {
    if (typeof state !== 'object' || state === null || Array.isArray(state))
      throw invalidPredictorState(kind, 'not an object');
    const s = state as Record<string, unknown>;
    if (s.kind !== kind) throw invalidPredictorState(kind, `kind is ${JSON.stringify(s.kind)}, expected "${kind}"`);
    if (s.version !== version) throw invalidPredictorState(kind, `unsupported version ${String(s.version)}`);
    return new StateReader(kind, s);
  }

  /** A finite number (optionally >= min, <= max, integer). */
  number(field: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number {
    const v = this.obj[field];
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      (opts.integer && !Number.isSafeInteger(v)) ||
      (opts.min !== undefined && v < opts.min) ||
      (opts.max !== undefined && v > opts.max)
    )
      throw invalidPredictorState(this.kind, `field ${field} is not a valid number`);
    return v;
  }

  /** A finite number or null (null stands for "no value yet"). */
  nullableNumber(field: string, opts: { min?: number } = {}): number | null {
    return this.obj[field] === null ? null : this.number(field, opts);
  }

  /** An array of finite numbers of exactly `length` (when given), each >= min (when given). */
  numbers(field: string, length?: number, min?: number): number[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || (length !== undefined && v.length !== length))
      throw invalidPredictorState(this.kind, `field ${field} is not an array of ${length ?? 'any'} numbers`);
    for (const x of v)
      if (typeof x !== 'number' || !Number.isFinite(x) || (min !== undefined && x < min))
        throw invalidPredictorState(this.kind, `field ${field} holds an invalid number`);
    return v as number[];
  }

  /** A nested object, as a reader for the same kind. */
  object(field: string): Readonly<Record<string, unknown>> {
    const v = this.obj[field];
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw invalidPredictorState(this.kind, `field ${field} is not an object`);
    return v as Record<string, unknown>;
  }

  /** An array of anything (checked by the caller). */
  array(field: string, length?: number): unknown[] {
    const v = this.obj[field];
    if (!Array.isArray(v) || (length !== undefined && v.length !== length))
      throw invalidPredictorState(this.kind, `field ${field} is not an array of ${length ?? 'any'} items`);
    return v;
  }

  /** A failure for a reason the caller detected. */
  fail(reason: string): Error {
    return invalidPredictorState(this.kind, reason);
  }
}
