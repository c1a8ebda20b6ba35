import {
  CoreErrorCode,
  classifyLinkMode,
  DEFAULT_MODE_THRESHOLDS,
  isNovacronError,
  type LinkMode,
  type LinkSample,
  type ModeChange,
  ModeDetector,
  type ModeDetectorOptions,
  seededRng,
} from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNovacronError } from '@novacron/testkit/vitest';

const GBIT = 1e9;
const MBIT = 1e6;

/** A detector plus a recorder of its change events and a sample clock. */
function harness(options: ModeDetectorOptions = {}) {
  const detector = new ModeDetector(options);
  const changes: ModeChange[] = [];
  detector.onChange((c) => changes.push(c));
  let at = 0;
  const feed = (rttMs: number, bandwidthBps?: number, step = 100): LinkMode => {
    at += step;
    return detector.observe({ at, rttMs, ...(bandwidthBps === undefined ? {} : { bandwidthBps }) });
  };
  /** Feeds `n` identical samples; returns the 1-based index of the first one that changed the mode, if any. */
  const feedN = (n: number, rttMs: number, bandwidthBps?: number): number | undefined => {
    const before = changes.length;
    let first: number | undefined;
    for (let i = 1; i <= n; i++) {
      feed(rttMs, bandwidthBps);
      if (first === undefined && changes.length > before) first = i;
    }
    return first;
  };
  return { detector, changes, feed, feedN };
}

describe('classifyLinkMode', () => {
  it('applies the nominal rules, with ties on the documented side', () => {
    expect(classifyLinkMode(0.5, 0.94 * GBIT)).toBe('datacenter');
    expect(classifyLinkMode(9.99)).toBe('datacenter');
    expect(classifyLinkMode(10)).toBe('hybrid');
    expect(classifyLinkMode(50)).toBe('hybrid');
    expect(classifyLinkMode(50.01)).toBe('internet');
    expect(classifyLinkMode(1, 0.9 * GBIT)).toBe('datacenter');
    expect(classifyLinkMode(1, 0.899 * GBIT)).toBe('hybrid');
    expect(classifyLinkMode(1, 100 * MBIT)).toBe('hybrid');
    expect(classifyLinkMode(1, 99 * MBIT)).toBe('internet');
    expect(classifyLinkMode(1, 0)).toBe('internet');
  });

  it('honours custom thresholds', () => {
    const t = { ...DEFAULT_MODE_THRESHOLDS, datacenterRttMs: 2 };
    expect(classifyLinkMode(3, undefined, t)).toBe('hybrid');
  });
});

describe('ModeDetector: first samples and defaults', () => {
  it('reports defaultMode before any sample and sets the mode from the first sample at once', () => {
    const { detector, changes, feed } = harness();
    expect(detector.mode).toBe('hybrid');
    expect(detector.measuredMode).toBeUndefined();
    expect(feed(0.5, 0.94 * GBIT)).toBe('datacenter');
    expect(detector.measuredMode).toBe('datacenter');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ from: 'hybrid', to: 'datacenter', at: 100 });
    expect(changes[0]!.reason).toMatchObject({ kind: 'measurement', initial: true, samples: 1 });
  });

  it('a 1 GbE link at 0.5 ms RTT and 0.94 Gbit/s is datacenter', () => {
    const { detector, feedN } = harness();
    feedN(20, 0.5, 0.94 * GBIT);
    expect(detector.mode).toBe('datacenter');
    expect(detector.smoothedBandwidthBps).toBe(0.94 * GBIT);
    expect(detector.smoothedRttMs).toBe(0.5);
  });

  it('emits nothing when the first sample agrees with defaultMode', () => {
    const { detector, changes, feed } = harness({ defaultMode: 'internet' });
    feed(80);
    expect(detector.mode).toBe('internet');
    expect(changes).toEqual([]);
  });

  it('an initial hybrid names the measurement that kept it out of datacenter', () => {
    const { changes, feed } = harness({ defaultMode: 'datacenter' });
    feed(1, 0.5 * GBIT);
    expect(changes[0]!.reason).toMatchObject({
      kind: 'measurement',
      metric: 'bandwidthBps',
      threshold: 0.9 * GBIT,
      direction: 'below',
    });
  });
});

