/**
 * Schemas of the `/v1/runs` API: what a request carries and what each reply holds.
 * The component schemas (`.meta({ id })`) are the OpenAPI document's named schemas.
 * @module
 */
import * as z from 'zod';
import { NodeOverrideSchema } from '../../runtime/options.ts';
import { RunErrorSchema, UsageSchema } from './common.ts';

/**
 * Schema of a stored run's status.
 *
 * @example
 * ```ts
 * RunStatusSchema.parse('waiting');
 * ```
 */
export const RunStatusSchema = z.enum(['running', 'waiting', 'completed', 'failed', 'cancelled']).meta({ id: 'RunStatus' });

const RunId = z.string().min(1).max(200).regex(/^[\w.:-]+$/, 'use letters, digits, `_`, `.`, `:` and `-`');

/**
 * Schema of the path of one run's routes: `/v1/runs/:id`.
 *
 * @example
 * ```ts
 * RunParamsSchema.parse({ id: 'r-1' });
 * ```
 */
export const RunParamsSchema = z.object({ id: z.string().min(1) });

/**
 * Schema of a run in a list (`RunSummary`): its row, how long it took once ended, and
 * what it spent and which experiment variant it ran, when known.
 *
 * @example
 * ```ts
 * const s: RunSummary = RunSummarySchema.parse({ runId: 'r-1', topology: 'rag', version: 'v2:…', status: 'running', createdAt: 1, updatedAt: 2, lastSeq: 3 });
 * ```
 */
export const RunSummarySchema = z.object({
  runId: z.string(),
  topology: z.string(),
  version: z.string(),
  status: RunStatusSchema,
  createdAt: z.number(),
  updatedAt: z.number(),
  /** `seq` of the run's last stored event (-1 before the first). */
  lastSeq: z.number().int(),
  forkOf: z.object({ runId: z.string(), nodeId: z.string() }).optional(),
  wait: z.object({ nodeId: z.string(), name: z.string(), timeoutAt: z.number().optional() }).optional(),
  error: RunErrorSchema.optional(),
  /** Ended runs: last event's time minus creation time. */
  durationMs: z.number().optional(),
  usage: UsageSchema.optional(),
  variant: z.string().optional(),
}).meta({ id: 'RunSummary' });

/**
 * A run in a list.
 *
 * @example
 * ```ts
 * const ended = (s: RunSummary) => s.durationMs !== undefined;
 * ```
 */
export type RunSummary = z.infer<typeof RunSummarySchema>;

/**
 * Schema of a node's state in a run: status, output or error, and how many times it started.
 *
 * @example
 * ```ts
 * NodeStateSchema.parse({ status: 'completed', output: 'Hi', starts: 1 });
 * ```
 */
export const NodeStateSchema = z.object({
  status: z.enum(['running', 'completed', 'failed', 'skipped', 'cancelled']),
  output: z.unknown().optional(),
  error: RunErrorSchema.optional(),
  starts: z.number().int(),
}).meta({ id: 'NodeState' });

/**
 * Schema of one run (`RunView`): its summary, input, output and every node's state.
 *
 * @example
 * ```ts
 * const v: RunView = await (await fetch(`${url}/v1/runs/r-1`, { headers })).json();
 * ```
 */
export const RunViewSchema = RunSummarySchema.extend({
  input: z.unknown(),
  output: z.unknown().optional(),
  nodes: z.record(z.string(), NodeStateSchema),
}).meta({ id: 'RunView' });

/**
 * One run as the API shows it.
 *
 * @example
 * ```ts
 * const draft = (v: RunView) => v.nodes['draft']?.output;
 * ```
 */
export type RunView = z.infer<typeof RunViewSchema>;

/**
 * Schema of `GET /v1/runs`'s query: statuses (comma-separated), topology, page size and cursor.
 *
 * @example
 * ```ts
 * ListRunsQuerySchema.parse({ status: 'running,waiting', limit: '20' });
 * ```
 */
export const ListRunsQuerySchema = z.object({
  status: z.string().optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s.split(',').map((x) => x.trim())))
    .pipe(z.array(RunStatusSchema).optional()),
  topology: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().min(1).optional(),
});

/**
 * Schema of a page of runs, newest first; `next` is the cursor of the next page.
 *
 * @example
 * ```ts
 * const { runs, next } = RunListSchema.parse(await res.json());
 * ```
 */
