import { type Rng, assertInteger, invalidArgument } from '@novacron/core';

/** Shape of an {@link LstmNetwork}. */
export interface LstmShape {
  /** Features per time step (>= 1). */
  readonly inputs: number;
  /** Hidden units (>= 1). */
  readonly hidden: number;
  /** Outputs read from the last hidden state (>= 1). */
  readonly outputs: number;
}

/** Hyper-parameters of Adam (Kingma & Ba, 2015). */
export interface AdamOptions {
  /** Step size (default 1e-3). */
  readonly learningRate?: number;
  /** First-moment decay (default 0.9). */
  readonly beta1?: number;
  /** Second-moment decay (default 0.999). */
  readonly beta2?: number;
  /** Numerical floor (default 1e-8). */
  readonly epsilon?: number;
  /** Gradients are scaled down to at most this L2 norm before the step (default 5). */
  readonly clipNorm?: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * A single-layer LSTM (Hochreiter & Schmidhuber, 1997, with a forget gate)
 * followed by a linear read-out of the last hidden state: forward pass,
 * backpropagation through time, and Adam. Gate order in the weight
 * matrices is input, forget, cell, output. All parameters live in one
 * `Float64Array` (`params`), so saving a model is saving that array.
 *
 * Small on purpose (tens of hidden units, sequences of tens of steps):
 * a forecast must cost well under a millisecond in plain TypeScript.
 */
export class LstmNetwork {
  readonly shape: LstmShape;
  /** Every parameter: Wx (4H×D), Wh (4H×H), b (4H), Wy (K×H), by (K). */
  readonly params: Float64Array;
  private readonly offWh: number;
  private readonly offB: number;
  private readonly offWy: number;
  private readonly offBy: number;
  private adamM: Float64Array | undefined;
  private adamV: Float64Array | undefined;
  private adamT = 0;
  // Forward-pass caches for backprop (per step: gates, cell, hidden).
  private cacheX: Float64Array[] = [];
  private cacheGates: Float64Array[] = [];
  private cacheC: Float64Array[] = [];
  private cacheH: Float64Array[] = [];

  constructor(shape: LstmShape, params?: Float64Array) {
    assertInteger('shape.inputs', shape.inputs, { min: 1, max: 1024 });
    assertInteger('shape.hidden', shape.hidden, { min: 1, max: 1024 });
    assertInteger('shape.outputs', shape.outputs, { min: 1, max: 1024 });
    this.shape = { inputs: shape.inputs, hidden: shape.hidden, outputs: shape.outputs };
    const { inputs: D, hidden: H, outputs: K } = shape;
    this.offWh = 4 * H * D;
    this.offB = this.offWh + 4 * H * H;
    this.offWy = this.offB + 4 * H;
    this.offBy = this.offWy + K * H;
    const size = this.offBy + K;
    if (params !== undefined && (params.length !== size || !params.every(Number.isFinite)))
      throw invalidArgument('params', `${size} finite numbers`, params);
    this.params = params ? Float64Array.from(params) : new Float64Array(size);
  }

  /** Number of parameters for a shape. */
  static size(shape: LstmShape): number {
    const { inputs: D, hidden: H, outputs: K } = shape;
    return 4 * H * D + 4 * H * H + 4 * H + K * H + K;
  }