describe('ModeDetector: transitions', () => {
  it('datacenter -> hybrid -> internet and back, each after exactly floor(W/2) + N samples', () => {
    // Defaults: window 5, confirmSamples 3 -> the 5th sample after a step fires.
    const { detector, changes, feedN } = harness();
    expect(feedN(5, 1, 10 * GBIT)).toBe(1); // initial classification
    expect(detector.mode).toBe('datacenter');

    expect(feedN(10, 20, 500 * MBIT)).toBe(5);
    expect(detector.mode).toBe('hybrid');
    expect(feedN(10, 120, 50 * MBIT)).toBe(5);
    expect(detector.mode).toBe('internet');
    expect(feedN(10, 20, 500 * MBIT)).toBe(5);
    expect(detector.mode).toBe('hybrid');
    expect(feedN(10, 1, 10 * GBIT)).toBe(5);
    expect(detector.mode).toBe('datacenter');

    expect(changes.map((c) => `${c.from}>${c.to}`)).toEqual([
      'hybrid>datacenter',
      'datacenter>hybrid',
      'hybrid>internet',
      'internet>hybrid',
      'hybrid>datacenter',
    ]);
    for (const c of changes.slice(1))
      expect(c.reason).toMatchObject({ kind: 'measurement', samples: 3, initial: false });
  });

  it('fires after exactly confirmSamples samples without smoothing', () => {
    for (const confirmSamples of [1, 2, 3, 7]) {
      const { detector, feedN } = harness({ window: 1, confirmSamples });
      feedN(3, 1);
      expect(feedN(20, 30)).toBe(confirmSamples);
      expect(detector.mode).toBe('hybrid');
    }
  });

  it('fires after exactly floor(W/2) + N samples for other odd windows', () => {
    for (const [window, confirmSamples] of [
      [3, 1],
      [3, 4],
      [9, 2],
    ] as const) {
      const { feedN } = harness({ window, confirmSamples });
      feedN(window, 1);
      expect(feedN(30, 100)).toBe(Math.floor(window / 2) + confirmSamples);
    }
  });

  it('a direct step datacenter -> internet goes straight to internet', () => {
    const { detector, changes, feedN } = harness();
    feedN(5, 1);
    expect(feedN(10, 200)).toBe(5);
    expect(detector.mode).toBe('internet');
    expect(changes.at(-1)).toMatchObject({ from: 'datacenter', to: 'internet' });
    expect(changes.at(-1)!.reason).toMatchObject({
      metric: 'rttMs',
      value: 200,
      threshold: 50,
      trigger: expect.closeTo(57.5, 9),
      direction: 'above',
    });
  });

  it('a direct step internet -> datacenter goes straight to datacenter', () => {
    const { detector, feedN } = harness();
    feedN(5, 200);
    expect(feedN(10, 0.5, 0.94 * GBIT)).toBe(5);
    expect(detector.mode).toBe('datacenter');
  });

  it('reports the measurement that crossed: bandwidth drop with RTT still low', () => {
    const { changes, feedN } = harness({ window: 1 });
    feedN(3, 1, 0.94 * GBIT);
    feedN(3, 1, 0.3 * GBIT);
    expect(changes.at(-1)).toMatchObject({ from: 'datacenter', to: 'hybrid', at: 600 });
    expect(changes.at(-1)!.reason).toEqual({
      kind: 'measurement',
      metric: 'bandwidthBps',
      value: 0.3 * GBIT,
      threshold: 0.9 * GBIT,
      trigger: expect.closeTo(0.765 * GBIT, 3),
      direction: 'below',
      samples: 3,
      initial: false,
    });
  });

  it('entering datacenter names the measurement closest to its threshold', () => {
    const { changes, feedN } = harness({ window: 1 });
    feedN(3, 30, 10 * GBIT);
    feedN(3, 9, 10 * GBIT); // RTT 10% inside, bandwidth 1000% inside -> RTT crossed last
    expect(changes.at(-1)!.reason).toMatchObject({ metric: 'rttMs', value: 9, threshold: 10, direction: 'below' });
    const h = harness({ window: 1 });
    h.feedN(3, 1, 0.5 * GBIT);
    h.feedN(3, 1, 0.95 * GBIT);
    expect(h.changes.at(-1)!.reason).toMatchObject({ metric: 'bandwidthBps', direction: 'above' });
  });

  it('entering internet names the measurement farthest beyond its threshold', () => {
    const a = harness({ window: 1 });
    a.feedN(3, 20, 500 * MBIT);
    a.feedN(3, 200, 80 * MBIT); // RTT 300% beyond, bandwidth 20% below
    expect(a.changes.at(-1)!.reason).toMatchObject({ metric: 'rttMs', value: 200, direction: 'above' });
    const b = harness({ window: 1 });
    b.feedN(3, 20, 500 * MBIT);
    b.feedN(3, 60, 1 * MBIT); // RTT 20% beyond, bandwidth 99% below
    expect(b.changes.at(-1)!.reason).toMatchObject({
      metric: 'bandwidthBps',
      threshold: 100 * MBIT,
      direction: 'below',
    });
  });

  it('from hybrid, samples pointing alternately faster and slower never confirm', () => {
    const { detector, changes, feed } = harness({ window: 1, confirmSamples: 2 });
    feed(30);
    for (let i = 0; i < 100; i++) feed(i % 2 === 0 ? 5 : 100);
    expect(detector.mode).toBe('hybrid');
    expect(changes).toEqual([]);
  });

  it('a mixed run from datacenter moves only as far as every sample supports', () => {
    const { detector, feed } = harness({ window: 1, confirmSamples: 3 });
    feed(1);
    feed(40); // clearly hybrid
    feed(90); // clearly internet
    feed(90);
    expect(detector.mode).toBe('hybrid');
  });

  it('RTT-only samples decide by RTT alone', () => {
    const { detector, feedN } = harness();
    feedN(5, 3);
    expect(detector.mode).toBe('datacenter');
    expect(detector.smoothedBandwidthBps).toBeUndefined();
    feedN(5, 30);
    expect(detector.mode).toBe('hybrid');
    feedN(5, 300);
    expect(detector.mode).toBe('internet');
  });

  it('bandwidth medians use only the samples that carry bandwidth', () => {
    const { detector, feed } = harness();
    feed(1, 50 * MBIT);
    expect(detector.mode).toBe('internet');
    feed(1);
    feed(1);
    expect(detector.smoothedBandwidthBps).toBe(50 * MBIT);
    feed(1, 70 * MBIT);
    expect(detector.smoothedBandwidthBps).toBe(60 * MBIT);
  });

  it('a minimum dwell delays the change until enough sample time has passed', () => {
    const { detector, changes, feed } = harness({ window: 1, confirmSamples: 2, minDwellMs: 1000 });
    feed(1, undefined, 0);
    const firedAt: number[] = [];
    detector.onChange((c) => firedAt.push(c.at as number));
    // Samples every 200 ms from t=200: the run starts at t=200; 1000 ms later is t=1200, the 6th sample.
    for (let i = 0; i < 10; i++) feed(30, undefined, 200);
    expect(firedAt).toEqual([1200]);
    expect(changes.at(-1)!.reason).toMatchObject({ samples: 6 });
  });

  it('the first sample to disagree ends a run', () => {
    const { detector, feed } = harness({ window: 1, confirmSamples: 3 });
    feed(1);
    feed(30);
    feed(30);
    feed(1);
    feed(30);
    feed(30);
    expect(detector.mode).toBe('datacenter');
    feed(30);
    expect(detector.mode).toBe('hybrid');
  });
});

