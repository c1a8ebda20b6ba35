/**
 * `@novacron/itp`: intelligent VM placement. A Kubernetes-style plugin
 * pipeline (pre-filter, filter, score, normalise, reserve, bind) over an
 * indexed cluster state, built-in bin-packing, spread, alignment and
 * geographic multi-objective policies, a hybrid chooser, an in-memory
 * capacity ledger with reservations, TTLs, generations and escrow, and a
 * seeded workload generator from published VM statistics.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export * from './label-selector.js';
export * from './validate-request.js';
export * from './cluster-state.js';
export * from './pipeline.js';
export * from './preemption.js';
export * from './policies.js';
export * from './plugins/capacity-fit.js';
export * from './plugins/affinity-filter.js';
export * from './plugins/constraints-filter.js';
export * from './plugins/resource-scorers.js';
export * from './plugins/preferred-affinity.js';
export * from './plugins/geo-objective.js';
export * from './memory-capacity-ledger.js';
export * from './ledger-binding.js';
export * from './workload/parameters.js';
export * from './workload/generator.js';
export * from './plugins/learned-scorer.js';
export * from './rebalance-planner.js';
export * from './batch-packer.js';
export * from './escrow-journal.js';