  /** Glorot-uniform weights from `rng`, zero biases except the forget gate's (1, the usual LSTM start). */
  initialise(rng: Rng): void {
    const { inputs: D, hidden: H, outputs: K } = this.shape;
    const p = this.params;
    const fill = (from: number, count: number, fanIn: number, fanOut: number) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < count; i++) p[from + i] = (2 * rng.next() - 1) * limit;
    };
    fill(0, 4 * H * D, D, H);
    fill(this.offWh, 4 * H * H, H, H);
    p.fill(0, this.offB, this.offWy);
    p.fill(1, this.offB + H, this.offB + 2 * H);
    fill(this.offWy, K * H, H, K);
    p.fill(0, this.offBy, this.offBy + K);
  }

  /**
   * Runs the sequence (`steps[t]` holds D features) and returns the K
   * outputs. Keeps what {@link backward} needs.
   */
  forward(steps: readonly Float64Array[]): Float64Array {
    const { inputs: D, hidden: H, outputs: K } = this.shape;
    const p = this.params;
    let h = new Float64Array(H);
    let c = new Float64Array(H);
    this.cacheX = [];
    this.cacheGates = [];
    this.cacheC = [c];
    this.cacheH = [h];
    for (const x of steps) {
      const gates = new Float64Array(4 * H);
      for (let r = 0; r < 4 * H; r++) {
        let z = p[this.offB + r]!;
        const wx = r * D;
        for (let d = 0; d < D; d++) z += p[wx + d]! * x[d]!;
        const wh = this.offWh + r * H;
        for (let j = 0; j < H; j++) z += p[wh + j]! * h[j]!;
        gates[r] = r >= 2 * H && r < 3 * H ? Math.tanh(z) : sigmoid(z);
      }
      const c2 = new Float64Array(H);
      const h2 = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        c2[j] = gates[H + j]! * c[j]! + gates[j]! * gates[2 * H + j]!;
        h2[j] = gates[3 * H + j]! * Math.tanh(c2[j]!);
      }
      this.cacheX.push(x);
      this.cacheGates.push(gates);
      this.cacheC.push(c2);
      this.cacheH.push(h2);
      c = c2;
      h = h2;
    }
    const out = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let y = p[this.offBy + k]!;
      for (let j = 0; j < H; j++) y += p[this.offWy + k * H + j]! * h[j]!;
      out[k] = y;
    }
    return out;
  }

  /**
   * Backpropagation through time of the last {@link forward}: adds
   * dLoss/dparams into `grad` given dLoss/doutputs.
   */
  backward(dOut: Float64Array, grad: Float64Array): void {
    const { inputs: D, hidden: H, outputs: K } = this.shape;
    const p = this.params;
    const T = this.cacheX.length;
    const hT = this.cacheH[T]!;
    let dh = new Float64Array(H);
    for (let k = 0; k < K; k++) {
      const g = dOut[k]!;
      if (g === 0) continue;
      grad[this.offBy + k]! += g;
      for (let j = 0; j < H; j++) {
        grad[this.offWy + k * H + j]! += g * hT[j]!;
        dh[j]! += g * p[this.offWy + k * H + j]!;
      }
    }
    let dc = new Float64Array(H);
    const dz = new Float64Array(4 * H);
    for (let t = T - 1; t >= 0; t--) {
      const gates = this.cacheGates[t]!;
      const c = this.cacheC[t + 1]!;
      const cPrev = this.cacheC[t]!;
      const hPrev = this.cacheH[t]!;
      const x = this.cacheX[t]!;
      const dcPrev = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const i = gates[j]!;
        const f = gates[H + j]!;
        const g = gates[2 * H + j]!;
        const o = gates[3 * H + j]!;
        const tc = Math.tanh(c[j]!);
        const dcj = dc[j]! + dh[j]! * o * (1 - tc * tc);
        dz[j] = dcj * g * i * (1 - i);
        dz[H + j] = dcj * cPrev[j]! * f * (1 - f);
        dz[2 * H + j] = dcj * i * (1 - g * g);
        dz[3 * H + j] = dh[j]! * tc * o * (1 - o);
        dcPrev[j] = dcj * f;
      }
      const dhPrev = new Float64Array(H);
      for (let r = 0; r < 4 * H; r++) {
        const g = dz[r]!;
        if (g === 0) continue;
        grad[this.offB + r]! += g;
        for (let d = 0; d < D; d++) grad[r * D + d]! += g * x[d]!;
        const wh = this.offWh + r * H;
        for (let j = 0; j < H; j++) {
          grad[wh + j]! += g * hPrev[j]!;
          dhPrev[j]! += g * p[wh + j]!;
        }
      }
      dh = dhPrev;
      dc = dcPrev;
    }
  }

  /** Adam's step count and moment estimates (JSON-friendly), for checkpoints of online learning. */
  optimizerState(): { t: number; m: number[]; v: number[] } {
    return {
      t: this.adamT,
      m: this.adamM ? Array.from(this.adamM) : [],
      v: this.adamV ? Array.from(this.adamV) : [],
    };
  }

  /** Restores what {@link optimizerState} returned (lengths already checked by the caller). */
  restoreOptimizer(state: { t: number; m: readonly number[]; v: readonly number[] }): void {
    this.adamT = state.t;
    this.adamM = state.m.length ? Float64Array.from(state.m) : undefined;
    this.adamV = state.v.length ? Float64Array.from(state.v) : undefined;
  }

  /** One Adam step with `grad` (averaged by the caller), clipped to `clipNorm`. */
  adamStep(grad: Float64Array, options: AdamOptions = {}): void {
    const lr = options.learningRate ?? 1e-3;
    const b1 = options.beta1 ?? 0.9;
    const b2 = options.beta2 ?? 0.999;
    const eps = options.epsilon ?? 1e-8;
    const clip = options.clipNorm ?? 5;
    let norm = 0;
    for (const g of grad) norm += g * g;
    norm = Math.sqrt(norm);
    const scale = norm > clip ? clip / norm : 1;
    this.adamM ??= new Float64Array(this.params.length);
    this.adamV ??= new Float64Array(this.params.length);
    this.adamT++;
    const c1 = 1 - b1 ** this.adamT;
    const c2 = 1 - b2 ** this.adamT;
    const m = this.adamM;
    const v = this.adamV;
    for (let i = 0; i < this.params.length; i++) {
      const g = grad[i]! * scale;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      this.params[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
  }
}
