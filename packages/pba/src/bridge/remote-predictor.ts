import {
  type Forecast,
  type Predictor,
  type PredictorSample,
  type PredictorState,
  assertInteger,
  assertPredictorSample,
  assertString,
  checkForecastArgs,
} from '@novacron/core';
import { StateReader } from '../predict/state-fields.js';
import type { BridgeResult, Features, RemoteModel } from './remote-model.js';

/** Options of {@link RemotePredictor}. */
export interface RemotePredictorOptions {
  /** The bridge to the model service. */
  readonly remote: RemoteModel;
  /** Local predictor: always fed, answers whenever the remote one cannot (e.g. `defaultPredictor()`). */
  readonly local: Predictor;
  /** Model name sent to the service (default `"throughput"`). */
  readonly modelName?: string;
  /** Recent samples sent as features `x0` (oldest) … `x{n-1}` (latest) (default 10). */
  readonly history?: number;
  /** Horizons asked for, as outputs `mean_h<h>` (and optional `lower_h<h>`, `upper_h<h>`) (default 1, 5, 30). */
  readonly horizons?: readonly number[];
}

/**
 * A {@link Predictor} whose forecasts come from a model service through a
 * {@link RemoteModel}, with a local predictor as the fallback. `forecast`
 * never waits: it returns the service's latest answer when that answer
 * was computed from every sample observed so far and covers the horizon,
 * and the local forecast otherwise. Call `refresh()` after `observe` (it
 * resolves within the bridge's timeout either way) to fetch a new answer.
 * The service's interval is used when it sends `lower_h`/`upper_h`;
 * otherwise the local interval is carried over to the remote mean.
 */
export class RemotePredictor implements Predictor {
  readonly kind = 'remote';
  private readonly remote: RemoteModel;
  private readonly local: Predictor;
  private readonly modelName: string;
  private readonly historyLength: number;
  private readonly horizons: readonly number[];
  private history: number[] = [];
  private seq = 0;
  private answer: { seq: number; outputs: Features } | undefined;

  constructor(options: RemotePredictorOptions) {
    this.remote = options.remote;
    this.local = options.local;
    this.modelName = options.modelName ?? 'throughput';
    this.historyLength = options.history ?? 10;
    this.horizons = options.horizons ?? [1, 5, 30];
    assertString('options.modelName', this.modelName, { nonEmpty: true, maxLength: 64 });
    assertInteger('options.history', this.historyLength, { min: 1, max: 200 });
    for (const h of this.horizons) assertInteger('options.horizons[]', h, { min: 1 });
  }

  get observations(): number {
    return this.local.observations;
  }

  observe(sample: PredictorSample): void {
    assertPredictorSample(sample);
    this.local.observe(sample);
    this.history.push(sample.value);
    if (this.history.length > this.historyLength) this.history.shift();
    this.seq++;
  }

  /**
   * Asks the service for forecasts from the current samples. Resolves with
   * where they came from; never rejects for bridge failures (the local
   * predictor answers instead).
   */
  async refresh(): Promise<BridgeResult> {
    const seq = this.seq;
    const features: Record<string, number> = {};
    this.history.forEach((v, i) => {
      features[`x${i}`] = v;
    });
    const result = await this.remote.predictOr(this.modelName, features, () => ({}));
    if (result.source === 'remote' && seq === this.seq) this.answer = { seq, outputs: result.outputs };
    return result;
  }

  /** Whether the next forecast at `horizon` would come from the service. */
  usesRemote(horizon: number): boolean {
    return this.answer !== undefined && this.answer.seq === this.seq && this.remoteMean(horizon) !== undefined;
  }

  private remoteMean(h: number): number | undefined {
    const v = this.answer?.outputs[`mean_h${h}`];
    return v !== undefined && v >= 0 ? v : undefined;
  }

  forecast(horizon: number, level?: number): Forecast {
    const lv = checkForecastArgs(this.observations, horizon, level);
    const local = this.local.forecast(horizon, lv);
    if (!this.usesRemote(horizon)) return local;
    const mean = this.remoteMean(horizon)!;
    const out = this.answer!.outputs;
    const lo = out[`lower_h${horizon}`];
    const hi = out[`upper_h${horizon}`];
    if (lv === 0.8 && lo !== undefined && hi !== undefined && lo >= 0 && lo <= mean && hi >= mean)
      return { horizon, level: lv, mean, lower: lo, upper: hi };
    const ratioLo = local.mean > 0 ? local.lower / local.mean : 1;
    const ratioHi = local.mean > 0 ? local.upper / local.mean : 1;
    return { horizon, level: lv, mean, lower: mean * ratioLo, upper: mean * ratioHi };
  }

  reset(): void {
    this.local.reset();
    this.history = [];
    this.seq = 0;
    this.answer = undefined;
  }

  state(): PredictorState {
    return { kind: this.kind, version: 1, history: [...this.history], local: this.local.state() };
  }

  restore(state: PredictorState): void {
    const r = StateReader.open(this.kind, 1, state);
    const history = r.numbers('history', undefined, 0);
    if (history.length > this.historyLength) throw r.fail('history too long');
    const local = r.object('local') as PredictorState;
    const backup = this.local.state();
    this.local.restore(local);
    if (history.length !== Math.min(this.local.observations, this.historyLength)) {
      this.local.restore(backup);
      throw r.fail('history length does not fit the local predictor');
    }
    this.history = [...history];
    this.seq = this.local.observations;
    this.answer = undefined;
  }
}
