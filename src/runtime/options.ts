/**
 * The options of the engine itself (`createEngine`): the public interface (documented field
 * by field), the zod schema that checks it at run time, and a compile-time proof that each
 * options interface and its schema accept the same objects, so neither can change without
 * the other. The options of runs, streams, recovery and shutdown live beside it
 * (`run-options.ts`, `lifecycle-options.ts`), as does `parseOptions` (`parse-options.ts`);
 * all are re-exported here.
 * @module
 */
import * as z from 'zod';
import { NodeOverrideSchema } from '../compiler/validate.ts';
import type { RemoteExecutor } from '../definition/types.ts';
import { isLogger, type Logger } from '../logger.ts';
import { isModels, type Models } from '../providers/models.ts';
import { ResilienceOptionsSchema, type ResilienceOptions } from '../resilience/resilience.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { RunStore } from './store.ts';
import type { RunLoop } from './loop.ts';
import type { Guard } from '../definition/guard.ts';
import type { Assert, Same } from '../primitives/same-type.ts';
import {
  CancelOptionsSchema, DurableOptionsSchema, RecoverOptionsSchema, ShutdownOptionsSchema,
  type CancelOptions, type DurableOptions, type RecoverOptions, type ShutdownOptions,
} from './lifecycle-options.ts';
import {
  ResumeSchema, RunNodeOptionsSchema, RunOptionsSchema, StreamOptionsSchema,
  type ResumeOptions, type RunNodeOptions, type RunOptions, type StreamOptions,
} from './run-options.ts';
import { positiveInt } from './parse-options.ts';

export { parseOptions } from './parse-options.ts';
export {
  CancelOptionsSchema, DurableOptionsSchema, RecoverOptionsSchema, ShutdownOptionsSchema,
  type CancelOptions, type DurableOptions, type RecoverOptions, type ShutdownOptions,
} from './lifecycle-options.ts';
export {
  ResumeSchema, RunNodeOptionsSchema, RunOptionsSchema, StreamOptionsSchema,
  type ParsedRunOptions, type ResumeOptions, type RunNodeOptions, type RunOptions, type StreamOptions,
} from './run-options.ts';
export { NodeOverrideSchema };


const STORE_METHODS = ['createRun', 'append', 'getRun', 'history', 'listRuns', 'claim', 'renew', 'release', 'deleteRuns', 'close'] as const;
const isRunStore = (v: unknown): boolean => typeof v === 'object' && v !== null && 'kind' in v && 'location' in v
  && STORE_METHODS.every((m) => typeof (v as Record<string, unknown>)[m] === 'function');
const isTopology = (v: unknown): boolean => typeof v === 'object' && v !== null && 'name' in v && typeof v.name === 'string' && 'nodes' in v && Array.isArray(v.nodes);

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
  Assert<Same<CancelOptions, z.input<typeof CancelOptionsSchema>>>,
];

