/**
 * One error hierarchy for the whole engine. Every error carries a stable `code`,
 * a `retriable` flag and an optional `cause`, and has a type guard, so callers
 * branch on data instead of `instanceof` chains across package copies.
 *
 * @example
 * ```ts
 * const result = await engine.run(topology, input);
 * if (result.status === 'failed' && isNodeError(result.error)) {
 *   console.log(result.error.nodeId, result.error.retriable);
 * }
 * ```
 * @module
 */

/**
 * A single validation problem, as data: what kind (`code`), where (`path`) and what (`message`).
 * Codes from zod keep zod's names (`invalid_type`, `too_small`, ...); the engine's own are
 * snake_case too (`cycle`, `missing_dependency`, `unknown_model`, ...).
 *
 * @example
 * ```ts
 * const issue: Issue = { code: 'missing_dependency', path: ['nodes', 2, 'after', 0], message: "depends on missing node 'x'" };
 * ```
 */
export interface Issue {
  /** Machine-readable kind of problem. */
  readonly code: string;
  /** Path of the bad field, e.g. `nodes.2.after.0`. Empty for the whole value. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const MARKER = Symbol.for('llm-orchestrator.error');

/**
 * One brand per error class, registered globally (`Symbol.for`) so type guards work across
 * copies of the package. A subclass carries its own brand and its parents': a guard never
 * looks at `code` (a NodeError wrapping a timeout has code `TIMEOUT` but is no TimeoutError).
 */
const brand = (name: string): symbol => Symbol.for(`llm-orchestrator.${name}`);
const B = {
  validation: brand('ValidationError'),
  topology: brand('TopologyError'),
  node: brand('NodeError'),
  timeout: brand('TimeoutError'),
  cancelled: brand('CancelledError'),
  stopped: brand('StoppedError'),
  retries: brand('RetriesExhaustedError'),
  circuit: brand('CircuitOpenError'),
  rejected: brand('RejectedError'),
  provider: brand('ProviderError'),
  store: brand('StoreError'),
  wait: brand('WaitError'),
  policy: brand('PolicyError'),
} as const;

function mark(e: object, b: symbol): void {
  Object.defineProperty(e, b, { value: true, enumerable: false });
}

function has(e: unknown, b: symbol): boolean {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[b] === true;
}

/** Options shared by every engine error. */
export interface OrchestratorErrorOptions {
  readonly cause?: unknown;
  readonly retriable?: boolean;
}

/**
 * Base class of every error the engine produces.
 *
 * @example
 * ```ts
 * try { await something(); } catch (e) { if (isOrchestratorError(e)) log(e.code, e.retriable); }
 * ```
 */
export class OrchestratorError extends Error {
  /** Stable machine-readable code, e.g. `NODE_FAILED`. */
  readonly code: string;
  /** Whether repeating the same work may succeed. */
  readonly retriable: boolean;
  readonly [MARKER] = true;

  constructor(code: string, message: string, options: OrchestratorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }

