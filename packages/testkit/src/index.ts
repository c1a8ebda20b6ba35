/**
 * `@novacron/testkit`: deterministic simulation, history checking and the
 * compliance suites for NovaCron's pluggable contracts.
 *
 * @packageDocumentation
 */
export * from './sim/trace.js';
export * from './sim/world.js';
