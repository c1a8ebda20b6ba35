// Written by bench/src/pba-fit.ts from the training files of norway-3g, fcc-2016, oboe (425 files); do not edit.
/** Prior member errors of the default ensemble (MAE / mean outcome per tracked horizon), fitted on training traces only. */
export const DEFAULT_PRIOR: { readonly horizons: readonly number[]; readonly scores: readonly (readonly number[])[] } =
  {
    horizons: [1, 2, 5, 10, 30],
    scores: [
      [0.12857, 0.17243, 0.2198, 0.25219, 0.32767],
      [0.13471, 0.16528, 0.20593, 0.23671, 0.31391],
      [0.16392, 0.17982, 0.20965, 0.23813, 0.31294],
      [0.16573, 0.1853, 0.21896, 0.24759, 0.3219],
      [0.13928, 0.17528, 0.23082, 0.27663, 0.37696],
      [0.21072, 0.22025, 0.24256, 0.26655, 0.33144],
      [0.26009, 0.26674, 0.28391, 0.30209, 0.34519],
      [0.12447, 0.15957, 0.19847, 0.23051, 0.30679],
    ],
  };
