/**
 * Schemas of the `/v1/runs` API: what a request carries and what each reply holds.
 * The component schemas (`.meta({ id })`) are the OpenAPI document's named schemas.
 * They live by concept in `run-views.ts` (reading runs), `run-start.ts` (starting one),
 * `run-history.ts` (its log and state at any event) and `run-actions.ts` (cancel,
 * signal, fork); this module gathers them. Keep the order of the re-exports below:
 * it is the order in which the files load, and so the order of the document's components.
 * @module
 */
export {
  RunStatusSchema, RunParamsSchema, RunSummarySchema, NodeStateSchema, RunViewSchema, ListRunsQuerySchema, RunListSchema,
} from './run-views.ts';
export type { RunSummary, RunView } from './run-views.ts';
export { StartRunBodySchema, RunAcceptedSchema, RunOutcomeSchema } from './run-start.ts';
export { StoredEventSchema, EventsQuerySchema, RunEventsSchema, StateQuerySchema, RunStateSchema } from './run-history.ts';
export { CancelBodySchema, CancelledSchema, SignalParamsSchema, SignalBodySchema, SignalledSchema, ForkBodySchema } from './run-actions.ts';
