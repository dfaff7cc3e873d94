/**
 * Lifecycle events: plain, serializable data with a per-run sequence number and
 * a timestamp. Every run records a compact numeric trace (two numbers an event,
 * no objects); event objects are made only for a live subscriber or when a
 * result's history is read, so an unobserved bus allocates no events.
 * @module
 */
import type { SerializedError } from '../errors.ts';
import type { ModelCall, Priority } from '../definition/types.ts';
import type { UsageTotals } from '../providers/types.ts';
import type { LoopEvent, RunDecision } from './loop.ts';
import type { TraceContext } from './trace-context.ts';

interface EventBase {
  readonly runId: string;
  readonly topology: string;
  /** Position of the event in its run's history, from 0 without gaps. */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly ts: number;
  /** Set on child runs of a sub-topology node. */
  readonly parentRunId?: string;
  /** The run's experiment variant (engine with a `loop`). */
  readonly variant?: string;
  /** The policy version the run uses (engine with a `loop`): one per run, on every event. */
  readonly policyVersion?: number;
}

/** Who a run is for (RunOptions `tenant`) on its start and end events, so their consumers (the audit log's per-tenant streams) need not be told. */
interface RunWho {
  /** The run's tenant (a child run's is its parent's). */
  readonly tenant?: string;
}

/** {@link RunWho} on a run's end events, with its user (its `run.started` has it already). */
interface RunEndWho extends RunWho {
  /** The run's user (RunOptions `user`; top-level runs). */
  readonly user?: string;
}

/**
 * A run was admitted and started. `decision`: what the engine's loop decided for it; `trace`: the
 * W3C trace context it continues (RunOptions `traceContext`). Both are kept across recovery.
 */
export interface RunStartedEvent extends EventBase, RunWho { readonly type: 'run.started'; readonly priority: Priority; readonly decision?: RunDecision; readonly trace?: TraceContext;
  /** How long the run waited for admission (its topology's `maxInFlight`), ms; absent when admitted at once. */
  readonly queuedMs?: number;
  /**
   * Top-level runs: who the run is for and what its cost is attributed to (RunOptions `user`, `project`),
   * so a run recovered, resumed by a signal or forked from the store keeps them (guards match rules and
   * count budgets on them).
   */
  readonly user?: string;
  readonly project?: string;
  /**
   * Top-level runs with a deadline (RunOptions `deadlineMs`): when the run must end by, epoch ms, and
   * the budget it was given, so a recovered run keeps what was left of it (and fails with TIMEOUT when
   * nothing was).
   */
  readonly deadline?: number;
  readonly deadlineMs?: number;
}
/** A run finished with every node completed or skipped. */
export interface RunCompletedEvent extends EventBase, RunEndWho { readonly type: 'run.completed'; readonly output: unknown; readonly usage?: UsageTotals }
/** A run failed; `error` names the node and the cause. */
export interface RunFailedEvent extends EventBase, RunEndWho { readonly type: 'run.failed'; readonly error: SerializedError; readonly usage?: UsageTotals }
/** A run was cancelled by its signal or by shutdown. */
export interface RunCancelledEvent extends EventBase, RunEndWho { readonly type: 'run.cancelled'; readonly error: SerializedError; readonly usage?: UsageTotals }
/** A node began work (after its stage slot and resources were granted). */
export interface NodeStartedEvent extends EventBase { readonly type: 'node.started'; readonly nodeId: string }
/** A node produced its output; `usage`: its model calls' tokens and cost, when it made any (a recovered run counts them). */
export interface NodeCompletedEvent extends EventBase { readonly type: 'node.completed'; readonly nodeId: string; readonly output: unknown; readonly usage?: UsageTotals }
/** A node failed. `handled` when an `onError` edge takes over instead of failing the run. */
export interface NodeFailedEvent extends EventBase { readonly type: 'node.failed'; readonly nodeId: string; readonly error: SerializedError; readonly handled: boolean; readonly usage?: UsageTotals }
/**
 * A node that had started was still running when its run ended (another node failed, the
 * run was cancelled or ran out of time): its signal is aborted and whatever it returns
 * later is ignored. `error` is the reason its signal carries. Recorded before the run's
 * terminal event.
 */
