/**
 * The data model of a topology: what the builder and the JSON/YAML loader produce
 * and what the compiler consumes. Plain objects, no behaviour besides `execute`.
 * @module
 */
import type { CallCheck, CallVerdict, GuardSubject, OutputVerdict, ToolCheck, ToolVerdict } from './guard.ts';
import type { Observable } from 'rxjs';
import type { z } from 'zod';
import type { Models } from '../providers/models.ts';
import type { CompletionRequest, FinishReason, Usage } from '../providers/types.ts';
import type { Resilience } from '../resilience/resilience.ts';
import type { RetryBudget, RetryOptions } from '../resilience/retry.ts';
import type { SerializedError } from '../errors.ts';

/** Scheduling priority of a run. Waiting work is served high first, with aging so low is never starved. */
export type Priority = 'high' | 'normal' | 'low';

/** What a node's function receives. `D` are the typed outputs of the nodes it depends on. */
export interface NodeContext<I = unknown, D = Record<string, unknown>> {
  /** The run's validated input. */
  readonly input: I;
  /** Outputs of the nodes listed in `after` (for a join: only the parents that ran). */
  readonly deps: D;
  /** Aborted when the run is cancelled, fails elsewhere, or this node times out. */
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly nodeId: string;
  /**
   * `<runId>:<nodeId>`: the same for every execution of this node in this run, also when a
   * durable run is recovered after a crash and the node runs again. Tools with side effects
   * (payments, emails, tickets) pass it to the service they call so a repeated call is a no-op.
   *
   * @example
   * ```ts
   * await payments.charge({ amount, idempotencyKey: ctx.idempotencyKey });
   * ```
   */
  readonly idempotencyKey: string;
  readonly priority: Priority;
  /** The experiment variant the run was assigned (engine with a `loop`); undefined otherwise. */
  readonly variant: string | undefined;
  /** Static configuration of the node (the `with` block of a JSON/YAML node). */
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * The live token stream of the node named in this node's `streamFrom` (replayed
   * from its first token; completes when that node completes).
   */
  tokens(nodeId: string): Observable<StreamChunk>;
  /** Stops the generation of the `streamFrom` node: its request is aborted and it completes with what it has. */
  stop(nodeId: string, reason?: string): void;
}

/** What a streaming consumer sees: tokens in order, and a marker when the producer restarted its call. */
export type StreamChunk =
  | { readonly kind: 'token'; readonly index: number; readonly text: string }
  | { readonly kind: 'restart'; readonly reason: string };

/** Node kinds known to the compiler. */
export type NodeKind = 'map' | 'tool' | 'route' | 'join' | 'fanOut' | 'topology' | 'llm' | 'wait';

/**
 * Services the runtime hands to an operator's `execute`. Typed, explicit and
 * internal to operators: user functions never see it.
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
 * One model call as an operator reports it (`ExecServices.modelCall`); the engine adds the run,
 * topology and node and puts it on the bus as a `model.call` event. `request` and `text` are
 * references, not copies: telemetry captures them only when asked to, redacted.
 *
 * @example
 * ```ts
 * if (services.observed) services.modelCall(ctx, { startTs, ts: Date.now(), provider: 'openai', model: 'openai:gpt-4o-mini', request, attempt: 1, costUsd: 0, text: '' });
 * ```
 */
export interface ModelCall {
  /** When the call started (after its rate-limit reservation), ms since the epoch. */
  readonly startTs: number;
  /** When the first token (text, tool call or refusal) arrived, if one did. */
  readonly firstTokenTs?: number;
  /** When it ended. */
  readonly ts: number;
  /** The provider's name (`openai`, `anthropic`, `sim`, or the name it was registered under). */
  readonly provider: string;
  /** The model reference of the chain (`openai:gpt-4o-mini`). */
  readonly model: string;
  /** The request (model name, messages, parameters) as sent. */
  readonly request: CompletionRequest;
  /** The model the provider says answered, and its response id, when it said. */
  readonly responseModel?: string;
  readonly responseId?: string;
  /** 1 for the first call of this model in the node, 2 for its first retry, ... */
  readonly attempt: number;
  /** Usage billed for the call (estimated when the provider sent no final count), when it started generating. */
  readonly usage?: Usage & { readonly estimated: boolean };
  readonly costUsd: number;
  /** How it finished; absent when it failed. */
  readonly finishReason?: FinishReason;
  /** Text it streamed. */
  readonly text: string;
  /** Why it failed (timeouts, provider errors, cancellation). */
  readonly error?: SerializedError;
}

