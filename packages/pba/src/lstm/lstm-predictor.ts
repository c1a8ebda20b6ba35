import { assertNumber, invalidArgument } from '@novacron/core';
import type { StateReader } from '../predict/state-fields.js';
import { TrackedPredictor, type TrackedPredictorOptions } from '../predict/tracked-predictor.js';
import { LstmNetwork } from './lstm-network.js';

/**
 * A trained LSTM forecaster as JSON (what bench/src/pba-lstm-train.ts
 * writes): the input window, hidden size, the horizons it has an output
 * for, and every parameter of the network.
 */
export interface LstmModel {
  /** Always `"novacron-pba-lstm"`. */
  readonly format: 'novacron-pba-lstm';
  /** Format version (1). */
  readonly version: 1;
  /** Samples in the input window (>= 1). */
  readonly window: number;
  /** Hidden units. */
  readonly hidden: number;
  /** Horizons (steps) of the outputs, ascending. */
  readonly horizons: readonly number[];
  /** Network parameters ({@link LstmNetwork.params}). */
  readonly params: readonly number[];
}

/** Offset added to samples and level, as a share of the level, so zero throughput stays finite in log space. */
const OFFSET_SHARE = 0.05;

/**
 * The input features of one window: each sample's log ratio to the
 * window's mean (after a small offset), so the network sees shape, not
 * scale, and one model serves a 1 Mbit/s and a 1 Gbit/s link.
 */
export function lstmFeatures(values: readonly number[]): { steps: Float64Array[]; level: number; offset: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const level = Math.max(sum / values.length, 1e-9);
  const offset = OFFSET_SHARE * level;
  const steps = values.map((v) => Float64Array.of(Math.log((v + offset) / (level + offset))));
  return { steps, level, offset };
}

/** Validates a model from JSON; throws `CORE_INVALID_ARGUMENT`. */
export function checkLstmModel(model: unknown): LstmModel {
  const m = model as Partial<LstmModel> | null;
  const fail = (why: string) => invalidArgument('model', `an LSTM model (${why})`, model);
  if (typeof m !== 'object' || m === null || m.format !== 'novacron-pba-lstm' || m.version !== 1) throw fail('format');
  if (!Number.isSafeInteger(m.window) || m.window! < 1 || m.window! > 4096) throw fail('window');
  if (!Number.isSafeInteger(m.hidden) || m.hidden! < 1 || m.hidden! > 1024) throw fail('hidden');
  const hs = m.horizons;
  if (
    !Array.isArray(hs) ||
    hs.length === 0 ||
    hs.some((h, i) => !Number.isSafeInteger(h) || h < 1 || (i > 0 && h <= hs[i - 1]!))
  )
    throw fail('horizons');
  const size = LstmNetwork.size({ inputs: 1, hidden: m.hidden!, outputs: hs.length });
  if (
    !Array.isArray(m.params) ||
    m.params.length !== size ||
    m.params.some((p) => typeof p !== 'number' || !Number.isFinite(p))
  )
    throw fail('params');
  return m as LstmModel;
}

/** Options of {@link LstmPredictor}. */
export interface LstmPredictorOptions extends TrackedPredictorOptions {
  /** The trained model. */
  readonly model: LstmModel;
  /**
   * Adam step size for learning online from the stream (default 0: the
   * offline weights stay fixed). Each observation then trains every output
   * whose target just arrived, which costs one forward and backward pass
   * per output.
   */
  readonly onlineLearningRate?: number;
}

/**
 * Forecasts with an {@link LstmNetwork} over the last `window` samples: the
 * network predicts, for each of its horizons, the log ratio of the future
 * sample to the window's mean; other horizons interpolate between those
 * in log-horizon. One forward pass per observation (cached), so a forecast
 * costs nothing extra; optionally keeps learning online.
 */
export class LstmPredictor extends TrackedPredictor {
  readonly kind = 'lstm';
  protected readonly version = 1;
  /** The network (its parameters change only with online learning). */
  readonly network: LstmNetwork;
  private readonly model: LstmModel;
  private readonly rate: number;
  private readonly keep: number;
  private history: number[] = [];
  private outputs: Float64Array;
  private level = 0;
  private offset = 0;

