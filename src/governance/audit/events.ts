/**
 * Engine events as audit records: every run start and end (with its usage totals), every
 * model call (model, provider, usage, cost, outcome, user and project; with `capture`, the prompt
 * messages and the completion text, redacted by the log) and every policy decision the engine's
 * guards made (`policy.decision`: stage, action, rule, node, model, route, refusal; never the
 * request itself). Streams: a record goes to its tenant's stream when the tenant is known, else
 * to `global`. Every audited event carries the run's tenant and user (RunOptions `tenant`, `user`;
 * `model.call` and `policy.decision` its project too), whichever process started, recovered or
 * resumed the run; `tenantOf(runId)` and `userOf(runId)` name them for events from engines that did
 * not record them (earlier releases' events). Appends that fail are counted
 * in the log's health and passed to `onError`; none is dropped silently.
 * @module
 */
import type { Observable, Subscription } from 'rxjs';
import * as z from 'zod';
import { ValidationError, toIssues, type SerializedError } from '../../errors.ts';
import type { EngineEvent, ModelCallEvent, PolicyDecisionEvent, RunEvent } from '../../runtime/events.ts';
import type { AuditEntry, AuditLog } from './types.ts';

const isFunction = (v: unknown): boolean => typeof v === 'function';

/**
 * zod schema of {@link AuditEventsOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * AuditEventsOptionsSchema.parse({ actor: 'worker-1', capture: true });
 * ```
 */
export const AuditEventsOptionsSchema = z.strictObject({
  /** Who the records name as actor (default `engine`): a worker or service id. */
  actor: z.string().min(1).optional(),
  /** Record prompt messages, completion text and run outputs too (default false). The log redacts them unless its `redact` is off. */
  capture: z.boolean().optional(),
  /** The tenant of a run, for events that carry none (the engine's carry it). */
  tenantOf: z.custom<(runId: string) => string | undefined>(isFunction, 'expected a function (runId) => tenant').optional(),
  /** The user of a run, for events that carry none (the engine's carry it). */
  userOf: z.custom<(runId: string) => string | undefined>(isFunction, 'expected a function (runId) => user').optional(),
  /** Called with each failed append (the log's health counts them too). */
  onError: z.custom<(error: unknown) => void>(isFunction, 'expected a function (error) => void').optional(),
});

/**
 * Options of {@link auditEvents}.
 *
 * @example
 * ```ts
 * const options: AuditEventsOptions = { actor: 'worker-1', tenantOf: (runId) => tenants.get(runId) };
 * ```
 */
export type AuditEventsOptions = Readonly<z.input<typeof AuditEventsOptionsSchema>>;

type Audited = Extract<EngineEvent, { type: 'run.started' | 'run.completed' | 'run.failed' | 'run.cancelled' | 'model.call' | 'policy.decision' }>;
const AUDITED: ReadonlySet<string> = new Set<Audited['type']>(['run.started', 'run.completed', 'run.failed', 'run.cancelled', 'model.call', 'policy.decision']);
const isAudited = (e: EngineEvent): e is Audited => AUDITED.has(e.type);

const errorOf = (e: SerializedError): Record<string, unknown> => ({ code: e.code, message: e.message, ...(e.nodeId === undefined ? {} : { nodeId: e.nodeId }) });

type RunEnd = Extract<RunEvent, { type: 'run.completed' | 'run.failed' | 'run.cancelled' }>;

/**
 * The audit entry of an engine event, or `undefined` for events the audit log does not record
 * (node events, tokens, breaker and loop events). `policy.decision` becomes action `policy.decision`.
 *
 * @example
 * ```ts
 * const entry = auditEntryOf(event, { actor: 'worker-1' });
 * if (entry !== undefined) await log.append(entry);
 * ```
 */
export function auditEntryOf(e: EngineEvent, options: AuditEventsOptions = {}): AuditEntry | undefined {
  const actor = options.actor ?? 'engine';
  const common = (runId: string, topology: string, tenant: string | undefined, known?: string): AuditEntry => {
    const user = known ?? options.userOf?.(runId);
    return { actor, ts: e.ts, runId, topology, tenant: tenant ?? null, ...(user === undefined ? {} : { user }), action: e.type };
  };
  switch (e.type) {
    case 'run.started':
      return {
        ...common(e.runId, e.topology, e.tenant ?? options.tenantOf?.(e.runId), e.user),
        details: { priority: e.priority, ...runExtras(e) },
      };
    case 'run.completed':
    case 'run.failed':
    case 'run.cancelled':
      return { ...common(e.runId, e.topology, e.tenant ?? options.tenantOf?.(e.runId), e.user), details: runEndDetails(e, options.capture === true) };
    case 'model.call':
      return { ...common(e.runId, e.topology, e.tenant ?? options.tenantOf?.(e.runId), e.user), details: modelCallDetails(e, options.capture === true) };
    case 'policy.decision':
      return { ...common(e.runId, e.topology, e.tenant ?? options.tenantOf?.(e.runId), e.user), details: policyDetails(e) };
    default:
      return undefined;
  }
}