/**
 * Per-run settings of one llm node that replace its definition's (RunOptions `overrides`,
 * `engine.fork(..., { overrides: { nodes } })`): try another model or prompt without
 * changing the topology.
 *
 * @example
 * ```ts
 * const o: NodeOverride = { model: 'sim:other', system: 'Be brief.', prompt: 'Summarize: {{text}}' };
 * ```
 */
export interface NodeOverride {
  /** Model reference (or fallback chain) instead of the node's. Must be in the engine's catalogue. */
  readonly model?: string | readonly string[] | undefined;
  /** System message instead of the node's. */
  readonly system?: string | undefined;
  /** User message instead of the one the node's prompt function builds. */
  readonly prompt?: string | undefined;
  /** Sampling temperature instead of the node's. */
  readonly temperature?: number | undefined;
  /** Output token cap instead of the node's. */
  readonly maxTokens?: number | undefined;
}

/**
 * One arm of a topology's experiment: its share of traffic and what it changes.
 *
 * @example
 * ```ts
 * const v: VariantSpec = { weight: 20, nodes: { answer: { model: 'sim:fast', temperature: 0.2 } } };
 * ```
 */
export interface VariantSpec {
  /** Relative share of traffic (weights need not sum to 100). 0 sends no new runs to it. */
  readonly weight: number;
  /** Per-node settings of runs in this variant (a model, a prompt, parameters). */
  readonly nodes?: Readonly<Record<string, NodeOverride>> | undefined;
  readonly description?: string | undefined;
}

/**
 * An A/B experiment a topology declares: variants and a traffic split. Assignment is sticky
 * per key (hash of the experiment name and the key), and every run, event and evaluation
 * carries its variant (`ctx.variant` in nodes: a `route` on it runs a different sub-topology per variant).
 *
 * @example
 * ```ts
 * const e: ExperimentSpec = {
 *   stickyBy: 'user',
 *   variants: { control: { weight: 90 }, brief: { weight: 10, nodes: { answer: { system: 'Be brief.' } } } },
 * };
 * ```
 */
export interface ExperimentSpec {
  /** Name the assignment hash is salted with. Default: the topology's name. */
  readonly name?: string | undefined;
  /** What assignment sticks to: the run's `user` (default; falls back to tenant, then run id), its `tenant`, or each `run`. */
  readonly stickyBy?: 'user' | 'tenant' | 'run' | undefined;
  /** Variants by name, in order. */
  readonly variants: Readonly<Record<string, VariantSpec>>;
  /** The variant others are compared with (regression detection) and that takes a paused variant's traffic. Default: the first. */
  readonly control?: string | undefined;
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

/** One node to execute elsewhere (a remote edge). */
export interface RemoteTask {
  readonly topology: string;
  readonly group: string;
  readonly nodeId: string;
  readonly runId: string;
  readonly input: unknown;
  readonly deps: Readonly<Record<string, unknown>>;
  readonly priority: Priority;
  /** Absolute epoch ms, or undefined. */
  readonly deadline: number | undefined;
}

/**
 * Runs remote nodes: sends the task to the node's worker group and resolves with
 * its output (or rejects with its error). See `createRemoteExecutor`.
 */
export interface RemoteExecutor {
  /** Sends `task` to its worker group; resolves with the node's output, rejects with its error; `signal` stops waiting. */
  execute(task: RemoteTask, signal: AbortSignal): Promise<unknown>;
}

/** A retry or fallback recorded in a run's history. */
export type NodeNote =
  | { readonly type: 'retry'; readonly attempt: number; readonly delayMs: number; readonly error: SerializedError; readonly model?: string }
  | { readonly type: 'fallback'; readonly from: string; readonly to: string; readonly reason: SerializedError };

/** What a compensation action receives: the output it undoes. */
export interface CompensationContext<I = unknown, R = unknown> {
  readonly input: I;
  readonly output: R;
  readonly runId: string;
  readonly nodeId: string;
  /** The error that failed the run. */
  readonly error: SerializedError;
}

/** How a node computes its output. Sync results are allowed and cost no promise. */
export type Execute = (ctx: NodeContext, services: ExecServices) => unknown;

/** One node of a topology, as the compiler sees it. */
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
  /** Phantom field that carries the types; never present at run time. */
  readonly [TYPES]?: { input: I; outputs: O; output: Out };
}

/** Any topology, whatever its types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTopology = Topology<any, any, any>;

/** The run input type of a topology. */
export type InputOf<T> = T extends Topology<infer I, any, any> ? I : never;
/** The node outputs of a topology. */
export type OutputsOf<T> = T extends Topology<any, infer O, any> ? O : never;
/** The declared output of a topology. */
export type OutputOf<T> = T extends Topology<any, any, infer Out> ? Out : never;
