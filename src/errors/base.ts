/**
 * The base of the error hierarchy: the {@link Issue} shape, {@link OrchestratorError} (stable
 * `code`, `retriable`, `cause`), the validation errors built from issues, and the helpers that
 * turn issues and thrown values into plain data ({@link toIssues}, {@link serializeError}).
 *
 * @example
 * ```ts
 * try { await something(); } catch (e) { if (isOrchestratorError(e)) log(serializeError(e)); }
 * ```
 * @module
 */

import { B, MARKER, has, mark } from './brand.ts';

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
  // `nodeId` is NodeError's (errors/run.ts); spelled out here so this module imports none of its subclasses.
  const o = e as Partial<OrchestratorError & { readonly nodeId: string } & ValidationError>;
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
