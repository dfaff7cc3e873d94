/**
 * The data model of a topology: what the builder and the JSON/YAML loader produce
 * and what the compiler consumes. Plain objects, no behaviour besides `execute`.
 *
 * This file holds the node definition (`NodeDef`, its `Execute` and the `ExecServices` the
 * runtime hands it, what a `wait` node waits for) and the `Topology` that lists the nodes,
 * which refer to each other. It re-exports the rest of the model, so all of it is imported
 * from here: what user functions receive (`context.ts`), per-run overrides and experiments
 * (`experiment.ts`), what operators report (`reports.ts`) and remote edges (`remote.ts`).
 * @module
 */
import type { CallCheck, CallVerdict, GuardSubject, OutputVerdict, ToolCheck, ToolVerdict } from './guard.ts';
import type { CompensationContext, NodeContext } from './context.ts';
import type { ExperimentSpec, NodeOverride } from './experiment.ts';
import type { ModelCall, NodeNote } from './reports.ts';
import type { z } from 'zod';
import type { Models } from '../providers/models.ts';
import type { Usage } from '../providers/types.ts';
import type { Resilience } from '../resilience/resilience.ts';
import type { RetryBudget, RetryOptions } from '../resilience/retry.ts';

export type { CompensationContext, NodeContext, Priority, StreamChunk } from './context.ts';
export type { ExperimentSpec, NodeOverride, VariantSpec } from './experiment.ts';
export type { ModelCall, NodeNote } from './reports.ts';
export type { RemoteExecutor, RemoteTask } from './remote.ts';

/**
 * Node kinds known to the compiler.
 *
 * @example
 * ```ts
 * const kinds = new Set<NodeKind>(t.nodes.map((n) => n.kind)); // e.g. { 'map', 'llm' }
 * ```
 */
export type NodeKind = 'map' | 'tool' | 'route' | 'join' | 'fanOut' | 'topology' | 'llm' | 'wait';

/**
 * Services the runtime hands to an operator's `execute`. Typed, explicit and
 * internal to operators: user functions never see it.
 *
 * @example
 * ```ts
 * const execute: Execute = (ctx, services: ExecServices) => services.task(ctx, () => embed(ctx.input));
 * ```
 */
export interface ExecServices {
  /** Runs `fn` holding the node's pools and a global task slot (for fan-out items). */
  task<R>(ctx: NodeContext, fn: () => R | PromiseLike<R>): Promise<R>;
  /** Runs a topology as a child of the current run; resolves with its output or rejects with its error. */
  runChild(topology: AnyTopology, input: unknown, ctx: NodeContext): Promise<unknown>;
  /** The engine's model catalogue. */
  readonly models: Models;
  /** Publishes one token of the node: on the bus and to its streaming consumers. */
  token(ctx: NodeContext, index: number, text: string): void;
  /** Tells streaming consumers that the node restarted its call (tokens start again from index 0). */
  restart(ctx: NodeContext, reason: string): void;
  /**
   * Adds a model call's usage and cost to the node, the run (and its parents), the run's tenant
   * and its attribution (tenant, user, project, topology, node, `model`: the 'provider:model' ref that served).
   */
  account(ctx: NodeContext, usage: Usage, costUsd: number, model?: string): void;
  /** The engine's breakers, bulkheads and retry defaults. */
  readonly resilience: Resilience;
  /** The retry budget of the node's run. */
  budget(ctx: NodeContext): RetryBudget;
  /** Records a retry or a fallback in the run's history (and on the bus). */
  note(ctx: NodeContext, note: NodeNote): void;
  /**
   * Waits for `engine.signal(runId, request.name, payload)`: resolves with the validated
   * payload, rejects with a WaitError `WAIT_TIMEOUT`. A durable run is parked instead
   * (stored, then dropped from memory) and the wait completes when it is resumed.
   */
  wait(ctx: NodeContext, request: WaitRequest): Promise<unknown>;
  /** This run's override of the node's settings (RunOptions `overrides`, e.g. a fork trying another model), if any. */
  override(ctx: NodeContext): NodeOverride | undefined;
  /**
   * Whether anyone observes model calls (the engine's bus has a subscriber): an operator builds
   * a {@link ModelCall} record only then.
   */
  readonly observed: boolean;
  /** Reports one ended model call (a `model.call` event on the bus). */
  modelCall(ctx: NodeContext, call: ModelCall): void;
  /** Whether the engine has guards that check model calls: an operator builds a {@link CallCheck} only then. */
  readonly guarded: boolean;
  /**
   * Asks the engine's guards about a model call (the engine adds the run's subject: run, topology,
   * tenant, user, project, variant). Never throws: a failing guard is a `deny` (fail-closed).
   */
  checkCall(ctx: NodeContext, check: Omit<CallCheck, keyof GuardSubject | 'estimate'>): CallVerdict | Promise<CallVerdict>;
  /** Reports what a call's output check decided (a `policy.decision` event when it was not a plain allow). */
  decidedOutput(ctx: NodeContext, model: string, verdict: OutputVerdict): void;
  /** Whether the engine has guards that check tool calls: a tool node asks them only then. */
  readonly guardsTools: boolean;
  /** Asks the engine's guards about a tool call (subject added by the engine); never throws (a failing guard is a `deny`). */
  checkTool(ctx: NodeContext, check: Omit<ToolCheck, keyof GuardSubject>): ToolVerdict | Promise<ToolVerdict>;
}

