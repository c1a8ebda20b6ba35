import { invalidArgument } from '../validate.js';

/** Label values of one series, e.g. `{ lane: '3', mode: 'internet' }`. */
export type Labels = Readonly<Record<string, string>>;

/** Declares a metric: Prometheus-style name, help text and allowed label names. */
export interface MetricOptions {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`, e.g. `novacron_amst_bytes_sent_total`. */
  readonly name: string;
  /** One line describing the metric. */
  readonly help: string;
  /** Label names every observation must carry (default: none). */
  readonly labelNames?: readonly string[];
}

/** Declares a histogram; `buckets` are upper bounds in ascending order. */
export interface HistogramOptions extends MetricOptions {
  readonly buckets?: readonly number[];
}

/** A monotonically increasing count. */
export interface Counter {
  /** Adds `amount` (default 1, must be >= 0). */
  inc(amount?: number, labels?: Labels): void;
}

/** A value that goes up and down. */
export interface Gauge {
  set(value: number, labels?: Labels): void;
  inc(amount?: number, labels?: Labels): void;
  dec(amount?: number, labels?: Labels): void;
}

/** A distribution of observations in buckets. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
}

/**
 * Where components report measurements. Optional at every call site:
 * components default to {@link noopMetrics}. Exporters (Prometheus text,
 * OpenTelemetry) live in `@novacron/node`.
 */
export interface Metrics {
  counter(options: MetricOptions): Counter;
  gauge(options: MetricOptions): Gauge;
  histogram(options: HistogramOptions): Histogram;
}

/** Default histogram buckets: milliseconds-friendly, 0.1 to 10,000. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
];

const noop = (): void => {};
const noopGauge: Gauge = { set: noop, inc: noop, dec: noop };

/** Metrics that record nothing. */
export function noopMetrics(): Metrics {
  return { counter: () => ({ inc: noop }), gauge: () => noopGauge, histogram: () => ({ observe: noop }) };
}

/** One series in a {@link MetricSnapshot}. */
export interface SeriesSnapshot {
  readonly labels: Labels;
  /** Counter or gauge value; histogram sum. */
  readonly value: number;
  /** Histograms only: observation count. */
  readonly count?: number;
  /** Histograms only: cumulative count per bucket upper bound (`+Inf` last). */
  readonly buckets?: readonly { readonly le: number; readonly count: number }[];
}

/** A read-out of one metric from {@link MemoryMetrics}. */
export interface MetricSnapshot {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly series: readonly SeriesSnapshot[];
}

interface Series {
  labels: Labels;
  value: number;
  count: number;
  bucketCounts: number[];
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  labelNames: readonly string[];
  buckets: readonly number[];
  series: Map<string, Series>;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Metrics kept in memory, readable with {@link MemoryMetrics.snapshot}.
 * Tests use it to assert on what a component measured; the node's exporter
 * reads it. Declaring the same name twice returns the same family when the
 * declarations agree and throws when they do not.
 */
export class MemoryMetrics implements Metrics {
  #families = new Map<string, Family>();

  counter(options: MetricOptions): Counter {
    const f = this.#family('counter', options, []);
    return {
      inc: (amount = 1, labels) => {
        if (!(amount >= 0)) throw invalidArgument('amount', 'a non-negative number', amount);
        this.#series(f, labels).value += amount;
      },
    };
  }

  gauge(options: MetricOptions): Gauge {
    const f = this.#family('gauge', options, []);
    return {
      set: (value, labels) => {
        this.#series(f, labels).value = value;
      },
      inc: (amount = 1, labels) => {
        this.#series(f, labels).value += amount;
      },
      dec: (amount = 1, labels) => {
        this.#series(f, labels).value -= amount;
      },
    };
  }

  histogram(options: HistogramOptions): Histogram {
    const buckets = options.buckets ?? DEFAULT_BUCKETS;
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) throw invalidArgument('buckets', 'strictly ascending numbers', buckets);
    }
    const f = this.#family('histogram', options, buckets);
    return {
      observe: (value, labels) => {
        const s = this.#series(f, labels);
        s.value += value;
        s.count++;
        const i = f.buckets.findIndex((le) => value <= le);
        s.bucketCounts[i === -1 ? f.buckets.length : i]!++;
      },
    };
  }

  /** Current values of every metric, in declaration order. */
  snapshot(): MetricSnapshot[] {
    return [...this.#families.values()].map((f) => ({
      name: f.name,
      help: f.help,
      type: f.type,
      series: [...f.series.values()].map((s) => {
        if (f.type !== 'histogram') return { labels: s.labels, value: s.value };
        let cumulative = 0;
        const buckets = [...f.buckets, Number.POSITIVE_INFINITY].map((le, i) => {
          cumulative += s.bucketCounts[i]!;
          return { le, count: cumulative };
        });
        return { labels: s.labels, value: s.value, count: s.count, buckets };
      }),
    }));
  }

  /** Value of one counter or gauge series (0 when never touched); histogram sum. */
  value(name: string, labels: Labels = {}): number {
    const f = this.#families.get(name);
    return f?.series.get(labelKey(f.labelNames, labels))?.value ?? 0;
  }

  #family(type: Family['type'], options: MetricOptions, buckets: readonly number[]): Family {
    if (!NAME_RE.test(options.name)) throw invalidArgument('options.name', 'a Prometheus metric name', options.name);
    const labelNames = [...(options.labelNames ?? [])].sort();
    const existing = this.#families.get(options.name);
    if (existing) {
      if (
        existing.type !== type ||
        existing.labelNames.join() !== labelNames.join() ||
        existing.buckets.join() !== buckets.join()
      ) {
        throw invalidArgument('options.name', `the ${existing.type} already declared as ${options.name}`, options.name);
      }
      return existing;
    }
    const family: Family = { name: options.name, help: options.help, type, labelNames, buckets, series: new Map() };
    this.#families.set(options.name, family);
    return family;
  }

  #series(f: Family, labels: Labels = {}): Series {
    const key = labelKey(f.labelNames, labels);
    let s = f.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, value: 0, count: 0, bucketCounts: new Array(f.buckets.length + 1).fill(0) };
      f.series.set(key, s);
    }
    return s;
  }
}

function labelKey(labelNames: readonly string[], labels: Labels): string {
  const given = Object.keys(labels).sort();
  if (given.join() !== labelNames.join())
    throw invalidArgument('labels', `exactly the labels [${labelNames.join(', ')}]`, labels);
  return JSON.stringify(labelNames.map((n) => labels[n]));
}
