import type { Counter, Gauge, Histogram, HistogramOptions, Labels, MetricOptions, Metrics } from '@novacron/core';
import { invalidArgument } from '@novacron/core';
import promClient from 'prom-client';

/**
 * core's {@link Metrics} exported through prom-client: every package's
 * counters, gauges and histograms land in one registry that `/metrics`
 * serves in the Prometheus text format. Declaring a name twice returns the
 * same series when the declarations agree (like core's MemoryMetrics).
 */
export class PromMetrics implements Metrics {
  /** The prom-client registry (add your own collectors to it). */
  readonly registry: promClient.Registry;
  readonly #made = new Map<string, { kind: string; labels: string; metric: unknown }>();

  constructor(options: { readonly defaultLabels?: Labels; readonly processMetrics?: boolean } = {}) {
    this.registry = new promClient.Registry();
    if (options.defaultLabels) this.registry.setDefaultLabels({ ...options.defaultLabels });
    if (options.processMetrics) promClient.collectDefaultMetrics({ register: this.registry, prefix: 'novacron_' });
  }

  #get<T>(kind: string, options: MetricOptions, make: () => T): T {
    const labels = [...(options.labelNames ?? [])].sort().join(',');
    const existing = this.#made.get(options.name);
    if (existing) {
      if (existing.kind !== kind || existing.labels !== labels)
        throw invalidArgument('options.name', `the ${existing.kind} already declared as ${options.name}`, options.name);
      return existing.metric as T;
    }
    const metric = make();
    this.#made.set(options.name, { kind, labels, metric });
    return metric;
  }

  counter(options: MetricOptions): Counter {
    const c = this.#get(
      'counter',
      options,
      () =>
        new promClient.Counter({
          name: options.name,
          help: options.help,
          labelNames: [...(options.labelNames ?? [])],
          registers: [this.registry],
        }),
    );
    return { inc: (amount = 1, labels) => (labels ? c.inc({ ...labels }, amount) : c.inc(amount)) };
  }

  gauge(options: MetricOptions): Gauge {
    const g = this.#get(
      'gauge',
      options,
      () =>
        new promClient.Gauge({
          name: options.name,
          help: options.help,
          labelNames: [...(options.labelNames ?? [])],
          registers: [this.registry],
        }),
    );
    return {
      set: (v, labels) => (labels ? g.set({ ...labels }, v) : g.set(v)),
      inc: (v = 1, labels) => (labels ? g.inc({ ...labels }, v) : g.inc(v)),
      dec: (v = 1, labels) => (labels ? g.dec({ ...labels }, v) : g.dec(v)),
    };
  }

  histogram(options: HistogramOptions): Histogram {
    const h = this.#get(
      'histogram',
      options,
      () =>
        new promClient.Histogram({
          name: options.name,
          help: options.help,
          labelNames: [...(options.labelNames ?? [])],
          ...(options.buckets ? { buckets: [...options.buckets] } : {}),
          registers: [this.registry],
        }),
    );
    return { observe: (v, labels) => (labels ? h.observe({ ...labels }, v) : h.observe(v)) };
  }

  /** The Prometheus text exposition of every metric. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Content type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