  /** Plain, serializable form for events, logs and Kafka. */
  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** Serializable error shape carried by events and run results. */
export interface SerializedError {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly retriable: boolean;
  readonly nodeId?: string;
  readonly issues?: readonly Issue[];
  readonly cause?: SerializedError;
}

/**
 * A definition, input or output failed validation. `issues` names every bad field.
 *
 * @example
 * ```ts
 * if (isValidationError(err)) for (const i of err.issues) console.log(i.path.join('.'), i.message);
 * ```
 */
export class ValidationError extends OrchestratorError {
  readonly issues: readonly Issue[];
  constructor(code: string, what: string, issues: readonly Issue[], options: OrchestratorErrorOptions = {}) {
    super(code, `${what}:\n${formatIssues(issues)}`, options);
    this.issues = issues;
    mark(this, B.validation);
  }
}

/**
 * A topology definition is invalid (cycle, missing dependency, bad cap, ...).
 *
 * @example
 * ```ts
 * const checked = validateTopology(def); // never throws; TopologyError is what `compile` throws
 * ```
 */
export class TopologyError extends ValidationError {
  constructor(name: string, issues: readonly Issue[]) {
    super('TOPOLOGY_INVALID', `Topology '${name}' is invalid`, issues);
    mark(this, B.topology);
  }
}

/**
 * A node of a run failed. `cause` holds what the node threw; `retriable` is copied
 * from the cause when it says so.
 *
 * @example
 * ```ts
 * if (isNodeError(result.error)) console.log(`${result.error.nodeId} failed:`, result.error.cause);
 * ```
 */
export class NodeError extends OrchestratorError {
  readonly nodeId: string;
  constructor(nodeId: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(
      isOrchestratorError(cause) && cause.code !== 'NODE_FAILED' ? cause.code : 'NODE_FAILED',
      `node '${nodeId}' failed: ${msg}`,
      { cause, retriable: retriableOf(cause) },
    );
    this.nodeId = nodeId;
    mark(this, B.node);
  }
}

/**
 * A node or a run ran out of time. Retriable: a later attempt may be faster.
 *
 * @example
 * ```ts
 * if (isTimeoutError(e)) console.log(e.timeoutMs);
 * ```
 */
export class TimeoutError extends OrchestratorError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms`, { retriable: true });
    this.timeoutMs = timeoutMs;
    mark(this, B.timeout);
  }
}

/**
 * A run was cancelled: by its AbortSignal, by engine shutdown, or because another
 * node of the same run failed.
 *
 * @example
 * ```ts
 * controller.abort(); // the run resolves with status 'cancelled' and a CancelledError
 * ```
 */
export class CancelledError extends OrchestratorError {
  constructor(message = 'run cancelled', cause?: unknown) {
    super('CANCELLED', message, cause === undefined ? {} : { cause });
    mark(this, B.cancelled);
  }
}

/**
 * A streaming consumer stopped a producer's generation (`ctx.stop`). The llm
 * operator treats it as a normal end with `finishReason: 'stopped'`.
 *
 * @example
 * ```ts
 * if (isStoppedError(signal.reason)) keepPartialOutput();
 * ```
 */
export class StoppedError extends OrchestratorError {
  constructor(reason: string) {
    super('STOPPED', reason);
    mark(this, B.stopped);
  }
}

/**
 * Retries ran out. `attempts` says how many were made; `cause` is the last failure.
 *
 * @example
 * ```ts
 * if (isRetriesExhaustedError(e)) console.log(`${e.attempts} attempts, last:`, e.cause);
 * ```
 */
export class RetriesExhaustedError extends OrchestratorError {
  readonly attempts: number;
  constructor(what: string, attempts: number, last: unknown, why = 'attempts exhausted') {
    const msg = last instanceof Error ? last.message : String(last);
    super('RETRIES_EXHAUSTED', `${what}: gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} (${why}); last failure: ${msg}`, { cause: last, retriable: false });
    this.attempts = attempts;
    mark(this, B.retries);
  }
}

/**
 * A circuit breaker is open: calls to that model are refused at once until a
 * half-open probe succeeds. Retriable (later), and a reason to fall back now.
 *
 * @example
 * ```ts
 * if (isCircuitOpenError(e)) useFallbackModel();
 * ```
 */
export class CircuitOpenError extends OrchestratorError {
  readonly model: string;
  constructor(model: string, cause?: unknown) {
    super('CIRCUIT_OPEN', `circuit breaker for ${model} is open`, cause === undefined ? { retriable: true } : { retriable: true, cause });
    this.model = model;
    mark(this, B.circuit);
  }
}

/**
 * Work was refused because a bounded queue was full or the engine is shutting down.
 *
 * @example
 * ```ts
 * if (isRejectedError(e)) retryLater();
 * ```
 */
export class RejectedError extends OrchestratorError {
  constructor(code: 'QUEUE_FULL' | 'SHUTTING_DOWN' | 'LOOP_FAILED', message: string, options?: { readonly cause?: unknown }) {
    super(code, message, { retriable: code === 'QUEUE_FULL', ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    mark(this, B.rejected);
  }
}

/**
 * Codes of {@link StoreError}: what went wrong with a run store.
 *
 * @example
 * ```ts
 * const code: StoreErrorCode = 'STORE_UNAVAILABLE';
 * ```
 */
export type StoreErrorCode =
  | 'STORE_UNAVAILABLE' // the server cannot be reached or went away (retriable)
  | 'STORE_CORRUPT' // the file is not a store, or is damaged or truncated
  | 'STORE_TOO_NEW' // written by a newer schema version than this build knows
  | 'STORE_FULL' // the disk (or quota) is full
  | 'STORE_CLOSED' // used after close()
  | 'STORE_INVALID' // a bad store URL or option
  | 'STORE_FAILED' // any other failure of the database
  | 'RUN_EXISTS' // createRun with a taken id
  | 'RUN_NOT_FOUND' // append or a query named an unknown run
  | 'SEQ_CONFLICT' // an event's seq is already taken (two writers on one run)
  | 'LEASE_LOST' // another process took the lease of a run this process was running
  | 'TOPOLOGY_CHANGED'; // a stored run's topology version is not registered with the engine

/**
 * A run store failed. `retriable` when trying again may succeed (a server that went away);
 * `cause` holds the driver's own error.
 *
 * @example
 * ```ts
 * if (isStoreError(e) && e.code === 'STORE_TOO_NEW') console.error('upgrade llmo to read this store');
 * ```
 */
export class StoreError extends OrchestratorError {
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options: OrchestratorErrorOptions = {}) {
    super(code, message, { retriable: options.retriable ?? code === 'STORE_UNAVAILABLE', cause: options.cause });
    mark(this, B.store);
  }
}

/** Where a provider failure came from. */
export interface ProviderErrorDetails {
  readonly provider: string;
  readonly model: string;
  /** HTTP status, when the failure was an HTTP response. */
  readonly status?: number;
  /** How long the provider asked us to wait before trying again. */
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  readonly cause?: unknown;
}

/**
 * Codes of {@link WaitError}.
 *
 * @example
 * ```ts
 * const code: WaitErrorCode = 'WAIT_TIMEOUT';
 * ```
 */
export type WaitErrorCode =
  | 'WAIT_TIMEOUT' // a wait node's timeoutMs passed before its signal arrived
  | 'RUN_NOT_WAITING' // engine.signal named a run that is not parked on a wait (unknown in memory, running or ended)
  | 'WAIT_NAME_MISMATCH' // engine.signal named another wait than the one the run is parked on
  | 'RUN_PARKED'; // the `error` of a waiting result: the run is parked on a wait, not done

/**
 * A wait for a person or an event went wrong: it timed out (the wait node fails with it,
 * or its `onError` edge takes over), or a signal named a run or wait that is not waiting.
 *
 * @example
 * ```ts
 * if (isWaitError(e) && e.code === 'RUN_NOT_WAITING') console.error('already approved?');
 * ```
 */
export class WaitError extends OrchestratorError {
  declare readonly code: WaitErrorCode;
  constructor(code: WaitErrorCode, message: string, options: OrchestratorErrorOptions = {}) {
    super(code, message, options);
    mark(this, B.wait);
  }
}

/** True for {@link WaitError}. */
export function isWaitError(e: unknown): e is WaitError {
  return has(e, B.wait);
}

/**
 * Codes of {@link PolicyError}.
 *
 * @example
 * ```ts
 * const code: PolicyErrorCode = 'BUDGET_EXCEEDED';
 * ```
 */
export type PolicyErrorCode =
  | 'POLICY_DENIED' // a rule refused the run, the call or its output (or a person refused an approval)
  | 'POLICY_FAILED' // a rule or guard threw while checking: refused (fail-closed)
  | 'BUDGET_EXCEEDED' // the call would spend (or spent, mid-stream) more than the budget has left
  | 'QUOTA_EXCEEDED' // a runs/calls/tokens quota of the period is used up
  | 'CONCURRENCY_LIMIT'; // the tenant already has its most runs in flight (retriable)

/** Options of a {@link PolicyError}. */
export interface PolicyErrorOptions extends OrchestratorErrorOptions {
  /** The rule that refused. */
  readonly rule?: string | undefined;
  /** A call cut mid-stream: the text it streamed before the cut. */
  readonly partial?: string | undefined;
}

/**
 * A governance rule refused a run, a model call or an output, or a budget or quota ran out.
 * Never retried by the engine (a fallback chain does not take over either): the same call
 * would be refused again. `rule` names the rule; a call cut mid-stream keeps its `partial` text.
 *
 * @example
 * ```ts
 * if (isPolicyError(e) && e.code === 'BUDGET_EXCEEDED') console.log(e.rule, e.partial);
 * ```
 */
export class PolicyError extends OrchestratorError {
  declare readonly code: PolicyErrorCode;
  readonly rule: string | undefined;
  readonly partial: string | undefined;
  constructor(code: PolicyErrorCode, message: string, options: PolicyErrorOptions = {}) {
    super(code, message, { retriable: options.retriable ?? code === 'CONCURRENCY_LIMIT', cause: options.cause });
    this.rule = options.rule;
    this.partial = options.partial;
    mark(this, B.policy);
  }
}

/** True for {@link PolicyError}. */
export function isPolicyError(e: unknown): e is PolicyError {
  return has(e, B.policy);
}

/**
 * An LLM provider call failed. `code` and `retriable` come from one table
 * (see `classifyFailure`): 429 rate limits, 5xx, 529, timeouts and cut streams
 * are retriable; 4xx, exhausted quota, context length and content filters are not.
 *
 * @example
 * ```ts
 * if (isProviderError(e) && e.retriable) await sleep(e.retryAfterMs ?? 1000);
 * ```
 */
export class ProviderError extends OrchestratorError {
  readonly provider: string;
  readonly model: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;
  constructor(code: string, message: string, retriable: boolean, details: ProviderErrorDetails) {
    super(code, `${details.provider}:${details.model}: ${message}`, details.cause === undefined ? { retriable } : { retriable, cause: details.cause });
    this.provider = details.provider;
    this.model = details.model;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.requestId = details.requestId;
    mark(this, B.provider);
  }
}

/** True for any error produced by this engine. */
export function isOrchestratorError(e: unknown): e is OrchestratorError {
  return typeof e === 'object' && e !== null && (e as { [MARKER]?: unknown })[MARKER] === true;
}
/** True for {@link ValidationError} (and {@link TopologyError}). */
export function isValidationError(e: unknown): e is ValidationError {
  return has(e, B.validation);
}
/** True for {@link TopologyError}. */
export function isTopologyError(e: unknown): e is TopologyError {
  return has(e, B.topology);
}
/** True for {@link NodeError}. */
export function isNodeError(e: unknown): e is NodeError {
  return has(e, B.node);
}
/** True for {@link TimeoutError} (not for a NodeError whose cause is one: look at `cause`). */
export function isTimeoutError(e: unknown): e is TimeoutError {
  return has(e, B.timeout);
}
/** True for {@link CancelledError}. */
export function isCancelledError(e: unknown): e is CancelledError {
  return has(e, B.cancelled);
}
/** True for {@link StoppedError}. */
export function isStoppedError(e: unknown): e is StoppedError {
  return has(e, B.stopped);
}
/** True for {@link RetriesExhaustedError}. */
export function isRetriesExhaustedError(e: unknown): e is RetriesExhaustedError {
  return has(e, B.retries);
}
/** True for {@link CircuitOpenError}. */
export function isCircuitOpenError(e: unknown): e is CircuitOpenError {
  return has(e, B.circuit);
}
/** True for {@link RejectedError}. */
export function isRejectedError(e: unknown): e is RejectedError {
  return has(e, B.rejected);
}
/** True for {@link ProviderError}. */
export function isStoreError(e: unknown): e is StoreError {
  return has(e, B.store);
}

export function isProviderError(e: unknown): e is ProviderError {
  return has(e, B.provider);
}

/** Whether an arbitrary thrown value says it may be retried (`retriable: true`). */
export function retriableOf(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { retriable?: unknown }).retriable === true;
}

/**
 * Converts zod issues (optionally under a path prefix) to engine issues, keeping zod's codes.
 *
 * @example
 * ```ts
 * const r = schema.safeParse(value);
 * if (!r.success) return toIssues(r.error.issues, ['input']);
 * ```
 */
export function toIssues(
  issues: readonly { readonly code: string; readonly path: readonly PropertyKey[]; readonly message: string }[],
  prefix: readonly (string | number)[] = [],
): Issue[] {
  return issues.map((i) => ({
    code: i.code,
    path: [...prefix, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))],
    message: i.message,
  }));
}

/** Renders issues one per line as `path: message`. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `  - ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
}

/** Converts any thrown value into the plain {@link SerializedError} shape. */
export function serializeError(e: unknown, depth = 0): SerializedError {
  if (!(e instanceof Error)) {
    return { name: 'Error', code: 'UNKNOWN', message: String(e), retriable: false };
  }
  const o = e as Partial<OrchestratorError & NodeError & ValidationError>;
  const base: {
    name: string; code: string; message: string; retriable: boolean;
    nodeId?: string; issues?: readonly Issue[]; cause?: SerializedError;
  } = {
    name: e.name,
    code: typeof o.code === 'string' ? o.code : 'UNKNOWN',
    message: e.message,
    retriable: retriableOf(e),
  };
  if (typeof o.nodeId === 'string') base.nodeId = o.nodeId;
  if (Array.isArray(o.issues)) base.issues = o.issues;
  if (e.cause !== undefined && depth < 4) base.cause = serializeError(e.cause, depth + 1);
  return base;
}