describe('ModeDetector: hysteresis (no flapping)', () => {
  it('RTT alternating 9.5 / 10.5 ms does not flap, whichever mode it starts in', () => {
    const cases: [ModeDetectorOptions, number, number][] = [
      [{}, 1, 0],
      [{}, 30, 0],
      // Unsmoothed and unconfirmed: the first 9.5 upgrades hybrid once, then the margin holds datacenter.
      [{ window: 1, confirmSamples: 1 }, 1, 0],
      [{ window: 1, confirmSamples: 1 }, 30, 1],
      // No margin at all: confirmation alone stops alternation from flapping.
      [{ margin: 0, window: 1, confirmSamples: 2 }, 1, 0],
      [{ margin: 0, window: 1, confirmSamples: 2 }, 30, 0],
    ];
    for (const [options, start, expected] of cases) {
      const { changes, feedN, feed } = harness(options);
      feedN(5, start);
      const before = changes.length;
      for (let i = 0; i < 200; i++) feed(i % 2 === 0 ? 9.5 : 10.5);
      expect(changes.length - before, JSON.stringify({ options, start })).toBe(expected);
    }
  });

  it('bandwidth alternating around 0.9 Gbit/s does not flap', () => {
    const { detector, changes, feed } = harness();
    feed(1, 0.95 * GBIT);
    for (let i = 0; i < 200; i++) feed(1, i % 2 === 0 ? 0.88 * GBIT : 0.92 * GBIT);
    expect(detector.mode).toBe('datacenter');
    expect(changes).toHaveLength(1);
  });

  it('RTT alternating around 50 ms does not flap', () => {
    const { changes, feed, feedN } = harness();
    feedN(5, 30);
    for (let i = 0; i < 200; i++) feed(i % 2 === 0 ? 48 : 53);
    expect(changes).toHaveLength(0);
  });

  it('random noise inside the margin never changes the mode', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(1, 30), (seed, start) => {
        const rng = seededRng(seed);
        const { detector, changes, feedN, feed } = harness({ window: 1, confirmSamples: 1 });
        feedN(1, start);
        const mode = detector.mode;
        const before = changes.length;
        // From datacenter: within [10, 11.5), past the threshold but not by the 15% margin.
        // From hybrid: anywhere in [10, 50], the nominal hybrid band.
        for (let i = 0; i < 300; i++) feed(start === 1 ? 10 + rng.next() * 1.49 : 10 + rng.next() * 40);
        expect(detector.mode).toBe(mode);
        expect(changes.length).toBe(before);
      }),
      { numRuns: 50 },
    );
  });

  it('spikes shorter than half the window are ignored entirely', () => {
    const { changes, feed, feedN } = harness({ confirmSamples: 1 });
    feedN(5, 1);
    for (let i = 0; i < 50; i++) {
      feed(500);
      feed(500);
      feed(1);
      feed(1);
      feed(1);
    }
    expect(changes.filter((c) => !(c.reason.kind === 'measurement' && c.reason.initial))).toEqual([]);
  });

  it('a link settled inside the margin keeps whichever mode it had', () => {
    const a = harness({ window: 1 });
    a.feedN(3, 1);
    a.feedN(20, 11);
    expect(a.detector.mode).toBe('datacenter');
    const b = harness({ window: 1 });
    b.feedN(3, 30);
    b.feedN(20, 11);
    expect(b.detector.mode).toBe('hybrid');
  });
});

