/**
 * The options of one piece of work: a run (`engine.run`, with what an earlier attempt
 * recorded), a node task (`engine.runNode`) and a stream of runs (`engine.stream`), each as
 * a public interface and the zod schema that checks it.
 * @module
 */
import * as z from 'zod';
import { NodeOverrideSchema } from '../compiler/validate.ts';
import type { NodeOverride, Priority } from '../definition/types.ts';
import { TraceContextSchema, type TraceContext } from './trace-context.ts';
import { positiveInt } from './parse-options.ts';

const priority = z.enum(['high', 'normal', 'low']);

/**
 * Schema of {@link RunOptions}' `resume`.
 *
 * @example
 * ```ts
 * ResumeSchema.parse({ outputs: { a: 1 } });
 * ```
 */
export const ResumeSchema = z.strictObject({
  outputs: z.record(z.string(), z.unknown()),
  skipped: z.array(z.string()).optional(),
});

/**
 * Schema of {@link RunOptions}.
 *
 * @example
 * ```ts
 * parseOptions(RunOptionsSchema, { priority: 'high' }, 'run options');
 * ```
 */
export const RunOptionsSchema = z.strictObject({
  signal: z.instanceof(AbortSignal).optional(),
  priority: priority.optional(),
  deadlineMs: z.number().positive().optional(),
  runId: z.string().min(1).optional(),
  resume: ResumeSchema.optional(),
  tenant: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
  overrides: z.record(z.string(), NodeOverrideSchema).optional(),
  traceContext: TraceContextSchema.optional(),
});

/**
 * Node outputs recorded by an earlier attempt of a run.
 *
 * @example
 * ```ts
 * const resume: ResumeOptions = { outputs: { retrieve: docs }, skipped: ['fallback'] };
 * ```
 */
export interface ResumeOptions {
  /** Output by node id: those nodes are not run again. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Nodes that were skipped. */
  readonly skipped?: readonly string[];
}

/**
 * Options of one run.
 *
 * @example
 * ```ts
 * await engine.run(t, input, { signal: AbortSignal.timeout(30_000), priority: 'high', deadlineMs: 10_000 });
 * ```
 */
export interface RunOptions {
  /** Aborting it cancels the run; running nodes see it through `ctx.signal`. */
  readonly signal?: AbortSignal;
  readonly priority?: Priority;
  /** The whole run must finish within this many ms; each node gets at most what is left. */
  readonly deadlineMs?: number;
  readonly runId?: string;
  /** Outputs recorded by an earlier attempt: those nodes are not run again. */
  readonly resume?: ResumeOptions;
  /** Who the run is for; token usage and cost are totalled per tenant (`engine.usage(tenant)`). */
  readonly tenant?: string;
  /** Who the run is for within its tenant: experiments stick to it (`stickyBy: 'user'`), and evaluations carry it. */
  readonly user?: string;
  /** What the run's cost is attributed to within its tenant (`engine.usage({ project })`); guards match rules on it. */
  readonly project?: string;
  /**
   * Per-node settings for this run only, by node id: an llm node's `model`, `system` or `prompt`
   * (e.g. to try another model; see `engine.fork`). An unknown node id fails the run (`OVERRIDES_INVALID`).
   */
  readonly overrides?: Readonly<Record<string, NodeOverride>>;
  /**
   * The W3C trace context the run continues (e.g. from a request's `traceparent` header): with
   * telemetry attached, the run's span is its child. Kept in `run.started`, so a recovered run stays in its trace.
   */
  readonly traceContext?: TraceContext;
}

/**
 * Run options as {@link RunOptionsSchema} returns them (an optional field may hold undefined).
 *
 * @example
 * ```ts
 * const opts: ParsedRunOptions = parseOptions(RunOptionsSchema, options, 'run options');
 * ```
 */
export type ParsedRunOptions = z.output<typeof RunOptionsSchema>;

/**
 * Schema of {@link RunNodeOptions}.
 *
 * @example
 * ```ts
 * parseOptions(RunNodeOptionsSchema, { priority: 'low', deadline: Date.now() + 5_000 }, 'runNode options');
 * ```
 */
export const RunNodeOptionsSchema = z.strictObject({
  signal: z.instanceof(AbortSignal).optional(),
  priority: priority.optional(),
  deadline: z.number().positive().optional(),
  traceContext: TraceContextSchema.optional(),
});

/**
 * Options of `engine.runNode` (what a remote worker passes for a node task).
 *
 * @example
 * ```ts
 * await engine.runNode(t, 'summarize', input, deps, { priority: 'high', deadline: Date.now() + 10_000 });
 * ```
 */
export interface RunNodeOptions {
  /** Aborting it cancels the node. */
  readonly signal?: AbortSignal;
  readonly priority?: Priority;
  /** Epoch ms by which the node must finish. */
  readonly deadline?: number;
  /** The W3C trace context of the task (its origin node's span): telemetry parents the node's spans there. */
  readonly traceContext?: TraceContext;
}

/**
 * Schema of {@link StreamOptions}.
 *
 * @example
 * ```ts
 * parseOptions(StreamOptionsSchema, { maxInFlight: 8 }, 'stream options');
 * ```
 */
export const StreamOptionsSchema = z.strictObject({
  maxInFlight: positiveInt.optional(),
  priority: priority.optional(),
  deadlineMs: z.number().positive().optional(),
  bufferSize: z.number().int().nonnegative().optional(),
  tenant: z.string().min(1).optional(),
});

/**
 * Options of a streaming entry.
 *
 * @example
 * ```ts
 * engine.stream(t, inputs, { maxInFlight: 16, priority: 'low' }).subscribe(console.log);
 * ```
 */
export interface StreamOptions {
  /** Runs in flight from this stream; never more than the topology's admission limit. */
  readonly maxInFlight?: number;
  readonly priority?: Priority;
  readonly deadlineMs?: number;
  /** Observable sources only: inputs held while all slots are busy before the stream fails. Default 1024. */
  readonly bufferSize?: number;
  readonly tenant?: string;
}
