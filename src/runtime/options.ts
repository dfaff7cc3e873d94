/**
 * The options of the engine's entry points: the public interfaces (documented
 * field by field), the zod schemas that check them at run time, and a
 * compile-time proof that each interface and its schema accept the same objects,
 * so neither can change without the other.
 * @module
 */
import * as z from 'zod';
import { NodeOverrideSchema } from '../compiler/validate.ts';
import { ValidationError, toIssues } from '../errors.ts';
import type { NodeOverride, Priority, RemoteExecutor } from '../definition/types.ts';
import { isLogger, type Logger } from '../logger.ts';
import { isModels, type Models } from '../providers/models.ts';
import { ResilienceOptionsSchema, type ResilienceOptions } from '../resilience/resilience.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { RunStore } from './store.ts';
import type { RunLoop } from './loop.ts';
import type { Guard } from '../definition/guard.ts';
import type { Assert, Same } from '../primitives/same-type.ts';
import { TraceContextSchema, type TraceContext } from './trace-context.ts';

const positiveInt = z.number().int().positive();
const priority = z.enum(['high', 'normal', 'low']);

const STORE_METHODS = ['createRun', 'append', 'getRun', 'history', 'listRuns', 'claim', 'renew', 'release', 'deleteRuns', 'close'] as const;
const isRunStore = (v: unknown): boolean => typeof v === 'object' && v !== null && 'kind' in v && 'location' in v
  && STORE_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function');
const isTopology = (v: unknown): boolean => typeof v === 'object' && v !== null && 'name' in v && typeof v.name === 'string' && 'nodes' in v && Array.isArray(v.nodes);

/**
 * Schema of {@link DurableOptions}.
 *
 * @example
 * ```ts
 * DurableOptionsSchema.parse({ leaseMs: 15_000 });
 * ```
 */
export const DurableOptionsSchema = z.strictObject({
  leaseMs: z.number().int().min(10).optional(),
  owner: z.string().min(1).optional(),
  now: z.custom<() => number>((v) => typeof v === 'function', 'expected a function returning epoch ms').optional(),
  sweepMs: z.number().int().positive().optional(),
});

/**
 * How an engine with a store holds its runs.
 *
 * @example
 * ```ts
 * const engine = createEngine({ store, durable: { leaseMs: 30_000 } });
 * ```
 */
export interface DurableOptions {
  /** How long a run's lease lasts without renewal (renewed every third of it). Default 15 s. */
  readonly leaseMs?: number;
  /** This process's owner id in the store. Default `host:pid:random`, which lets a restarted process on the same host claim a dead one's runs at once. */
  readonly owner?: string;
  /** The clock leases are judged by (epoch ms). Default `Date.now`; tests inject their own. */
  readonly now?: () => number;
  /**
   * Every this many ms, wake parked runs whose wait timed out (and signalled runs nobody
   * resumed): `recover({ wake: true })` on one timer per engine (it also recovers runs of dead
   * processes). Default: no sweeping; call `engine.recover({ wake: true })` yourself.
   */
  readonly sweepMs?: number;
}