describe('ModeDetector: override', () => {
  it('always wins, keeps tracking measurements, and clearing returns to the measured mode', () => {
    const { detector, changes, feedN } = harness();
    feedN(5, 1);
    detector.setOverride('internet');
    expect(detector.mode).toBe('internet');
    expect(detector.override).toBe('internet');
    expect(changes.at(-1)).toEqual({
      from: 'datacenter',
      to: 'internet',
      at: 500,
      reason: { kind: 'override', override: 'internet' },
    });
    const n = changes.length;
    feedN(10, 30); // measured moves to hybrid silently
    expect(detector.measuredMode).toBe('hybrid');
    expect(detector.mode).toBe('internet');
    expect(changes).toHaveLength(n);

    detector.clearOverride();
    expect(detector.override).toBeUndefined();
    expect(detector.mode).toBe('hybrid');
    expect(changes.at(-1)).toMatchObject({
      from: 'internet',
      to: 'hybrid',
      reason: { kind: 'override', override: undefined },
    });
  });

  it('emits nothing when the effective mode does not move', () => {
    const { detector, changes, feedN } = harness();
    feedN(5, 1);
    const n = changes.length;
    detector.setOverride('datacenter');
    detector.clearOverride();
    detector.clearOverride();
    expect(changes).toHaveLength(n);
  });

  it('before any sample, clearing returns to defaultMode and the event has no time', () => {
    const { detector, changes } = harness({ defaultMode: 'internet' });
    detector.setOverride('datacenter');
    expect(changes[0]).toMatchObject({ from: 'internet', to: 'datacenter', at: undefined });
    detector.clearOverride();
    expect(detector.mode).toBe('internet');
  });

  it('switching overrides emits each move', () => {
    const { detector, changes } = harness();
    detector.setOverride('datacenter');
    detector.setOverride('internet');
    expect(changes.map((c) => c.to)).toEqual(['datacenter', 'internet']);
  });

  it('rejects a value that is not a link mode', () => {
    const d = new ModeDetector();
    expectNovacronError(() => d.setOverride('lan' as LinkMode), CoreErrorCode.INVALID_ARGUMENT);
    expect(d.override).toBeUndefined();
  });
});

