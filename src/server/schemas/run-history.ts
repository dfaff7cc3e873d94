/**
 * Schemas of a run's history: its stored events (`GET /v1/runs/:id/events`) and its
 * state as of any event (`GET /v1/runs/:id/state`, time travel), with their queries.
 * @module
 */
import * as z from 'zod';
import { RunErrorSchema, UsageSchema, queryInt } from './common.ts';
import { NodeStateSchema } from './run-views.ts';

/**
 * Schema of a stored event of a run's log (`StoredEvent`): `runId`, `seq`, `ts`, `type` and the event's own fields.
 *
 * @example
 * ```ts
 * StoredEventSchema.parse({ runId: 'r-1', seq: 0, ts: 1, type: 'run.started' });
 * ```
 */
export const StoredEventSchema = z.looseObject({
  runId: z.string(),
  seq: z.number().int(),
  ts: z.number(),
  type: z.string(),
  nodeId: z.string().optional(),
}).meta({ id: 'StoredEvent' });

/**
 * Schema of `GET /v1/runs/:id/events`'s query: a window of the log by `seq` (inclusive).
 *
 * @example
 * ```ts
 * EventsQuerySchema.parse({ fromSeq: '4' });
 * ```
 */
export const EventsQuerySchema = z.object({
  fromSeq: queryInt(0).optional(),
  toSeq: queryInt(0).optional(),
});

/**
 * Schema of a run's log (or a window of it).
 *
 * @example
 * ```ts
 * const { events } = RunEventsSchema.parse(await res.json());
 * ```
 */
export const RunEventsSchema = z.object({ events: z.array(StoredEventSchema) }).meta({ id: 'RunEvents' });

/**
 * Schema of `GET /v1/runs/:id/state`'s query: the `seq` to look at (default the last).
 *
 * @example
 * ```ts
 * StateQuerySchema.parse({ seq: '3' });
 * ```
 */
export const StateQuerySchema = z.object({ seq: queryInt(0).optional() });

/**
 * Schema of a run's state as of one event (time travel): the fold of its log up to `seq`.
 *
 * @example
 * ```ts
 * const s = RunStateSchema.parse(await res.json());
 * ```
 */
export const RunStateSchema = z.object({
  seq: z.number().int(),
  status: z.enum(['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled']),
  nodes: z.record(z.string(), NodeStateSchema),
  output: z.unknown().optional(),
  error: RunErrorSchema.optional(),
  usage: UsageSchema.optional(),
}).meta({ id: 'RunState' });