export interface NodeCancelledEvent extends EventBase { readonly type: 'node.cancelled'; readonly nodeId: string; readonly error: SerializedError }
/** A node will not run in this run (route not taken, or a parent skipped). */
export interface NodeSkippedEvent extends EventBase { readonly type: 'node.skipped'; readonly nodeId: string }
/** A node (or its model call) failed transiently and will be tried again after `delayMs`. */
export interface NodeRetryEvent extends EventBase { readonly type: 'node.retry'; readonly nodeId: string; readonly attempt: number; readonly delayMs: number; readonly error: SerializedError; readonly model?: string }
/** An llm node gave up on a model and moved to the next of its fallback chain. */
export interface NodeFallbackEvent extends EventBase { readonly type: 'node.fallback'; readonly nodeId: string; readonly from: string; readonly to: string; readonly reason: SerializedError }
/** A completed node's compensation ran after its run failed. */
export interface NodeCompensatedEvent extends EventBase { readonly type: 'node.compensated'; readonly nodeId: string }
/** A compensation action failed. */
export interface NodeCompensationFailedEvent extends EventBase { readonly type: 'node.compensation_failed'; readonly nodeId: string; readonly error: SerializedError }
/** A node's output was taken from `resume` instead of running it again. */
export interface NodeResumedEvent extends EventBase { readonly type: 'node.resumed'; readonly nodeId: string; readonly output: unknown }

/**
 * Every lifecycle event of a run, discriminated by `type`.
 *
 * @example
 * ```ts
 * engine.events$.subscribe((e) => { if (e.type === 'node.completed') console.log(e.nodeId, e.seq); });
 * ```
 */
export type RunEvent =
  | RunStartedEvent | RunCompletedEvent | RunFailedEvent | RunCancelledEvent
  | NodeStartedEvent | NodeCompletedEvent | NodeFailedEvent | NodeCancelledEvent | NodeSkippedEvent | NodeResumedEvent
  | NodeRetryEvent | NodeFallbackEvent | NodeCompensatedEvent | NodeCompensationFailedEvent;

/**
 * One streamed token of an llm node. Tokens travel on the bus but are not part of
 * a run's `seq`-numbered history (the node's output holds the whole text);
 * `index` orders them within the node, from 0, and starts again after a `node.restart`.
 */
export interface TokenEvent {
  readonly type: 'node.token';
  readonly runId: string;
  readonly topology: string;
  readonly nodeId: string;
  readonly index: number;
  readonly text: string;
  readonly ts: number;
  readonly parentRunId?: string;
}

/** An llm node restarted its call after tokens were emitted; consumers should drop what they saw. */
export interface RestartEvent {
  readonly type: 'node.restart';
  readonly runId: string;
  readonly topology: string;
  readonly nodeId: string;
  readonly reason: string;
  readonly ts: number;
  readonly parentRunId?: string;
}

/**
 * One model call of an llm node ended: each attempt of each model of its fallback chain is one
 * call. On the bus only (not in the run's `seq`-numbered history, never published): what traces
 * (a `gen_ai` client span) and metrics (`gen_ai.client.*`) are made of. `messages` and `text`
 * are references, not copies: telemetry captures them only when asked to, redacted.
 *
 * @example
 * ```ts
 * engine.events$.subscribe((e) => { if (e.type === 'model.call') console.log(e.model, e.ts - e.startTs, e.usage?.outputTokens); });
 * ```
 */
export interface ModelCallEvent extends ModelCall {
  readonly type: 'model.call';
  readonly runId: string;
  readonly topology: string;
  readonly nodeId: string;
  readonly parentRunId?: string;
  /** The run's tenant (RunOptions `tenant`), for cost by tenant. */
  readonly tenant?: string;
  /** The run's user and project (RunOptions `user`, `project`), for cost attribution. */
  readonly user?: string;
  readonly project?: string;
  /** The run's experiment variant (engine with a `loop`). */
  readonly variant?: string;
}

