/**
 * `@novacron/pba`: link forecasting (predictors of throughput and RTT with
 * prediction intervals), bandwidth allocation across transfers, and a
 * bridge to models served outside the process.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './predict/error-tracker.js';
export * from './predict/tracked-predictor.js';
export * from './predict/last-value.js';
export * from './predict/ewma.js';
export * from './predict/harmonic-mean.js';
export * from './predict/robust-mpc.js';
export * from './predict/holt.js';
export * from './predict/ensemble.js';
export * from './predict/default-predictor.js';
export { StateReader } from './predict/state-fields.js';
export * from './eval/trace.js';
export * from './eval/evaluate.js';
export * from './allocate/water-fill.js';
export * from './allocate/weighted-max-min.js';
export * from './allocate/rate-controller.js';
export * from './lstm/lstm-network.js';
export * from './lstm/lstm-predictor.js';
export * from './lstm/default-lstm-model.js';
export * from './bridge/circuit-breaker.js';
export * from './bridge/remote-model.js';
export * from './bridge/remote-predictor.js';
export * from './predict/default-prior.js';