const isRunLoop = (v: unknown): boolean => typeof v === 'object' && v !== null
  && ['decide', 'ended', 'stats'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function');

const isRemoteExecutor = (v: unknown): boolean => typeof v === 'object' && v !== null && 'execute' in v && typeof v.execute === 'function';

const GUARD_MESSAGE = 'expected a guard or a non-empty list of guards (createPolicyGuard(...), createBudgetGuard(...), or objects with run, call, tool or weight functions)';

/**
 * Schema of {@link EngineOptions}.
 *
 * @example
 * ```ts
 * parseOptions(EngineOptionsSchema, { pools: { openai: 8 } }, 'createEngine options');
 * ```
 */
export const EngineOptionsSchema = z.strictObject({
  concurrency: positiveInt.optional(),
  pools: z.record(z.string().regex(/^[A-Za-z_][\w.-]*$/, 'pool names are identifiers'), positiveInt).optional(),
  maxInFlight: positiveInt.optional(),
  agingGrants: positiveInt.optional(),
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
  runIdPrefix: z.string().optional(),
  models: z.custom<Models>(isModels, 'expected createModels(...)').optional(),
  resilience: ResilienceOptionsSchema.optional(),
  remote: z.custom<RemoteExecutor>(isRemoteExecutor, 'expected a remote executor (createRemoteExecutor(...))').optional(),
  store: z.custom<RunStore>(isRunStore, 'expected a run store (openStore(...), or an object implementing RunStore)').optional(),
  durable: DurableOptionsSchema.optional(),
  topologies: z.array(z.custom<AnyTopology>(isTopology, 'expected a topology (topology(...).build())')).optional(),
  loop: z.custom<RunLoop>(isRunLoop, 'expected a feedback loop (createLoop(...), or an object implementing RunLoop)').optional(),
  guard: z.custom<Guard | readonly Guard[]>((v) => (Array.isArray(v) ? v.length > 0 && v.every(isGuard) : isGuard(v)), GUARD_MESSAGE).optional(),
});

/**
 * Engine configuration.
 *
 * @example
 * ```ts
 * const engine = createEngine({ concurrency: 64, pools: { openai: 8, anthropic: 4 }, logger: pino() });
 * ```
 */
export interface EngineOptions {
  /**
   * Global limit on tasks doing work at once (the function of a map, tool, route, join or llm
   * node, and each fan-out item), across all runs. Default unlimited.
   */
  readonly concurrency?: number;
  /** Named resource pools shared by every node that names them, across all runs and topologies. */
  readonly pools?: Readonly<Record<string, number>>;
  /** Default admission limit per topology (runs in flight). Default 1024; a topology's own `maxInFlight` wins. */
  readonly maxInFlight?: number;
  /** A waiting task passed over this many grants is served next, whatever its priority. Default 16. */
  readonly agingGrants?: number;
  /** pino logger; the engine logs through its own child. Default: silent. */
  readonly logger?: Logger;
  /** Prefix of generated run ids. Default: random per engine. */
  readonly runIdPrefix?: string;
  /** Providers, prices and rate limits for llm nodes. Default: the simulated provider only (`sim:*`). */
  readonly models?: Models;
  /** Retries, circuit breakers and bulkheads for model calls. */
  readonly resilience?: ResilienceOptions;
  /** Runs nodes marked `remote` in their worker group. */
  readonly remote?: RemoteExecutor;
  /**
   * Makes every top-level run durable: recorded in this store event by event, and
   * resumable by `engine.recover()` after a crash. The caller opens and closes the store.
   */
  readonly store?: RunStore;
  /** Leases and owner of durable runs (with `store`). */
  readonly durable?: DurableOptions;
  /**
   * Topologies compiled at once; with a store, the ones `engine.recover()` can resume (as do
   * those the engine compiled or ran since).
   */
  readonly topologies?: readonly AnyTopology[];
  /**
   * A feedback loop (`createLoop` from `llm-orchestrator/loops`): decides each run's experiment
   * variant, policy version and model choices when it starts, and hears how it ended.
   */
  readonly loop?: RunLoop;
  /**
   * Guards asked before each new run is admitted, before each model call and before each tool call
   * (`createPolicyGuard`, `createBudgetGuard` from `llm-orchestrator/governance`: policy rules, budgets,
   * quotas; or any {@link Guard}). Several are asked in order; the first refusal wins. Without one nothing is asked.
   */
  readonly guard?: Guard | readonly Guard[];
}

/** A value with at least one of a guard's functions, and no non-function in their place. */
function isGuard(v: unknown): v is Guard {
  if (typeof v !== 'object' || v === null) return false;
  const g = v as Record<string, unknown>;
  const keys = ['run', 'call', 'tool', 'weight'] as const;
  return keys.some((k) => typeof g[k] === 'function') && keys.every((k) => g[k] === undefined || typeof g[k] === 'function');
}

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

export { NodeOverrideSchema };

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

/**
 * Schema of {@link RecoverOptions}.
 *
 * @example
 * ```ts
 * parseOptions(RecoverOptionsSchema, { limit: 100 }, 'recover options');
 * ```
 */
export const RecoverOptionsSchema = z.strictObject({
  limit: positiveInt.optional(),
  runIds: z.array(z.string().min(1)).min(1).optional(),
  signal: z.instanceof(AbortSignal).optional(),
  wake: z.boolean().optional(),
});

/**
 * What `engine.recover()` claims.
 *
 * @example
 * ```ts
 * await engine.recover({ limit: 500 });
 * await engine.recover({ runIds: ['order-1'] }); // just this run, if it is left unfinished
 * ```
 */
export interface RecoverOptions {
  /** Claim at most this many runs. Default 1000. */
  readonly limit?: number;
  /**
   * Only these runs (e.g. the run a redelivered Kafka request names): each is claimed when it is
   * running with no live lease, as `recover()` claims any run. Default: any unfinished run.
   */
  readonly runIds?: readonly string[];
  /** Aborting it cancels the runs it resumed, as a run's own signal does (the cancellation is recorded). */
  readonly signal?: AbortSignal;
  /**
   * Also wake parked runs: those whose wait timed out (the wait node fails with WAIT_TIMEOUT or
   * takes its `onError` edge) and those signalled but not resumed (their signaller died). Default false.
   */
  readonly wake?: boolean;
}

/**
 * Schema of {@link ShutdownOptions}.
 *
 * @example
 * ```ts
 * parseOptions(ShutdownOptionsSchema, { mode: 'cancel' }, 'shutdown options');
 * ```
 */
export const ShutdownOptionsSchema = z.strictObject({
  mode: z.enum(['drain', 'cancel']).optional(),
  timeoutMs: z.number().nonnegative().optional(),
});

/**
 * How `engine.shutdown()` treats runs in flight.
 *
 * @example
 * ```ts
 * await engine.shutdown({ mode: 'drain', timeoutMs: 10_000 });
 * ```
 */
export interface ShutdownOptions {
  /** `drain` (default): let runs in flight finish; `cancel`: cancel them now. New runs are refused either way. */
  readonly mode?: 'drain' | 'cancel';
  /** Drain at most this long, then cancel what is left. Default 30 s. */
  readonly timeoutMs?: number;
}

// ---- compile-time proof that interfaces and schemas agree

/**
 * Compiles only while each public options interface accepts exactly what its schema accepts.
 *
 * @example
 * ```ts
 * // adding a field to RunOptionsSchema but not to RunOptions breaks the build here
 * ```
 */
export type OptionsMatchSchemas = [
  Assert<Same<EngineOptions, z.input<typeof EngineOptionsSchema>>>,
  Assert<Same<DurableOptions, z.input<typeof DurableOptionsSchema>>>,
  Assert<Same<RunNodeOptions, z.input<typeof RunNodeOptionsSchema>>>,
  Assert<Same<RunOptions, z.input<typeof RunOptionsSchema>>>,
  Assert<Same<ResumeOptions, z.input<typeof ResumeSchema>>>,
  Assert<Same<StreamOptions, z.input<typeof StreamOptionsSchema>>>,
  Assert<Same<ShutdownOptions, z.input<typeof ShutdownOptionsSchema>>>,
  Assert<Same<RecoverOptions, z.input<typeof RecoverOptionsSchema>>>,
];

/**
 * Checks options against their schema; throws {@link ValidationError} (`OPTIONS_INVALID`)
 * naming every bad field under `options`.
 *
 * @example
 * ```ts
 * const opts = parseOptions(RunOptionsSchema, options, 'run options');
 * ```
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', `${what} are invalid`, toIssues(r.error.issues, ['options']));
  return r.data;
}