describe('ModeDetector: invalid samples', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['NaN rtt', { at: 1, rttMs: Number.NaN }],
    ['negative rtt', { at: 1, rttMs: -1 }],
    ['infinite rtt', { at: 1, rttMs: Number.POSITIVE_INFINITY }],
    ['missing rtt', { at: 1 }],
    ['string rtt', { at: 1, rttMs: '5' }],
    ['negative bandwidth', { at: 1, rttMs: 1, bandwidthBps: -5 }],
    ['NaN bandwidth', { at: 1, rttMs: 1, bandwidthBps: Number.NaN }],
    ['infinite bandwidth', { at: 1, rttMs: 1, bandwidthBps: Number.POSITIVE_INFINITY }],
    ['loss above 1', { at: 1, rttMs: 1, lossRate: 1.5 }],
    ['negative loss', { at: 1, rttMs: 1, lossRate: -0.1 }],
    ['negative jitter', { at: 1, rttMs: 1, jitterMs: -1 }],
    ['missing at', { rttMs: 1 }],
    ['NaN at', { at: Number.NaN, rttMs: 1 }],
    ['numeric source', { at: 1, rttMs: 1, source: 3 }],
  ];

  for (const [name, sample] of bad) {
    it(`rejects ${name} with CORE_LINK_SAMPLE_INVALID and changes nothing`, () => {
      const { detector, changes, feedN } = harness({ window: 1, confirmSamples: 1 });
      const fresh = new ModeDetector();
      expectNovacronError(() => fresh.observe(sample as unknown as LinkSample), CoreErrorCode.LINK_SAMPLE_INVALID);
      expect(fresh.measuredMode).toBeUndefined();
      expect(fresh.smoothedRttMs).toBeUndefined();

      feedN(1, 30); // hybrid, last at = 100
      const n = changes.length;
      // at 1 is also in the past here; give it a valid time so the field under test is what fails.
      const later = { ...sample, ...(Number.isFinite(sample.at) ? { at: 1000 } : {}) };
      expectNovacronError(() => detector.observe(later as LinkSample), CoreErrorCode.LINK_SAMPLE_INVALID);
      expect(detector.smoothedRttMs).toBe(30);
      expect(changes).toHaveLength(n);
      detector.observe({ at: 1000, rttMs: 1 });
      expect(detector.mode).toBe('datacenter');
    });
  }

  it('rejects non-objects', () => {
    const d = new ModeDetector();
    for (const v of [null, undefined, 5, 'x', []])
      expectNovacronError(() => d.observe(v as never), CoreErrorCode.LINK_SAMPLE_INVALID);
  });

  it('rejects time going backwards, accepts equal times', () => {
    const d = new ModeDetector();
    d.observe({ at: 10, rttMs: 1 });
    d.observe({ at: 10, rttMs: 1 });
    expectNovacronError(() => d.observe({ at: 9, rttMs: 1 }), CoreErrorCode.LINK_SAMPLE_INVALID);
  });

  it('names the field in the error details', () => {
    try {
      new ModeDetector().observe({ at: 0, rttMs: 1, bandwidthBps: -1 });
      expect.unreachable();
    } catch (err) {
      expect(isNovacronError(err, CoreErrorCode.LINK_SAMPLE_INVALID)).toBe(true);
      expect((err as { details: unknown }).details).toMatchObject({ field: 'bandwidthBps', received: 'number -1' });
    }
  });

  it('a rejected sample does not break a confirming run', () => {
    const { detector, feed } = harness({ window: 1, confirmSamples: 3 });
    feed(1);
    feed(30);
    feed(30);
    expect(() => detector.observe({ at: 10_000, rttMs: Number.NaN })).toThrow();
    feed(30);
    expect(detector.mode).toBe('hybrid');
  });

  it('accepts zero RTT and zero bandwidth', () => {
    const d = new ModeDetector();
    expect(d.observe({ at: 0, rttMs: 0, bandwidthBps: 0, lossRate: 1, jitterMs: 0, source: 'probe' })).toBe('internet');
  });
});

