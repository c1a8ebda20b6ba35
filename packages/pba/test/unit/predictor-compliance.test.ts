import {
  EwmaPredictor,
  HarmonicMeanPredictor,
  HoltPredictor,
  LastValuePredictor,
  RobustMpcPredictor,
  defaultPredictor,
} from '@novacron/pba';
import { predictorCompliance } from '@novacron/testkit/compliance/predictor';

const kinds = {
  'last value': () => new LastValuePredictor(),
  'ewma α=0.3': () => new EwmaPredictor(),
  'harmonic mean k=5': () => new HarmonicMeanPredictor(),
  'robust-mpc k=5': () => new RobustMpcPredictor(),
  holt: () => new HoltPredictor(),
  'holt damped': () => new HoltPredictor({ damping: 0.8 }),
  'default ensemble': () => defaultPredictor(),
};

for (const [name, make] of Object.entries(kinds)) {
  predictorCompliance(name, { setup: () => ({ predictor: make(), create: make }) });
}