function runExtras(e: RunEvent): Record<string, unknown> {
  return {
    ...(e.parentRunId === undefined ? {} : { parentRunId: e.parentRunId }),
    ...(e.variant === undefined ? {} : { variant: e.variant }),
    ...(e.policyVersion === undefined ? {} : { policyVersion: e.policyVersion }),
  };
}

function runEndDetails(e: RunEnd, capture: boolean): Record<string, unknown> {
  return {
    ...runExtras(e),
    ...(e.usage === undefined ? {} : { usage: { ...e.usage } }),
    ...(e.type === 'run.completed' ? (capture ? { output: JSON.parse(JSON.stringify(e.output ?? null)) as unknown } : {}) : { error: errorOf(e.error) }),
  };
}

function policyDetails(e: PolicyDecisionEvent): Record<string, unknown> {
  return {
    stage: e.stage,
    action: e.action,
    ...(e.rule === undefined ? {} : { rule: e.rule }),
    ...(e.nodeId === undefined ? {} : { nodeId: e.nodeId }),
    ...(e.model === undefined ? {} : { model: e.model }),
    ...(e.routedTo === undefined ? {} : { routedTo: e.routedTo }),
    ...(e.requestChanged === undefined ? {} : { requestChanged: e.requestChanged }),
    ...(e.error === undefined ? {} : { error: errorOf(e.error) }),
    ...(e.project === undefined ? {} : { project: e.project }),
    ...(e.parentRunId === undefined ? {} : { parentRunId: e.parentRunId }),
  };
}

function modelCallDetails(e: ModelCallEvent, capture: boolean): Record<string, unknown> {
  const r = e.request;
  return {
    nodeId: e.nodeId,
    ...(e.project === undefined ? {} : { project: e.project }),
    provider: e.provider,
    model: e.model,
    ...(e.responseModel === undefined ? {} : { responseModel: e.responseModel }),
    ...(e.responseId === undefined ? {} : { responseId: e.responseId }),
    attempt: e.attempt,
    startTs: e.startTs,
    ...(e.parentRunId === undefined ? {} : { parentRunId: e.parentRunId }),
    ...(e.variant === undefined ? {} : { variant: e.variant }),
    request: {
      model: r.model,
      ...(r.temperature === undefined ? {} : { temperature: r.temperature }),
      ...(r.maxTokens === undefined ? {} : { maxTokens: r.maxTokens }),
      ...(r.json === undefined ? {} : { json: r.json }),
      ...(r.tools === undefined ? {} : { tools: r.tools.map((t) => t.name) }),
      ...(capture ? { messages: JSON.parse(JSON.stringify(r.messages)) as unknown } : {}),
    },
    ...(e.usage === undefined ? {} : { usage: { ...e.usage } }),
    costUsd: e.costUsd,
    ...(e.finishReason === undefined ? {} : { finishReason: e.finishReason }),
    ...(e.error === undefined ? {} : { error: errorOf(e.error) }),
    ...(capture ? { text: e.text } : {}),
  };
}

/**
 * Appends an audit record for each run start and end, model call and policy decision on `events$` (see the
 * module doc). Unsubscribe to stop; `log.flush()` waits for what was appended. Invalid options
 * throw a `ValidationError` (`OPTIONS_INVALID`) naming the field.
 *
 * @example
 * ```ts
 * const log = createAuditLog({ sink: createKafkaAuditSink(transport) });
 * const sub = auditEvents(engine.events$, log, { actor: 'worker-1' });
 * ```
 */
export function auditEvents(events$: Observable<EngineEvent>, log: AuditLog, options: AuditEventsOptions = {}): Subscription {
  const parsed = AuditEventsOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'audit events options are invalid', toIssues(parsed.error.issues, ['options']));
  const failed = (err: unknown): void => options.onError?.(err);
  return events$.subscribe((e) => {
    if (!isAudited(e)) return;
    let entry: AuditEntry | undefined;
    try {
      entry = auditEntryOf(e, options);
    } catch (err) {
      // a callback that throws, an output JSON cannot carry: the event is still audited, with why its particulars are not
      failed(err);
      entry = { actor: options.actor ?? 'engine', action: e.type, ts: e.ts, runId: e.runId, topology: e.topology, details: { auditError: err instanceof Error ? err.message : String(err) } };
    }
    if (entry === undefined) return;
    log.append(entry).catch(failed); // a sink failure is counted in log.health() too
  });
}