/**
 * What a `wait` node waits for.
 *
 * @example
 * ```ts
 * const w: WaitRequest = { name: 'approval', schema: z.object({ approved: z.boolean() }), timeoutMs: 86_400_000 };
 * ```
 */
export interface WaitRequest {
  /** The signal name `engine.signal` must give. */
  readonly name: string;
  /** Validates the signal's payload (the node's output). */
  readonly schema: z.ZodType;
  /** Fail with WAIT_TIMEOUT (or take `onError`) when no signal came within this many ms. Default: wait forever. */
  readonly timeoutMs?: number;
}

/**
 * How a node computes its output. Sync results are allowed and cost no promise.
 *
 * @example
 * ```ts
 * const execute: Execute = (ctx) => String(ctx.input).toUpperCase();
 * ```
 */
export type Execute = (ctx: NodeContext, services: ExecServices) => unknown;

/**
 * One node of a topology, as the compiler sees it.
 *
 * @example
 * ```ts
 * const def: NodeDef = { id: 'upper', kind: 'map', after: ['clean'], execute: (ctx) => String(ctx.deps['clean']).toUpperCase() };
 * topology('t').map('clean', { run: () => ' hi ' }).node(def).build();
 * ```
 */
export interface NodeDef {
  readonly id: string;
  readonly kind: NodeKind;
  /** Ids of the nodes this one waits for. Empty: it starts from the run input. */
  readonly after: readonly string[];
  /** Concurrency cap of this node's stage (across all runs). Default: unbounded (admission still bounds it). */
  readonly cap?: number;
  /**
   * Named resource pools held while the node's function runs (for a fan-out: by each item).
   * Refused on `topology` and `remote` nodes: their child run's or worker group's own nodes take pools.
   */
  readonly pools?: readonly string[];
  /** Per-node timeout; the run deadline may shorten it. */
  readonly timeoutMs?: number;
  /** Validates the node's output; a mismatch fails the node. */
  readonly output?: z.ZodType;
  /** On failure, run this node (with the error as this node's output) instead of failing the run. */
  readonly onError?: string;
  /** Route only: branch name to the nodes it enables. */
  readonly branches?: Readonly<Record<string, readonly string[]>>;
  /** Sub-topology used by a `topology` node (for validation and graphs). */
  readonly topology?: AnyTopology;
  /** Static configuration passed as `ctx.config`. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Start as soon as this (llm) node starts streaming, and read its tokens with `ctx.tokens(id)`. */
  readonly streamFrom?: string;
  /** Model references the node calls, checked against the engine's models at compile time. */
  readonly models?: readonly string[];
  /** Retries of transient failures (for llm nodes: of each model call). */
  readonly retry?: RetryOptions;
  /** Saga step: undoes this node's effect when its run fails after it completed. */
  readonly compensate?: (ctx: CompensationContext) => unknown;
  /** Run this node in another worker group, connected by a topic (a remote edge). */
  readonly remote?: string;
  readonly description?: string;
  /**
   * The spec the node was built from (its user functions, prompt, model settings), kept so
   * `topologyVersion` can tell two definitions apart when they differ only inside `execute`'s closure.
   */
  readonly source?: Readonly<Record<string, unknown>>;
  /** Wait nodes: the signal they wait for (`engine.signal` validates payloads with its schema). */
  readonly wait?: WaitRequest;
  readonly execute: Execute;
}