export const RunListSchema = z.object({ runs: z.array(RunSummarySchema), next: z.string().optional() }).meta({ id: 'RunList' });

/**
 * Schema of `POST /v1/runs`'s body.
 *
 * @example
 * ```ts
 * StartRunBodySchema.parse({ topology: 'rag', input: { question: 'why?' }, wait: true });
 * ```
 */
export const StartRunBodySchema = z.strictObject({
  topology: z.string().min(1).max(200),
  /** The topology's input (its schema checks it). */
  input: z.unknown(),
  /** Answer with the run's outcome once it ends (at most the server's `waitTimeoutMs`). Default false. */
  wait: z.boolean().default(false),
  /** The run's id; default a random UUID. A taken id answers 409 RUN_EXISTS. */
  runId: RunId.optional(),
  project: z.string().min(1).max(200).optional(),
}).meta({ id: 'StartRun' });

/**
 * Schema of the reply to a run accepted but not (yet) ended: 202.
 *
 * @example
 * ```ts
 * RunAcceptedSchema.parse({ runId: 'r-1', status: 'running', links: { self: '/v1/runs/r-1', stream: '/v1/runs/r-1/stream' } });
 * ```
 */
export const RunAcceptedSchema = z.object({
  runId: z.string(),
  status: z.literal('running'),
  links: z.object({ self: z.string(), stream: z.string() }),
}).meta({ id: 'RunAccepted' });

/**
 * Schema of how a run ended or parked (`RunOutcome`): what a start with `wait` answers.
 *
 * @example
 * ```ts
 * const o = RunOutcomeSchema.parse(await res.json());
 * ```
 */
export const RunOutcomeSchema = z.object({
  runId: z.string(),
  topology: z.string(),
  status: z.enum(['completed', 'failed', 'cancelled', 'waiting']),
  output: z.unknown().optional(),
  error: RunErrorSchema.optional(),
  usage: UsageSchema.optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
}).meta({ id: 'RunOutcome' });

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
  fromSeq: z.coerce.number().int().min(0).optional(),
  toSeq: z.coerce.number().int().min(0).optional(),
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
export const StateQuerySchema = z.object({ seq: z.coerce.number().int().min(0).optional() });

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

/**
 * Schema of the reply to a cancel.
 *
 * @example
 * ```ts
 * CancelledSchema.parse({ runId: 'r-1', cancelled: true });
 * ```
 */
export const CancelledSchema = z.object({ runId: z.string(), cancelled: z.literal(true) }).meta({ id: 'RunCancelled' });

/**
 * Schema of the path of a signal: the run and the signal's name.
 *
 * @example
 * ```ts
 * SignalParamsSchema.parse({ id: 'r-1', name: 'approval' });
 * ```
 */
export const SignalParamsSchema = z.object({ id: z.string().min(1), name: z.string().min(1) });

/**
 * Schema of a signal's body: the payload the wait node's schema checks.
 *
 * @example
 * ```ts
 * SignalBodySchema.parse({ payload: { approved: true } });
 * ```
 */
export const SignalBodySchema = z.strictObject({ payload: z.unknown() }).meta({ id: 'Signal' });

/**
 * Schema of the reply to a signal.
 *
 * @example
 * ```ts
 * SignalledSchema.parse({ runId: 'r-1', signalled: 'approval' });
 * ```
 */
export const SignalledSchema = z.object({ runId: z.string(), signalled: z.string() }).meta({ id: 'RunSignalled' });

/**
 * Schema of a fork's body: the node to run again and what to change.
 *
 * @example
 * ```ts
 * ForkBodySchema.parse({ from: 'draft', nodes: { draft: { model: 'sim:fast' } }, wait: true });
 * ```
 */
export const ForkBodySchema = z.strictObject({
  /** The node to run again; it and its descendants run, the others' outputs come from the parent's log. */
  from: z.string().min(1),
  /** The fork's input (default the parent's). */
  input: z.unknown().optional(),
  /** Outputs to use instead of the logged ones, by node id. */
  outputs: z.record(z.string(), z.unknown()).optional(),
  /** Per-node settings (an llm node's model, system, prompt), by node id. */
  nodes: z.record(z.string(), NodeOverrideSchema).optional(),
  wait: z.boolean().default(false),
  runId: RunId.optional(),
}).meta({ id: 'Fork' });
