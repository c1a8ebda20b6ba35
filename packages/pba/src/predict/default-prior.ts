// Written by bench/src/pba-fit.ts from the training files of norway-3g, fcc-2016, oboe (425 files); do not edit.
/**
 * Priors of the default ensemble, fitted on training traces only: `scores` are the members' errors
 * (MAE / mean outcome per tracked horizon); `logBands` the 80% interval per tracked horizon, the 10th
 * and 90th percentiles of log(outcome / forecast) over the first 10 samples of a stream.
 */
export const DEFAULT_PRIOR: {
  readonly horizons: readonly number[];
  readonly scores: readonly (readonly number[])[];
  readonly logBands: readonly (readonly [number, number])[];
} = {
  horizons: [1, 2, 5, 10, 30],
  scores: [
    [0.12857, 0.17243, 0.2198, 0.25219, 0.32767],
    [0.13471, 0.16528, 0.20593, 0.23671, 0.31391],
    [0.16323, 0.17922, 0.20904, 0.23753, 0.3121],
    [0.16573, 0.1853, 0.21896, 0.24759, 0.3219],
    [0.13928, 0.17528, 0.23082, 0.27663, 0.37696],
    [0.2004, 0.21055, 0.23337, 0.25792, 0.32349],
    [0.22629, 0.23465, 0.25436, 0.27566, 0.33214],
    [0.12447, 0.15957, 0.19847, 0.23051, 0.30679],
  ],
  logBands: [
    [-0.1907, 0.1903],
    [-0.2691, 0.2835],
    [-0.4037, 0.4392],
    [-0.4493, 0.5448],
    [-0.503, 0.6794],
  ],
};