declare const TYPES: unique symbol;

/**
 * A validated topology definition. `I` is the run input, `O` maps node ids to
 * their outputs, `Out` is the declared result output.
 *
 * @example
 * ```ts
 * const t: Topology<{ q: string }, { a: string }, string> = topology('t', { input: z.object({ q: z.string() }) })
 *   .map('a', { run: ({ input }) => input.q.toUpperCase() })
 *   .build({ output: 'a' });
 * ```
 */
export interface Topology<I = unknown, O extends Record<string, unknown> = Record<string, unknown>, Out = unknown> {
  readonly name: string;
  readonly description?: string;
  readonly input?: z.ZodType;
  readonly nodes: readonly NodeDef[];
  /** Node whose output is the run's `output`. */
  readonly output?: string;
  /** At most this many runs of the topology in flight per engine. */
  readonly maxInFlight?: number;
  /** An A/B experiment over the topology's runs (applied by an engine with a `loop`). */
  readonly experiment?: ExperimentSpec;
  /**
   * Your own version of this definition, recorded with its durable runs instead of the computed
   * hash (`v2:…`): rebuilding the same code with another compiler, or a change you know is
   * compatible, then does not strand parked or interrupted runs. Change it when runs recorded
   * under the old definition must not resume under the new one.
   */
  readonly version?: string;
  /**
   * Versions of earlier definitions whose durable runs this one resumes (recovery, signals,
   * forks): a definition registered under that exact version still takes them first. A run whose
   * log names a node this definition lacks fails with `TOPOLOGY_CHANGED` naming the node.
   */
  readonly resumes?: readonly string[];
  /** Phantom field that carries the types; never present at run time. */
  readonly [TYPES]?: { input: I; outputs: O; output: Out };
}

/**
 * Any topology, whatever its types.
 *
 * @example
 * ```ts
 * const describe = (t: AnyTopology): string => `${t.name}: ${t.nodes.length} nodes`;
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTopology = Topology<any, any, any>;

/**
 * The run input type of a topology.
 *
 * @example
 * ```ts
 * const input: InputOf<typeof t> = { q: 'Hi' }; // t: Topology<{ q: string }, { a: string }, string>
 * ```
 */
export type InputOf<T> = T extends Topology<infer I, any, any> ? I : never;
/**
 * The node outputs of a topology.
 *
 * @example
 * ```ts
 * const outputs: OutputsOf<typeof t> = { a: 'HI' }; // t: Topology<{ q: string }, { a: string }, string>
 * ```
 */
export type OutputsOf<T> = T extends Topology<any, infer O, any> ? O : never;
/**
 * The declared output of a topology.
 *
 * @example
 * ```ts
 * const out: OutputOf<typeof t> | undefined = (await engine.run(t, { q: 'Hi' })).output;
 * ```
 */
export type OutputOf<T> = T extends Topology<any, any, infer Out> ? Out : never;
