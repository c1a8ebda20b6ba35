import { predictorCompliance } from '@novacron/testkit/compliance/predictor';
import { SlidingMedianPredictor } from '../src/sliding-median.js';

predictorCompliance('sliding median', {
  setup: () => ({ predictor: new SlidingMedianPredictor(), create: () => new SlidingMedianPredictor() }),
});