/**
 * A guard decided something about a run, a model call or its output (`createEngine({ guard })`):
 * every refusal, approval wait, rewrite or route, and every allow a named rule made. On the bus
 * only: the audit log records them (`auditEvents`), telemetry counts them.
 *
 * @example
 * ```ts
 * engine.events$.subscribe((e) => { if (e.type === 'policy.decision' && e.action === 'deny') console.log(e.rule, e.error?.message); });
 * ```
 */
export interface PolicyDecisionEvent {
  readonly type: 'policy.decision';
  readonly runId: string;
  readonly topology: string;
  /** What was checked: the run before admission, a model call, a call's output, or a tool call's arguments. */
  readonly stage: 'run' | 'call' | 'output' | 'tool';
  readonly action: 'allow' | 'deny' | 'approval' | 'redact';
  /** The (first) rule that decided; absent for a plain allow of guards without named rules. */
  readonly rule?: string;
  /** Calls, outputs and tool calls: the node, and the model of the chain being called (or the tool). */
  readonly nodeId?: string;
  readonly model?: string;
  readonly tool?: string;
  /** A call routed to another model. */
  readonly routedTo?: string;
  /** The guards changed the request (redacted messages, capped max tokens) or the tool's arguments. */
  readonly requestChanged?: boolean;
  /** Why it was refused. */
  readonly error?: SerializedError;
  readonly tenant?: string;
  readonly user?: string;
  readonly project?: string;
  readonly ts: number;
  readonly parentRunId?: string;
}

/**
 * A durable run parked on a wait node and left this process (on the bus only; its stored log has
 * `run.waiting`). It resumes later, maybe elsewhere, with a new `run.started` in the same trace.
 *
 * @example
 * ```ts
 * engine.events$.subscribe((e) => { if (e.type === 'run.parked') console.log(`${e.runId} waits for ${e.name}`); });
 * ```
 */
export interface RunParkedEvent {
  readonly type: 'run.parked';
  readonly runId: string;
  readonly topology: string;
  /** The wait node. */
  readonly nodeId: string;
  /** The signal it waits for. */
  readonly name: string;
  readonly ts: number;
  /**
   * When the wait ends without a signal, epoch ms: its `timeoutMs`, or the run's deadline when that
   * comes first (the run then fails with TIMEOUT). None when it has neither.
   */
  readonly timeoutAt?: number;
  /** Never set: only top-level runs park (kept for the bus events' common shape). */
  readonly parentRunId?: string;
}

/**
 * Everything on the engine's bus: lifecycle events (with `seq`) and token events.
 *
 * @example
 * ```ts
 * engine.events$.subscribe((e) => { if (e.type === 'node.token') process.stdout.write(e.text); });
 * ```
 */
export type EngineEvent = RunEvent | TokenEvent | RestartEvent | ModelCallEvent | RunParkedEvent | BreakerEvent | LoopEvent | PolicyDecisionEvent;

/** A model's circuit breaker changed state. */
export interface BreakerEvent {
  readonly type: 'breaker.state';
  readonly model: string;
  readonly state: 'closed' | 'open' | 'half-open';
  readonly ts: number;
}

/** The `type` of a {@link RunEvent}. */
export type RunEventType = RunEvent['type'];

/** Numeric codes stored in a run's trace (low 4 bits; the node index sits above). */
export const EV = {
  RUN_STARTED: 0,
  RUN_COMPLETED: 1,
  RUN_FAILED: 2,
  RUN_CANCELLED: 3,
  NODE_STARTED: 4,
  NODE_COMPLETED: 5,
  NODE_FAILED: 6,
  NODE_SKIPPED: 7,
  NODE_RESUMED: 8,
  NODE_RETRY: 9,
  NODE_FALLBACK: 10,
  NODE_COMPENSATED: 11,
  NODE_COMPENSATION_FAILED: 12,
  NODE_CANCELLED: 13,
} as const;

/** Trace code to event type. */
export const EVENT_TYPES: readonly RunEventType[] = [
  'run.started', 'run.completed', 'run.failed', 'run.cancelled',
  'node.started', 'node.completed', 'node.failed', 'node.skipped', 'node.resumed',
  'node.retry', 'node.fallback', 'node.compensated', 'node.compensation_failed', 'node.cancelled',
];