describe('ModeDetector: options', () => {
  const invalid: [string, unknown][] = [
    ['margin negative', { margin: -0.1 }],
    ['margin 1', { margin: 1 }],
    ['margin NaN', { margin: Number.NaN }],
    ['even window', { window: 4 }],
    ['window 0', { window: 0 }],
    ['window too large', { window: 257 }],
    ['confirmSamples 0', { confirmSamples: 0 }],
    ['fractional confirmSamples', { confirmSamples: 1.5 }],
    ['negative dwell', { minDwellMs: -1 }],
    ['unknown defaultMode', { defaultMode: 'lan' }],
    ['zero threshold', { thresholds: { datacenterRttMs: 0 } }],
    ['infinite threshold', { thresholds: { internetRttMs: Number.POSITIVE_INFINITY } }],
    ['rtt thresholds reversed', { thresholds: { datacenterRttMs: 60 } }],
    ['bandwidth thresholds reversed', { thresholds: { internetBandwidthBps: 2 * GBIT } }],
    ['thresholds not an object', { thresholds: 5 }],
    ['options null', null],
  ];
  for (const [name, options] of invalid) {
    it(`rejects ${name} with CORE_INVALID_ARGUMENT`, () => {
      expectNovacronError(() => new ModeDetector(options as ModeDetectorOptions), CoreErrorCode.INVALID_ARGUMENT);
    });
  }

  it('merges partial thresholds with the defaults and uses them', () => {
    const d = new ModeDetector({ thresholds: { datacenterRttMs: 2, internetRttMs: undefined } });
    expect(d.thresholds).toEqual({ ...DEFAULT_MODE_THRESHOLDS, datacenterRttMs: 2 });
    expect(d.observe({ at: 0, rttMs: 3 })).toBe('hybrid');
  });

  it('allows equal thresholds (no hybrid band on that metric)', () => {
    const d = new ModeDetector({
      thresholds: { datacenterRttMs: 20, internetRttMs: 20 },
      window: 1,
      confirmSamples: 1,
    });
    expect(d.observe({ at: 0, rttMs: 19 })).toBe('datacenter');
    expect(d.observe({ at: 1, rttMs: 40 })).toBe('internet');
  });
});

describe('ModeDetector: listeners', () => {
  it('unsubscribe stops delivery and is idempotent; the same function may register twice', () => {
    const d = new ModeDetector({ window: 1, confirmSamples: 1 });
    const seen: string[] = [];
    const f = (c: ModeChange) => seen.push(c.to);
    const off1 = d.onChange(f);
    const off2 = d.onChange(f);
    d.observe({ at: 0, rttMs: 1 });
    expect(seen).toEqual(['datacenter', 'datacenter']);
    off1();
    off1();
    d.observe({ at: 1, rttMs: 100 });
    expect(seen).toHaveLength(3);
    off2();
    d.observe({ at: 2, rttMs: 1 });
    expect(seen).toHaveLength(3);
  });

  it('a throwing listener does not stop the others; its error surfaces after the state is updated', () => {
    const d = new ModeDetector({ window: 1, confirmSamples: 1 });
    const seen: LinkMode[] = [];
    d.onChange(() => {
      throw new Error('listener bug');
    });
    d.onChange((c) => seen.push(c.to));
    expect(() => d.observe({ at: 0, rttMs: 1 })).toThrow('listener bug');
    expect(seen).toEqual(['datacenter']);
    expect(d.mode).toBe('datacenter');
  });

  it('events caused inside a listener are delivered in order to every listener', () => {
    const d = new ModeDetector({ window: 1, confirmSamples: 1 });
    const a: string[] = [];
    const b: string[] = [];
    d.onChange((c) => {
      a.push(`${c.from}>${c.to}`);
      if (c.to === 'datacenter') d.setOverride('internet');
    });
    d.onChange((c) => b.push(`${c.from}>${c.to}`));
    d.observe({ at: 0, rttMs: 1 });
    expect(a).toEqual(['hybrid>datacenter', 'datacenter>internet']);
    expect(b).toEqual(a);
  });

  it('rejects a non-function listener', () => {
    expectNovacronError(() => new ModeDetector().onChange(5 as never), CoreErrorCode.INVALID_ARGUMENT);
  });
});

describe('ModeDetector: determinism', () => {
  it('the same sample sequence gives the same events', () => {
    const run = () => {
      const rng = seededRng('mode-detector');
      const { changes, feed } = harness();
      for (let i = 0; i < 2000; i++) {
        const level = Math.floor(i / 100) % 3;
        feed([2, 25, 90][level]! * (0.5 + rng.next()), rng.chance(0.5) ? rng.next() * 2 * GBIT : undefined);
      }
      return changes;
    };
    const first = run();
    expect(first.length).toBeGreaterThan(5);
    expect(run()).toEqual(first);
  });
});
