/**
 * Schemas of reading runs through `/v1/runs`: a run's status, its row in a list
 * (`RunSummary`), one run with every node's state (`RunView`), the path of one run's
 * routes, and `GET /v1/runs`'s query and page.
 * @module
 */
import * as z from 'zod';
import { queryInt, RunErrorSchema, text, UsageSchema } from './common.ts';
import { CURSOR_PATTERN } from '../../stores/paging.ts';

/**
 * Schema of a stored run's status.
 *
 * @example
 * ```ts
 * RunStatusSchema.parse('waiting');
 * ```
 */
export const RunStatusSchema = z.enum(['running', 'waiting', 'completed', 'failed', 'cancelled']).meta({ id: 'RunStatus' });

/**
 * Schema of the path of one run's routes: `/v1/runs/:id`.
 *
 * @example
 * ```ts
 * RunParamsSchema.parse({ id: 'r-1' });
 * ```
 */
export const RunParamsSchema = z.object({ id: text().min(1) });

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
  status: z.enum(['running', 'waiting', 'completed', 'failed', 'skipped', 'cancelled']),
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

/** A comma-separated list of run statuses (or nothing), as the OpenAPI document's pattern. */
const STATUS_LIST = ((one: string) => new RegExp(`^$|^ *(${one}) *(, *(${one}) *)*$`))(RunStatusSchema.options.join('|'));

/**
 * Schema of `GET /v1/runs`'s query: statuses (comma-separated), topology, page size and cursor.
 *
 * @example
 * ```ts
 * ListRunsQuerySchema.parse({ status: 'running,waiting', limit: '20' });
 * ```
 */
export const ListRunsQuerySchema = z.object({
  status: z.string().regex(STATUS_LIST, `give statuses, comma-separated: ${RunStatusSchema.options.join(', ')}`).optional()
    .transform((s) => (s === undefined || s === '' ? undefined : s.split(',').map((x) => x.trim())))
    .pipe(z.array(RunStatusSchema).optional()),
  topology: text().min(1).optional(),
  limit: queryInt(1, 1000).default(50),
  cursor: z.string().regex(CURSOR_PATTERN, 'is not a cursor a page returned (its `next`)').optional(),
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
