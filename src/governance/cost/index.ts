/**
 * Cost attribution on the bus: live totals per tenant, user, project, topology, node, model or
 * variant, and alerts when a key's spend rate jumps above k x its trailing mean.
 *
 * @example
 * ```ts
 * import { watchCost } from 'llm-orchestrator/governance';
 * watchCost(engine.events$, { dims: ['tenant'] }).subscribe((e) => console.log(e.type));
 * ```
 * @module
 */
export { WatchCostOptionsSchema, watchCost, type WatchCostOptions } from './watch.ts';
export type { CostAnomalyEvent, CostEvent, CostKey, CostTotalsEvent, CostTotalsRow } from './events.ts';