  constructor(options: LstmPredictorOptions) {
    super(options);
    this.model = checkLstmModel(options.model);
    this.rate = options.onlineLearningRate ?? 0;
    assertNumber('options.onlineLearningRate', this.rate, { min: 0, max: 1 });
    this.network = new LstmNetwork(
      { inputs: 1, hidden: this.model.hidden, outputs: this.model.horizons.length },
      Float64Array.from(this.model.params),
    );
    this.outputs = new Float64Array(this.model.horizons.length);
    this.keep = this.model.window + (this.rate > 0 ? this.model.horizons.at(-1)! : 0);
  }

  pointForecast(h: number): number {
    const hs = this.model.horizons;
    let r: number;
    if (h <= hs[0]!) r = this.outputs[0]!;
    else if (h >= hs.at(-1)!) r = this.outputs[hs.length - 1]!;
    else {
      let k = 0;
      while (hs[k + 1]! < h) k++;
      const a = Math.log(hs[k]!);
      const w = (Math.log(h) - a) / (Math.log(hs[k + 1]!) - a);
      r = (1 - w) * this.outputs[k]! + w * this.outputs[k + 1]!;
    }
    return Math.max(0, (this.level + this.offset) * Math.exp(r) - this.offset);
  }

  protected learn(value: number): void {
    this.history.push(value);
    if (this.history.length > this.keep) this.history.shift();
    if (this.rate > 0) this.trainOnline(value);
    this.refresh();
  }

  private refresh(): void {
    const { steps, level, offset } = lstmFeatures(this.history.slice(-this.model.window));
    this.outputs = this.network.forward(steps);
    this.level = level;
    this.offset = offset;
  }

  private trainOnline(value: number): void {
    const hs = this.model.horizons;
    const n = this.history.length;
    const grad = new Float64Array(this.network.params.length);
    for (let k = 0; k < hs.length; k++) {
      const end = n - 1 - hs[k]!; // last input sample of the window that targeted this value
      if (end < 0) continue;
      const window = this.history.slice(Math.max(0, end + 1 - this.model.window), end + 1);
      const { steps, level, offset } = lstmFeatures(window);
      const out = this.network.forward(steps);
      const target = Math.log((value + offset) / (level + offset));
      const dOut = new Float64Array(hs.length);
      dOut[k] = huberGrad(out[k]! - target);
      grad.fill(0);
      this.network.backward(dOut, grad);
      this.network.adamStep(grad, { learningRate: this.rate });
    }
  }

  protected resetModel(): void {
    this.history = [];
    this.outputs = new Float64Array(this.model.horizons.length);
    this.level = 0;
    this.offset = 0;
    this.network.params.set(this.model.params);
    this.network.restoreOptimizer({ t: 0, m: [], v: [] });
  }

  protected modelState(): Record<string, unknown> {
    const opt = this.network.optimizerState();
    return {
      history: [...this.history],
      params: Array.from(this.network.params),
      adamT: opt.t,
      adamM: opt.m,
      adamV: opt.v,
    };
  }

  protected restoreModel(r: StateReader, observations: number): () => void {
    const history = r.numbers('history', undefined, 0);
    const params = r.numbers('params', this.network.params.length);
    if (history.length !== Math.min(observations, this.keep)) throw r.fail('history length does not fit');
    const adamT = r.number('adamT', { min: 0, integer: true });
    const adamM = r.numbers('adamM');
    const adamV = r.numbers('adamV', undefined, 0);
    const n = this.network.params.length;
    if (
      adamM.length !== adamV.length ||
      (adamM.length !== 0 && adamM.length !== n) ||
      (adamT === 0) !== (adamM.length === 0)
    )
      throw r.fail('optimizer state does not fit');
    return () => {
      this.history = [...history];
      this.network.params.set(params);
      this.network.restoreOptimizer({ t: adamT, m: adamM, v: adamV });
      if (history.length > 0) this.refresh();
      else this.outputs = new Float64Array(this.model.horizons.length);
    };
  }
}

/** Gradient of the Huber loss (δ = 0.1) in log space: close to L1, which is what MAE rewards. */
export function huberGrad(diff: number, delta = 0.1): number {
  return Math.abs(diff) <= delta ? diff / delta : Math.sign(diff);
}
